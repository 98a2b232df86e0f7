"""A small Logix-like EtherNet/IP server in Python: the executable form of captures/README.md.

    python tests/interop/enip_mock_server.py [--bind ADDR:PORT] [--revision MAJOR.MINOR] NAME=TYPE[N] ...

Same command line as the Rust `enip_server` example. It answers exactly what the README says a
server must answer for pylogix 1.1.6 and pycomm3 1.2.16 (ListIdentity over UDP and TCP, sessions,
Forward Open / Large Forward Open, Unconnected Send, Read/Write Tag (Fragmented), Read Modify
Write, Multiple Service Packet, the Symbol class tag list, the STRING template, the Identity and
program-name objects). It exists to check the interop scripts and the README against both
libraries without the Rust server; it is not a product and handles one client at a time per
thread with no limits beyond what the tests need.

On SIGTERM/SIGINT it prints `requests N` (encapsulation requests received over TCP) and exits.
"""

import argparse
import os
import signal
import socket
import socketserver
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enip_common  # noqa: E402

STRING_HANDLE = 0x0FCE  # template instance and structure handle of the predefined STRING
STRING_SIZE = 88
UNCONNECTED_LIMIT = 504  # reply bytes an unconnected (SendRRData) CIP reply may carry

# General status codes.
OK, PATH_SEGMENT_ERROR, PATH_UNKNOWN, PARTIAL, SERVICE_UNSUPPORTED = 0x00, 0x04, 0x05, 0x06, 0x08
NOT_ENOUGH_DATA, ATTRIBUTE_UNSUPPORTED, TOO_MUCH_DATA, EMBEDDED_ERROR = 0x13, 0x14, 0x15, 0x1E
GENERAL_ERROR = 0xFF
# Logix extended status (with GENERAL_ERROR).
BEYOND_END, TYPE_MISMATCH = 0x2105, 0x2107


class Embedded(bytes):
    """The reply of a request carried by Unconnected Send: sent as is, not wrapped."""


class CipError(Exception):
    def __init__(self, status, extended=None):
        super().__init__(status)
        self.status = status
        self.extended = extended


class TagStore:
    """Tags by name and by instance id (1-based, in command-line order)."""

    def __init__(self, specs):
        self.tags = []
        self.by_name = {}
        for text in specs:
            t = enip_common.parse_spec(text)
            t.instance = len(self.tags) + 1
            if t.type == "STRING":
                t.code, t.elem_size = 0xA0, STRING_SIZE
                t.elements = t.count or 1
            elif t.is_bool_array:
                t.code, t.elem_size = 0xD3, 4
                t.elements = t.count // 32
            else:
                t.code, t.elem_size, _ = enip_common.ATOMIC[t.type]
                t.elements = t.count or 1
            t.data = bytearray(t.elements * t.elem_size)
            self.tags.append(t)
            self.by_name[t.name.lower()] = t
        self.lock = threading.Lock()

    def symbol_type(self, t):
        dims = 1 if t.count is not None else 0
        code = (0x8000 | STRING_HANDLE) if t.type == "STRING" else t.code
        return code | (dims << 13)

    def dimension(self, t):
        return t.elements if t.count is not None else 0


def parse_tag_path(store, path):
    """(tag, first element) from a request path: symbolic or Symbol-class instance, then
    optional element segments. Raises CipError(0x04) for anything else."""
    i, tag, index = 0, None, []
    if path[:1] == b"\x91":
        n = path[1]
        name = path[2:2 + n].decode("latin-1")
        i = 2 + n + (n & 1)
        tag = store.by_name.get(name.lower())
    elif path[:2] == b"\x20\x6b":
        i = 2
        if path[i] == 0x24:
            inst, i = path[i + 1], i + 2
        elif path[i] == 0x25:
            inst, i = struct.unpack_from("<H", path, i + 2)[0], i + 4
        else:
            raise CipError(PATH_SEGMENT_ERROR)
        tag = store.tags[inst - 1] if 1 <= inst <= len(store.tags) else None
    if tag is None:
        raise CipError(PATH_SEGMENT_ERROR)
    while i < len(path):
        seg = path[i]
        if seg == 0x28:
            index.append(path[i + 1])
            i += 2
        elif seg == 0x29:
            index.append(struct.unpack_from("<H", path, i + 2)[0])
            i += 4
        elif seg == 0x2A:
            index.append(struct.unpack_from("<I", path, i + 2)[0])
            i += 6
        else:
            raise CipError(PATH_SEGMENT_ERROR)  # members of atomic tags, program scope, ...
    if len(index) > 1:
        raise CipError(PATH_SEGMENT_ERROR)
    first = index[0] if index else 0
    if first >= tag.elements:
        raise CipError(PATH_UNKNOWN)
    return tag, first


