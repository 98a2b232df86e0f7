"""Records reference EtherNet/IP traffic of pylogix and pycomm3 (ptk-enip/tests/captures/).

    python tests/interop/enip_capture.py OUTDIR [--server cpppo|mock]

Starts a server on an ephemeral loopback port (cpppo's simulator, `python -m cpppo.server.enip`,
or our Python reference model tests/interop/enip_mock_server.py), puts a logging proxy (TCP and
UDP) in front of it, runs each library's operations through the proxy, and writes one file per
operation: `OUTDIR/<server>_<library>_<operation>.txt`. File format, one item a line:

    # text          a comment (the first one says what the operation is)
    > 6f00...       one encapsulation message the client sent (hex, whole, header included)
    < 6f00...       one the server answered
    ! text          what happened instead of an answer (connection closed, UDP timeout)

Requests and replies are listed in the order they crossed the proxy; each message line is
preceded by a `#` line decoding its headline (command, CIP service, path, status).
Everything runs on 127.0.0.1; discovery is redirected there (see enip_common.loopback_discovery).
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enip_common  # noqa: E402
from enip_wire import describe  # noqa: E402


class Recorder:
    """Messages grouped by the operation that was running when they crossed the proxy."""

    def __init__(self):
        self.lock = threading.Lock()
        self.label = None
        self.order = []
        self.records = {}
        self.notes = {}

    def start(self, label, note):
        with self.lock:
            self.label = label
            self.order.append(label)
            self.records[label] = []
            self.notes[label] = note

    def add(self, direction, data):
        with self.lock:
            if self.label is not None:
                self.records[self.label].append((direction, bytes(data)))

    def write(self, outdir, prefix):
        os.makedirs(outdir, exist_ok=True)
        for label in self.order:
            lines = [f"# {self.notes[label]}"]
            for direction, data in self.records[label]:
                if direction == "!":
                    lines.append(f"! {data.decode()}")
                    continue
                lines.append(f"# {describe(data, direction == '<')}")
                lines.append(f"{direction} {data.hex()}")
            path = os.path.join(outdir, f"{prefix}_{label}.txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            print(f"wrote {path} ({len(self.records[label])} messages)")


def read_message(sock):
    """One encapsulation message (24-byte header + its length), or None at end of stream."""
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


class Proxy:
    """TCP and UDP on one ephemeral loopback port, forwarding to `upstream`, recording all."""

    def __init__(self, upstream, recorder):
        self.upstream = upstream
        self.recorder = recorder
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._udp, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.tcp.accept()
            server = socket.create_connection(self.upstream, timeout=10)
            threading.Thread(target=self._pump, args=(client, server, ">"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "<"), daemon=True).start()

    def _pump(self, src, dst, direction):
        try:
            while True:
                msg = read_message(src)
                if msg is None:
                    if direction == "<":
                        self.recorder.add("!", b"server closed the connection")
                    break
                self.recorder.add(direction, msg)
                dst.sendall(msg)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _udp(self):
        while True:
            data, client = self.udp.recvfrom(65535)
            self.recorder.add(">", data)
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.settimeout(1.0)
            up.sendto(data, self.upstream)
            try:
                while True:
                    reply = up.recv(65535)
                    self.recorder.add("<", reply)
                    self.udp.sendto(reply, client)
            except socket.timeout:
                pass
            finally:
                up.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not listen on port {port} within {seconds} s")


# Tags of the capture runs. cpppo has no Logix STRING (its STRING is CIP STRING, 0xD0) and no
# packed BOOL arrays (its BOOL[N] is N bytes), so the cpppo run uses what it has.
CPPPO_TAGS = [
    "B=BOOL", "SI=SINT", "I=INT", "D=DINT", "L=LINT", "USI=USINT", "UI=UINT", "UD=UDINT",
    "UL=ULINT", "R=REAL", "LR=LREAL", "SS=SSTRING", "S=STRING", "BA=BOOL[64]", "DA=DINT[10]",
    "RA=REAL[4]", "BIG=DINT[2000]",
]
MOCK_TAGS = [
    "B=BOOL", "SI=SINT", "I=INT", "D=DINT", "L=LINT", "USI=USINT", "UI=UINT", "UD=UDINT",
    "UL=ULINT", "R=REAL", "LR=LREAL", "S=STRING", "BA=BOOL[64]", "DA=DINT[10]",
    "RA=REAL[4]", "SA=STRING[3]", "BIG=DINT[2000]",
]
SCALARS = ["B", "SI", "I", "D", "L", "USI", "UI", "UD", "UL", "R", "LR"]
SCALAR_VALUES = {
    "B": True, "SI": -5, "I": -1234, "D": 0x12345678, "L": -0x123456789ABC, "USI": 200,
    "UI": 60000, "UD": 0xDEADBEEF, "UL": 0xFEDCBA9876543210, "R": 1.5, "LR": -2.25,
}
TYPE_OF = {
    "B": "BOOL", "SI": "SINT", "I": "INT", "D": "DINT", "L": "LINT", "USI": "USINT", "UI": "UINT",
    "UD": "UDINT", "UL": "ULINT", "R": "REAL", "LR": "LREAL",
}


RECOVER = []  # how to reconnect the library under test after the server dropped it


def step(rec, label, note, fn):
    rec.start(label, note)
    try:
        result = fn()
        summary = repr(result)
        rec.notes[label] += f" -- library returned: {summary[:300]}"
    except Exception as err:  # record what the client sent even when the server refuses
        rec.notes[label] += f" -- library raised {type(err).__name__}: {str(err)[:200]}"
    time.sleep(0.05)  # let the pump threads record the last reply before the label changes
    dropped = any(d == "!" for d, _ in rec.records[label])
    rec.label = None  # reconnecting is not part of any operation's file
    if dropped and RECOVER and label != "close":  # servers close the socket after Unregister
        rec.notes[label] += " (the server closed the connection; the capture reconnected)"
        try:
            RECOVER[-1]()
        except Exception as err:
            print(f"reconnect after {label} failed: {err}", file=sys.stderr)
        time.sleep(0.05)


def run_pylogix(rec, port, server):
    import pylogix
    from pylogix import lgx_comm

    def status(responses):
        if isinstance(responses, list):
            return [(r.TagName, r.Status, r.Value) for r in responses]
        return (responses.TagName, responses.Status, responses.Value)

    plc = pylogix.PLC("127.0.0.1", port=port, timeout=5.0)

    def reconnect():
        plc.conn.close()
        plc.Read("D")

    RECOVER.append(reconnect)
    step(rec, "connect", "pylogix: TCP connect, Register Session, Forward Open (Large first, "
         "then the 504-byte Forward Open if the Large one is refused); triggered by the first "
         "Read of D", lambda: status(plc.Read("D")))
    for t in SCALARS:
        step(rec, f"read_{TYPE_OF[t].lower()}", f"pylogix: Read('{t}') of a {TYPE_OF[t]} "
             "(type already known: no initial read)" if t == "D" else
             f"pylogix: Read('{t}') of a {TYPE_OF[t]} (first access: pylogix reads 1 element "
             "to learn the type, then reads)", lambda t=t: status(plc.Read(t)))
        step(rec, f"write_{TYPE_OF[t].lower()}", f"pylogix: Write('{t}', {SCALAR_VALUES[t]!r}) "
             f"of a {TYPE_OF[t]}", lambda t=t: status(plc.Write(t, SCALAR_VALUES[t])))
    step(rec, "read_dint_array", "pylogix: Read('DA[0]', 10) of a DINT[10]",
         lambda: status(plc.Read("DA[0]", 10)))
    step(rec, "write_dint_array", "pylogix: Write('DA[0]', [1..10]) of a DINT[10]",
         lambda: status(plc.Write("DA[0]", list(range(1, 11)))))
    step(rec, "read_dint_element", "pylogix: Read('DA[3]') (one element)",
         lambda: status(plc.Read("DA[3]")))
    step(rec, "read_real_array", "pylogix: Read('RA[0]', 4) of a REAL[4]",
         lambda: status(plc.Read("RA[0]", 4)))
    step(rec, "write_real_array", "pylogix: Write('RA[0]', [0.5, 1.5, 2.5, 3.5])",
         lambda: status(plc.Write("RA[0]", [0.5, 1.5, 2.5, 3.5])))
    step(rec, "read_bool_array", "pylogix: Read('BA[0]', 64) of a BOOL[64]",
         lambda: status(plc.Read("BA[0]", 64)))
    step(rec, "read_bool_array_bit", "pylogix: Read('BA[37]') (one bit of a BOOL[64])",
         lambda: status(plc.Read("BA[37]")))
    step(rec, "write_bool_array_bit", "pylogix: Write('BA[37]', True) (one bit of a BOOL[64])",
         lambda: status(plc.Write("BA[37]", True)))
    step(rec, "write_bool_array", "pylogix: Write('BA[0]', [True, False] * 32) (all 64 bits)",
         lambda: status(plc.Write("BA[0]", [True, False] * 32)))
    step(rec, "read_dint_bit", "pylogix: Read('D.3') (bit 3 of a DINT)",
         lambda: status(plc.Read("D.3")))
    step(rec, "write_dint_bit", "pylogix: Write('D.3', False) (bit 3 of a DINT)",
         lambda: status(plc.Write("D.3", False)))
    step(rec, "read_string", "pylogix: Read('S') of a STRING",
         lambda: status(plc.Read("S")))
    step(rec, "write_string", "pylogix: Write('S', 'hello ptk') of a STRING",
         lambda: status(plc.Write("S", "hello ptk")))
    if server == "cpppo":
        step(rec, "read_sstring", "pylogix: Read('SS') of a cpppo SSTRING",
             lambda: status(plc.Read("SS")))
        step(rec, "write_sstring", "pylogix: Write('SS', 'hello ptk') of a cpppo SSTRING",
             lambda: status(plc.Write("SS", "hello ptk")))
    else:
        step(rec, "read_string_array", "pylogix: Read('SA[0]', 3) of a STRING[3]",
             lambda: status(plc.Read("SA[0]", 3)))
        step(rec, "write_string_array", "pylogix: Write('SA[0]', ['a', 'bb', 'ccc'])",
             lambda: status(plc.Write("SA[0]", ["a", "bb", "ccc"])))
    step(rec, "read_multi", "pylogix: Read(['D', 'I', 'R', 'B', 'DA[2]']) (Multiple Service "
         "Packet)", lambda: status(plc.Read(["D", "I", "R", "B", "DA[2]"])))
    step(rec, "write_multi", "pylogix: Write([('D', 7), ('I', 8), ('R', 9.5)]) (Multiple "
         "Service Packet)", lambda: status(plc.Write([("D", 7), ("I", 8), ("R", 9.5)])))
    step(rec, "read_fragmented", "pylogix: Read('BIG[0]', 2000) of a DINT[2000] (Read Tag, then "
         "Read Tag Fragmented while the status is 0x06)",
         lambda: (lambda r: (r.Status, len(r.Value) if isinstance(r.Value, list) else r.Value))(
             plc.Read("BIG[0]", 2000)))
    step(rec, "write_fragmented", "pylogix: Write('BIG[0]', list(range(2000))) (Write Tag "
         "Fragmented)", lambda: plc.Write("BIG[0]", list(range(2000))).Status)
    step(rec, "tag_list", "pylogix: GetTagList() (Get Instance Attribute List on the Symbol "
         "class 0x6B, then templates of struct tags)",
         lambda: (lambda r: (r.Status, [(t.TagName, t.DataType, t.Array, t.Size)
                                        for t in (r.Value or [])]))(plc.GetTagList()))
    step(rec, "device_properties", "pylogix: GetDeviceProperties() (unconnected Get Attributes "
         "All on the Identity object)",
         lambda: (lambda r: (r.Status, str(r.Value)))(plc.GetDeviceProperties()))
    step(rec, "close", "pylogix: Close() (Forward Close, Unregister Session)", plc.Close)

    undo = enip_common.loopback_discovery(lgx_comm, "127.0.0.1", port)
    try:
        plc2 = pylogix.PLC("127.0.0.1", port=port)
        step(rec, "discover", "pylogix: Discover() (ListIdentity over UDP; the broadcast is "
             "redirected to 127.0.0.1; pylogix sends one request per address of the host)",
             lambda: [str(d) for d in plc2.Discover().Value])
    finally:
        undo()


def run_pycomm3(rec, port, server):
    from pycomm3 import LogixDriver, CIPDriver, cip_driver

    def tags(result):
        if isinstance(result, list):
            return [(t.tag, t.value, t.type, t.error) for t in result]
        return (result.tag, result.value, result.type, result.error)

    plc = LogixDriver(f"127.0.0.1:{port}", init_tags=False)
    plc.socket_timeout = 5.0

    def reconnect():
        try:
            plc.close()
        except Exception:
            pass
        plc.open()

    RECOVER.append(reconnect)
    step(rec, "open", "pycomm3: LogixDriver(init_tags=False).open(): Register Session, "
         "ListIdentity over TCP, Get Attributes All of the Identity object by Unconnected "
         "Send, Large Forward Open (then Forward Open if refused), Get Attributes All of class "
         "0x64 (program name)", plc.open)
    step(rec, "tag_list", "pycomm3: get_tag_list(program='*') (Get Instance Attribute List on "
         "the Symbol class 0x6B, paging with status 0x06, then templates of struct tags)",
         lambda: [(t["tag_name"], t["data_type_name"], t["dimensions"])
                  for t in plc.get_tag_list(program="*")])
    if not plc.tags:
        # cpppo cannot list tags: describe them the way the tag list would, so reads can run.
        symbol = {"BOOL": 0xC1, "SINT": 0xC2, "INT": 0xC3, "DINT": 0xC4, "LINT": 0xC5,
                  "USINT": 0xC6, "UINT": 0xC7, "UDINT": 0xC8, "ULINT": 0xC9, "REAL": 0xCA,
                  "LREAL": 0xCB}
        plc._cache = {"tag_name:id": {}, "id:struct": {}, "handle:id": {}, "id:udt": {}}
        for i, spec in enumerate(CPPPO_TAGS):
            t = enip_common.parse_spec(spec) if "SSTRING" not in spec else None
            if t is None or t.type not in symbol:
                continue
            dims = [t.count or 0, 0, 0]
            code = symbol[t.type]
            if t.is_bool_array:
                code, dims = 0xD3, [t.count // 32, 0, 0]
            raw = {"instance_id": i + 1, "symbol_type": code | (0x2000 if t.count else 0),
                   "symbol_address": 0, "symbol_object_address": 0,
                   "software_control": 1 << 26, "external_access": "Read/Write",
                   "dimensions": dims}
            plc._tags[t.name] = plc._create_tag(t.name, raw)
        plc._cache = None
    for t in SCALARS:
        step(rec, f"read_{TYPE_OF[t].lower()}", f"pycomm3: read('{t}') of a {TYPE_OF[t]}",
             lambda t=t: tags(plc.read(t)))
        step(rec, f"write_{TYPE_OF[t].lower()}", f"pycomm3: write('{t}', "
             f"{SCALAR_VALUES[t]!r}) of a {TYPE_OF[t]}",
             lambda t=t: tags(plc.write(t, SCALAR_VALUES[t])))
    step(rec, "read_dint_array", "pycomm3: read('DA{10}') of a DINT[10]",
         lambda: tags(plc.read("DA{10}")))
    step(rec, "write_dint_array", "pycomm3: write('DA{10}', [1..10])",
         lambda: tags(plc.write("DA{10}", list(range(1, 11)))))
    step(rec, "read_dint_element", "pycomm3: read('DA[3]') (one element)",
         lambda: tags(plc.read("DA[3]")))
    step(rec, "read_real_array", "pycomm3: read('RA{4}') of a REAL[4]",
         lambda: tags(plc.read("RA{4}")))
    step(rec, "write_real_array", "pycomm3: write('RA{4}', [0.5, 1.5, 2.5, 3.5])",
         lambda: tags(plc.write("RA{4}", [0.5, 1.5, 2.5, 3.5])))
    step(rec, "read_bool_array", "pycomm3: read('BA{64}') of a BOOL[64] (listed as DWORD[2])",
         lambda: tags(plc.read("BA{64}")))
    step(rec, "read_bool_array_bit", "pycomm3: read('BA[37]') (one bit of a BOOL[64])",
         lambda: tags(plc.read("BA[37]")))
    step(rec, "write_bool_array_bit", "pycomm3: write('BA[37]', True) (one bit: Read Modify "
         "Write on BA[1])", lambda: tags(plc.write("BA[37]", True)))
    step(rec, "write_bool_array", "pycomm3: write('BA{64}', [True, False] * 32) (all 64 bits)",
         lambda: tags(plc.write("BA{64}", [True, False] * 32)))
    step(rec, "read_dint_bit", "pycomm3: read('D.3') (bit 3 of a DINT)",
         lambda: tags(plc.read("D.3")))
    step(rec, "write_dint_bit", "pycomm3: write('D.3', False) (bit 3 of a DINT: Read Modify "
         "Write)", lambda: tags(plc.write("D.3", False)))
    if "S" in plc.tags:
        step(rec, "read_string", "pycomm3: read('S') of a STRING",
             lambda: tags(plc.read("S")))
        step(rec, "write_string", "pycomm3: write('S', 'hello ptk') of a STRING",
             lambda: tags(plc.write("S", "hello ptk")))
    if "SA" in plc.tags:
        step(rec, "read_string_array", "pycomm3: read('SA{3}') of a STRING[3]",
             lambda: tags(plc.read("SA{3}")))
        step(rec, "write_string_array", "pycomm3: write('SA{3}', ['a', 'bb', 'ccc'])",
             lambda: tags(plc.write("SA{3}", ["a", "bb", "ccc"])))
    step(rec, "read_multi", "pycomm3: read('D', 'I', 'R', 'B', 'DA[2]') (Multiple Service "
         "Packet)", lambda: tags(plc.read("D", "I", "R", "B", "DA[2]")))
    step(rec, "write_multi", "pycomm3: write(('D', 7), ('I', 8), ('R', 9.5)) (Multiple Service "
         "Packet)", lambda: tags(plc.write(("D", 7), ("I", 8), ("R", 9.5))))
    step(rec, "read_fragmented", "pycomm3: read('BIG{2000}') of a DINT[2000] (Read Tag "
         "Fragmented from offset 0 while the status is 0x06)",
         lambda: (lambda r: (r.error, len(r.value) if isinstance(r.value, list) else r.value))(
             plc.read("BIG{2000}")))
    step(rec, "write_fragmented", "pycomm3: write('BIG{2000}', list(range(2000))) (Write Tag "
         "Fragmented)", lambda: plc.write("BIG{2000}", list(range(2000))).error)
    if server == "cpppo":
        plc._cfg["use_instance_ids"] = True
        step(rec, "read_dint_by_instance", "pycomm3: read('D') with symbol instance addressing "
             "(what pycomm3 sends to a controller of major revision >= 21: class 0x6B, instance "
             "id from the tag list, instead of the tag name)", lambda: tags(plc.read("D")))
        plc._cfg["use_instance_ids"] = False
    step(rec, "close", "pycomm3: close() (Forward Close, Unregister Session)", plc.close)

    step(rec, "list_identity", "pycomm3: CIPDriver.list_identity() (ListIdentity over TCP, "
         "after Register Session)",
         lambda: CIPDriver.list_identity(f"127.0.0.1:{port}"))
    undo = enip_common.loopback_discovery(cip_driver, "127.0.0.1", port)
    try:
        step(rec, "discover", "pycomm3: CIPDriver.discover() (ListIdentity over UDP; the "
             "broadcast to 255.255.255.255:44818 is redirected to the server on 127.0.0.1)",
             CIPDriver.discover)
    finally:
        undo()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--server", choices=["cpppo", "mock"], default="cpppo")
    ap.add_argument("--only", choices=["pylogix", "pycomm3"])
    args = ap.parse_args()
    enip_common.Deadline(300, "the capture run")

    port = free_port()
    here = os.path.dirname(os.path.abspath(__file__))
    if args.server == "cpppo":
        cmd = [sys.executable, "-m", "cpppo.server.enip", "--no-config", "--address",
               f"127.0.0.1:{port}"] + CPPPO_TAGS
    else:
        cmd = [sys.executable, os.path.join(here, "enip_mock_server.py"), "--bind",
               f"127.0.0.1:{port}"] + MOCK_TAGS
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=here)
    try:
        wait_listening(port, proc)
        for lib, run in (("pylogix", run_pylogix), ("pycomm3", run_pycomm3)):
            if args.only and args.only != lib:
                continue
            rec = Recorder()
            proxy = Proxy(("127.0.0.1", port), rec)
            run(rec, proxy.port, args.server)
            time.sleep(0.2)
            rec.write(args.outdir, f"{args.server}_{lib}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
