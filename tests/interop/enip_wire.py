"""One-line descriptions of EtherNet/IP encapsulation messages, for capture files and logs.

`describe(message, is_reply)` names the encapsulation command, and for SendRRData/SendUnitData
the CIP service, its path and (replies) its status, looking inside Unconnected Send and Multiple
Service Packet. It never raises: a message it cannot follow is described as far as it goes.
"""

import struct

COMMANDS = {
    0x0004: "ListServices", 0x0063: "ListIdentity", 0x0064: "ListInterfaces",
    0x0065: "RegisterSession", 0x0066: "UnRegisterSession", 0x006F: "SendRRData",
    0x0070: "SendUnitData",
}
SERVICES = {
    0x01: "Get_Attributes_All", 0x03: "Get_Attribute_List", 0x04: "Set_Attribute_List",
    0x0A: "Multiple_Service_Packet", 0x0E: "Get_Attribute_Single", 0x4C: "Read_Tag",
    0x4D: "Write_Tag", 0x4E: "Read_Modify_Write", 0x52: "Read_Tag_Fragmented",
    0x53: "Write_Tag_Fragmented", 0x54: "Forward_Open", 0x55: "Get_Instance_Attribute_List",
    0x5B: "Large_Forward_Open",
}
# Services whose meaning depends on the class: on the Connection Manager (class 0x06).
CONNECTION_MANAGER = {0x4E: "Forward_Close", 0x52: "Unconnected_Send"}


def path_text(path):
    """Renders an EPATH: port segments, logical segments (@class/instance/attribute[member])
    and symbolic segments ("Name")."""
    out, i = [], 0
    while i < len(path):
        seg = path[i]
        if seg == 0x91:
            n = path[i + 1]
            out.append('"' + path[i + 2:i + 2 + n].decode("latin-1") + '"')
            i += 2 + n + (n & 1)
        elif seg & 0xE0 == 0x00 and seg & 0x0F:
            if seg & 0x10:
                n = path[i + 1]
                out.append(f"port{seg & 0x0F}:{path[i + 2:i + 2 + n].decode('latin-1')}")
                i += 2 + n + (n & 1)
            else:
                out.append(f"port{seg & 0x0F}:{path[i + 1]}")
                i += 2
        elif seg & 0xE0 == 0x20:
            kind = {0x00: "class", 0x04: "instance", 0x08: "member", 0x0C: "connpoint",
                    0x10: "attribute"}.get(seg & 0x1C, f"logical{seg:02x}")
            fmt = seg & 0x03
            if fmt == 0:
                value, i = path[i + 1], i + 2
            elif fmt == 1:
                value, i = struct.unpack_from("<H", path, i + 2)[0], i + 4
            elif fmt == 2:
                value, i = struct.unpack_from("<I", path, i + 2)[0], i + 6
            else:
                out.append(f"?{seg:02x}")
                break
            if kind == "member":  # Logix uses the member id segment as an array index
                out.append(f"[{value}]")
            elif kind == "class":
                out.append(f"class=0x{value:x}")
            else:
                out.append(f"{kind}={value}")
        else:
            out.append(f"?{path[i:].hex()}")
            break
    return " ".join(out)