def type_header(tag):
    if tag.type == "STRING":
        return struct.pack("<BBH", 0xA0, 0x02, STRING_HANDLE)
    return struct.pack("<BB", tag.code, 0)


class Server:
    def __init__(self, store, revision, port):
        self.store = store
        self.revision = revision
        self.port = port
        self.requests = 0
        self.next_connection = 0x10000000
        self.local = threading.local()  # the Forward Open just answered, per client thread

    # ---- identity -------------------------------------------------------------------------

    def identity_attributes(self):
        name = b"1756-L85E/B PTK"
        return (struct.pack("<HHHBBHI", 1, 0x0E, 0x0096, self.revision[0], self.revision[1],
                            0x3060, 0x00C0FFEE) + bytes([len(name)]) + name)

    def list_identity_item(self, address):
        sockaddr = struct.pack(">HHI8x", 2, self.port, int.from_bytes(
            socket.inet_aton(address), "big"))
        body = struct.pack("<H", 1) + sockaddr + self.identity_attributes() + b"\x03"
        return struct.pack("<HHH", 1, 0x0C, len(body)) + body

    # ---- CIP ------------------------------------------------------------------------------

    def cip(self, msg, conn):
        """Executes one CIP request; returns the reply bytes."""
        service, words = msg[0], msg[1]
        path = msg[2:2 + 2 * words]
        data = msg[2 + 2 * words:]
        try:
            body = self.dispatch(service, path, data, conn)
            if isinstance(body, Embedded):
                return bytes(body)
            if isinstance(body, tuple):  # (status, data) for partial transfers
                status, body = body
            else:
                status = OK
            return bytes([service | 0x80, 0, status, 0]) + body
        except CipError as err:
            ext = b"" if err.extended is None else struct.pack("<H", err.extended)
            return bytes([service | 0x80, 0, err.status, len(ext) // 2]) + ext
        except (IndexError, struct.error):
            return bytes([service | 0x80, 0, NOT_ENOUGH_DATA, 0])

    def dispatch(self, service, path, data, conn):
        limit = conn["size"] - 8 if conn else UNCONNECTED_LIMIT
        if path == b"\x20\x06\x24\x01":
            return self.connection_manager(service, data, conn)
        if path == b"\x20\x02\x24\x01" and service == 0x0A:
            return self.multiple(data, conn, limit)
        if path == b"\x20\x01\x24\x01" and service == 0x01:
            return self.identity_attributes() + b"\x03"  # + state: pylogix reads the last byte
        if path == b"\x20\x64\x24\x01" and service == 0x01:
            name = b"PTK_MOCK"
            return struct.pack("<H", len(name)) + name
        if path[:2] == b"\x20\x6b" and service == 0x55:
            return self.instance_attribute_list(path, data, limit)
        if path[:2] == b"\x20\x6c":
            return self.template(service, path, data)
        if service in (0x4C, 0x52):
            return self.read(service, path, data, limit)
        if service in (0x4D, 0x53):
            return self.write(service, path, data)
        if service == 0x4E:
            return self.read_modify_write(path, data)
        raise CipError(SERVICE_UNSUPPORTED)

    def connection_manager(self, service, data, conn):
        if service in (0x54, 0x5B):
            large = service == 0x5B
            fmt = "<BBIIHHIB3xIIIIB" if large else "<BBIIHHIB3xIHIHB"
            (_, _, _, to_id, serial, vendor, orig, _, ot_rpi, ot_p, to_rpi, to_p, _) = \
                struct.unpack_from(fmt, data, 0)
            tail = data[struct.calcsize(fmt):]
            conn_path = tail[1:1 + 2 * tail[0]]
            if conn_path not in (b"\x01\x00\x20\x02\x24\x01", b"\x20\x02\x24\x01"):
                raise CipError(0x01, 0x0315)  # connection failure: invalid segment in path
            mask = 0xFFFF if large else 0x1FF
            self.next_connection += 1
            self.local.pending = {"ot": self.next_connection, "to": to_id,
                            "size": min(to_p & mask, 4002), "key": (serial, vendor, orig)}
            return struct.pack("<IIHHIIIBB", self.next_connection, to_id, serial, vendor, orig,
                               ot_rpi, to_rpi, 0, 0)
        if service == 0x4E:
            serial, vendor, orig = struct.unpack_from("<HHI", data, 2)
            self.closed = (serial, vendor, orig)
            return struct.pack("<HHIBB", serial, vendor, orig, 0, 0)
        if service == 0x52:
            size = struct.unpack_from("<H", data, 2)[0]
            inner = data[4:4 + size]
            route = data[4 + size + (size & 1):]
            route_path = route[2:2 + 2 * route[0]]
            if route_path not in (b"\x01\x00", b""):
                raise CipError(0x01, 0x0311)  # connection failure: invalid port
            return Embedded(self.cip(inner, None))
        raise CipError(SERVICE_UNSUPPORTED)

    def multiple(self, data, conn, limit):
        count = struct.unpack_from("<H", data, 0)[0]
        offsets = struct.unpack_from(f"<{count}H", data, 2)
        replies = []
        for k, off in enumerate(offsets):
            end = offsets[k + 1] if k + 1 < count else len(data)
            replies.append(self.cip(data[off:end], conn))
        out_offsets, pos = [], 2 + 2 * count
        for r in replies:
            out_offsets.append(pos)
            pos += len(r)
        if pos > limit:
            raise CipError(TOO_MUCH_DATA)
        status = EMBEDDED_ERROR if any(r[2] not in (OK, PARTIAL) for r in replies) else OK
        body = struct.pack(f"<H{count}H", count, *out_offsets) + b"".join(replies)
        return (status, body)

    def read(self, service, path, data, limit):
        tag, first = parse_tag_path(self.store, path)
        count = struct.unpack_from("<H", data, 0)[0]
        offset = struct.unpack_from("<I", data, 2)[0] if service == 0x52 else 0
        start = first * tag.elem_size
        end = start + count * tag.elem_size
        if count == 0 or end > len(tag.data):
            raise CipError(GENERAL_ERROR, BEYOND_END)
        if start + offset > end:
            raise CipError(GENERAL_ERROR, BEYOND_END)
        head = type_header(tag)
        room = (limit - len(head)) // tag.elem_size * tag.elem_size
        with self.store.lock:
            chunk = bytes(tag.data[start + offset:min(end, start + offset + room)])
        status = PARTIAL if start + offset + len(chunk) < end else OK
        return (status, head + chunk)

    def write(self, service, path, data):
        tag, first = parse_tag_path(self.store, path)
        if data[0] == 0xA0:
            code, handle = data[0], struct.unpack_from("<H", data, 2)[0]
            if tag.type != "STRING" or handle != STRING_HANDLE:
                raise CipError(GENERAL_ERROR, TYPE_MISMATCH)
            k = 4
        else:
            if data[0] != tag.code or data[1] != 0:
                raise CipError(GENERAL_ERROR, TYPE_MISMATCH)
            k = 2
        count = struct.unpack_from("<H", data, k)[0]
        k += 2
        offset = 0
        if service == 0x53:
            offset = struct.unpack_from("<I", data, k)[0]
            k += 4
        payload = data[k:]
        start = first * tag.elem_size
        end = start + count * tag.elem_size
        if end > len(tag.data):
            raise CipError(GENERAL_ERROR, BEYOND_END)
        if service == 0x4D and len(payload) < count * tag.elem_size:
            raise CipError(NOT_ENOUGH_DATA)
        if service == 0x4D:
            # pycomm3 sends a single Write Tag twice over in one request (its message is built
            # twice): a controller takes the first count * size bytes and ignores the rest.
            payload = payload[:count * tag.elem_size]
        if start + offset + len(payload) > end:
            raise CipError(TOO_MUCH_DATA)
        with self.store.lock:
            tag.data[start + offset:start + offset + len(payload)] = payload
        return b""

    def read_modify_write(self, path, data):
        tag, first = parse_tag_path(self.store, path)
        size = struct.unpack_from("<H", data, 0)[0]
        if tag.type == "STRING" or size not in (1, 2, 4, 8) or size > tag.elem_size:
            raise CipError(GENERAL_ERROR, TYPE_MISMATCH)
        or_mask = int.from_bytes(data[2:2 + size], "little")
        and_mask = int.from_bytes(data[2 + size:2 + 2 * size], "little")
        if len(data) < 2 + 2 * size:
            raise CipError(NOT_ENOUGH_DATA)
        # pycomm3 sends an 8-byte AND mask whatever the size: bytes past 2 * size are ignored.
        start = first * tag.elem_size
        with self.store.lock:
            old = int.from_bytes(tag.data[start:start + size], "little")
            new = (old | or_mask) & and_mask
            tag.data[start:start + size] = new.to_bytes(size, "little")
        return b""

    def instance_attribute_list(self, path, data, limit):
        if path[2] == 0x24:
            start = path[3]
        elif path[2] == 0x25:
            start = struct.unpack_from("<H", path, 4)[0]
        else:
            raise CipError(PATH_SEGMENT_ERROR)
        count = struct.unpack_from("<H", data, 0)[0]
        attrs = struct.unpack_from(f"<{count}H", data, 2)
        out = b""
        for t in self.store.tags:
            if t.instance < start:
                continue
            entry = struct.pack("<I", t.instance)
            for a in attrs:
                if a == 1:
                    name = t.name.encode()
                    entry += struct.pack("<H", len(name)) + name
                elif a == 2:
                    entry += struct.pack("<H", self.store.symbol_type(t))
                elif a in (3, 5):
                    entry += struct.pack("<I", 0x1000 * t.instance)
                elif a == 6:
                    entry += struct.pack("<I", 1 << 26)  # base tag (not an alias)
                elif a == 7:
                    entry += struct.pack("<H", t.elem_size)
                elif a == 8:
                    entry += struct.pack("<III", self.store.dimension(t), 0, 0)
                elif a == 10:
                    entry += b"\x00"  # external access: read/write
                else:
                    raise CipError(ATTRIBUTE_UNSUPPORTED)
            if len(out) + len(entry) > limit:
                return (PARTIAL, out)
            out += entry
        return out

    def template_bytes(self):
        members = struct.pack("<HHI", 0, 0xC4, 0) + struct.pack("<HHI", 82, 0xC2, 4)
        names = b"ASCIISTRING82\x00LEN\x00DATA\x00"
        raw = members + names
        return raw + b"\x00" * (-len(raw) % 4)

    def template(self, service, path, data):
        if path[2:4] == b"\x24\x00" or path[2] == 0x24:
            instance = path[3]
        else:
            instance = struct.unpack_from("<H", path, 4)[0]
        if instance != STRING_HANDLE:
            raise CipError(PATH_UNKNOWN)
        raw = self.template_bytes()
        if service == 0x03:
            count = struct.unpack_from("<H", data, 0)[0]
            attrs = struct.unpack_from(f"<{count}H", data, 2)
            out = struct.pack("<H", count)
            for a in attrs:
                if a == 1:
                    out += struct.pack("<HHH", a, 0, STRING_HANDLE)
                elif a == 2:
                    out += struct.pack("<HHH", a, 0, 2)
                elif a == 3:
                    out += struct.pack("<HHH", a, 0, 0)
                elif a == 4:
                    out += struct.pack("<HHI", a, 0, (len(raw) + 20) // 4)
                elif a == 5:
                    out += struct.pack("<HHI", a, 0, STRING_SIZE)
                else:
                    out += struct.pack("<HH", a, ATTRIBUTE_UNSUPPORTED)
            return out
        if service == 0x4C:
            offset, count = struct.unpack_from("<IH", data, 0)
            chunk = raw[offset:offset + count]
            return chunk + b"\x00" * (count - len(chunk))
        raise CipError(SERVICE_UNSUPPORTED)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv = self.server.model
        sock = self.request
        session = 0
        conn = None
        local = sock.getsockname()[0]
        while True:
            msg = read_message(sock)
            if msg is None:
                return
            srv.requests += 1
            command, length, handle, _, context, options = struct.unpack_from("<HHII8sI", msg)
            body = msg[24:]
            reply_status, reply = 0, b""
            if command == 0x65:
                session = 0x1000 + srv.requests
                handle, reply = session, body[:4]
            elif command == 0x66:
                return
            elif command == 0x63:
                reply = srv.list_identity_item(local)
            elif command == 0x04:
                reply = struct.pack("<HHHHH16s", 1, 0x100, 20, 1, 0x120, b"Communications\0\0")
            elif command in (0x6F, 0x70) and handle == session and session:
                items, i = [], 8
                for _ in range(struct.unpack_from("<H", body, 6)[0]):
                    kind, n = struct.unpack_from("<HH", body, i)
                    items.append((kind, body[i + 4:i + 4 + n]))
                    i += 4 + n
                if command == 0x6F:
                    answer = srv.cip(items[1][1], None)
                    if answer[0] in (0xD4, 0xDB) and answer[2] == OK:
                        conn = srv.local.pending
                    cpf = (struct.pack("<IHH", 0, 0, 2) + struct.pack("<HH", 0, 0)
                           + struct.pack("<HH", 0xB2, len(answer)) + answer)
                else:
                    (conn_id,) = struct.unpack_from("<I", items[0][1], 0)
                    if conn is None or conn_id != conn["ot"]:
                        return  # unknown connection: drop the TCP connection
                    seq = items[1][1][:2]
                    answer = seq + srv.cip(items[1][1][2:], conn)
                    cpf = (struct.pack("<IHH", 0, 0, 2)
                           + struct.pack("<HHI", 0xA1, 4, conn["to"])
                           + struct.pack("<HH", 0xB1, len(answer)) + answer)
                reply = cpf
            else:
                reply_status = 0x01 if command not in (0x6F, 0x70) else 0x64
            header = struct.pack("<HHII8sI", command, len(reply), handle, reply_status, context,
                                 options)
            sock.sendall(header + reply)


def read_message(sock):
    head = b""
    while len(head) < 24:
        part = sock.recv(24 - len(head))
        if not part:
            return None
        head += part
    (length,) = struct.unpack_from("<H", head, 2)
    body = b""
    while len(body) < length:
        part = sock.recv(length - len(body))
        if not part:
            return None
        body += part
    return head + body


class ThreadedTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_udp(sock, model):
    while True:
        data, peer = sock.recvfrom(4096)
        if len(data) >= 24 and struct.unpack_from("<H", data, 0)[0] == 0x63:
            item = model.list_identity_item(sock.getsockname()[0] if sock.getsockname()[0]
                                            != "0.0.0.0" else "127.0.0.1")
            reply = struct.pack("<HHII8sI", 0x63, len(item), 0, 0, data[12:20], 0) + item
            sock.sendto(reply, peer)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bind", default="127.0.0.1:44818")
    ap.add_argument("--revision", default="32.11")
    ap.add_argument("tags", nargs="+")
    args = ap.parse_args()
    host, port = enip_common.split_address(args.bind)
    store = TagStore(args.tags)
    major, minor = (int(x) for x in args.revision.split("."))
    tcp = ThreadedTCP((host, port), Handler)
    port = tcp.server_address[1]
    model = Server(store, (major, minor), port)
    tcp.model = model
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    udp.bind((host, port))
    threading.Thread(target=serve_udp, args=(udp, model), daemon=True).start()

    def stop(_signum, _frame):
        print(f"requests {model.requests}", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening {host}:{port}", flush=True)
    tcp.serve_forever()


if __name__ == "__main__":
    main()