def cip_request(msg):
    service = msg[0]
    words = msg[1]
    path = msg[2:2 + 2 * words]
    rest = msg[2 + 2 * words:]
    text = path_text(path)
    on_cm = path[:4] == b"\x20\x06\x24\x01"
    name = (CONNECTION_MANAGER.get(service) if on_cm else None) or SERVICES.get(
        service, f"service 0x{service:02x}")
    head = f"{name} (0x{service:02x}) path [{text}]"
    if on_cm and service == 0x52 and len(rest) >= 4:
        (size,) = struct.unpack_from("<H", rest, 2)
        inner = rest[4:4 + size]
        route = rest[4 + size + (size & 1):]
        route_text = path_text(route[2:2 + 2 * route[0]]) if route else ""
        return f"{head} route [{route_text}] carrying: {cip_request(inner)}"
    if service == 0x0A and len(rest) >= 2:
        (count,) = struct.unpack_from("<H", rest, 0)
        offsets = struct.unpack_from(f"<{count}H", rest, 2)
        parts = []
        for k, off in enumerate(offsets):
            end = offsets[k + 1] if k + 1 < count else len(rest)
            parts.append(cip_request(rest[off:end]))
        return f"{head} {count} services: " + "; ".join(parts)
    if service == 0x4C and path[:2] == b"\x20\x6c" and len(rest) >= 6:
        offset, count = struct.unpack_from("<IH", rest, 0)
        return f"{head} (template read) offset {offset} bytes {count}"
    if service in (0x4C, 0x52) and not on_cm and len(rest) >= 2:
        extra = f" offset {struct.unpack_from('<I', rest, 2)[0]}" if len(rest) >= 6 else ""
        return f"{head} elements {struct.unpack_from('<H', rest, 0)[0]}{extra}"
    if service in (0x4D, 0x53) and len(rest) >= 4:
        t = rest[0]
        k = 4 if t == 0xA0 else 2
        count = struct.unpack_from("<H", rest, k)[0]
        extra = f" offset {struct.unpack_from('<I', rest, k + 2)[0]}" if service == 0x53 else ""
        return f"{head} type 0x{rest[:k].hex()} elements {count}{extra}"
    if service in (0x54, 0x5B) and on_cm:
        large = service == 0x5B
        fmt = "<BBIIHHIB3xIIIIB" if large else "<BBIIHHIB3xIHIHB"
        fields = struct.unpack_from(fmt, rest, 0)
        (_, _, ot_id, to_id, serial, vendor, orig, mult, ot_rpi, ot_p, to_rpi, to_p, trig) = fields
        size_mask = 0xFFFF if large else 0x1FF
        tail = rest[struct.calcsize(fmt):]
        conn_path = path_text(tail[1:1 + 2 * tail[0]]) if tail else ""
        return (f"{head} O->T id 0x{ot_id:08x} T->O id 0x{to_id:08x} serial 0x{serial:04x} "
                f"vendor 0x{vendor:04x} originator serial 0x{orig:08x} multiplier {mult} "
                f"O->T RPI {ot_rpi} us params 0x{ot_p:x} (size {ot_p & size_mask}) "
                f"T->O RPI {to_rpi} us params 0x{to_p:x} (size {to_p & size_mask}) "
                f"trigger 0x{trig:02x} connection path [{conn_path}]")
    if rest:
        return f"{head} data {rest[:48].hex()}{'...' if len(rest) > 48 else ''}"
    return head


def cip_reply(msg):
    service = msg[0] & 0x7F
    status = msg[2]
    ext_words = msg[3]
    ext = msg[4:4 + 2 * ext_words]
    data = msg[4 + 2 * ext_words:]
    name = SERVICES.get(service, f"service 0x{service:02x}")
    text = f"reply to 0x{service:02x} ({name} or the Connection Manager's) status 0x{status:02x}"
    if ext:
        text += f" extended {ext.hex()}"
    if service == 0x0A and status in (0x00, 0x1E) and len(data) >= 2:
        (count,) = struct.unpack_from("<H", data, 0)
        offsets = struct.unpack_from(f"<{count}H", data, 2)
        parts = []
        for k, off in enumerate(offsets):
            end = offsets[k + 1] if k + 1 < count else len(data)
            parts.append(cip_reply(data[off:end]))
        return f"{text} {count} replies: " + "; ".join(parts)
    if data:
        text += f" data ({len(data)} bytes) {data[:32].hex()}{'...' if len(data) > 32 else ''}"
    return text


def describe(message, is_reply):
    try:
        command, length, session, status = struct.unpack_from("<HHII", message, 0)
        name = COMMANDS.get(command, f"command 0x{command:04x}")
        head = f"{name} session 0x{session:08x}"
        if status:
            head += f" encapsulation status 0x{status:x}"
        body = message[24:24 + length]
        if command not in (0x6F, 0x70) or len(body) < 8:
            if command == 0x63 and is_reply and len(body) > 2:
                return f"{head} ({struct.unpack_from('<H', body, 0)[0]} item(s), {len(body)} bytes)"
            return head + (f" data {body.hex()}" if body else "")
        (count,) = struct.unpack_from("<H", body, 6)
        i, items = 8, []
        for _ in range(count):
            kind, n = struct.unpack_from("<HH", body, i)
            items.append((kind, body[i + 4:i + 4 + n]))
            i += 4 + n
        text = head
        for kind, data in items:
            if kind == 0xA1:
                text += f" connection 0x{struct.unpack_from('<I', data, 0)[0]:08x}"
            elif kind == 0xB1:
                seq = struct.unpack_from("<H", data, 0)[0]
                cip = data[2:]
                text += f" seq {seq}: " + (cip_reply(cip) if is_reply else cip_request(cip))
            elif kind == 0xB2:
                text += ": " + (cip_reply(data) if is_reply else cip_request(data))
        return text
    except Exception as err:  # a description must never stop a capture
        return f"(undecodable: {type(err).__name__} {err})"
