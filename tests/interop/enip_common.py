"""Shared pieces of the EtherNet/IP interop scripts (tests/interop/enip_*.py).

- Tag specs: the `NAME=TYPE[N]` strings given to the server (`parse_spec`); a program's tag is
  `Program:PROGRAM.NAME=TYPE[N]` (`Tag.program`, `programs`).
- Value patterns: a deterministic, non-zero value for every element of every tag, so a read-back
  proves the write reached the server (`pattern`).
- Discovery on loopback only: pylogix and pycomm3 broadcast ListIdentity to 255.255.255.255
  (pycomm3 always to port 44818). `loopback_discovery` swaps the `socket` module seen by the
  library for one whose UDP sockets bind to 127.0.0.1 and send every datagram to the address the
  test chose, so the library's own discovery and reply parsing run, and no datagram leaves the
  machine.
- `Deadline`: every script bounds its own run time.
"""

import signal
import socket as _socket
import struct
import sys
import types
import zlib

# CIP type codes, sizes and struct formats of the atomic Logix types.
ATOMIC = {
    "BOOL": (0xC1, 1, "<B"),
    "SINT": (0xC2, 1, "<b"),
    "INT": (0xC3, 2, "<h"),
    "DINT": (0xC4, 4, "<i"),
    "LINT": (0xC5, 8, "<q"),
    "USINT": (0xC6, 1, "<B"),
    "UINT": (0xC7, 2, "<H"),
    "UDINT": (0xC8, 4, "<I"),
    "ULINT": (0xC9, 8, "<Q"),
    "REAL": (0xCA, 4, "<f"),
    "LREAL": (0xCB, 8, "<d"),
}
TYPES = tuple(ATOMIC) + ("STRING",)
STRING_CAPACITY = 82  # Logix STRING: DINT LEN + SINT DATA[82] (+2 pad) = 88 bytes


class Tag:
    """One tag of the spec: `name`, `type` (a key of ATOMIC or "STRING"), `count` (None: scalar)."""

    def __init__(self, name, type_, count):
        self.name = name
        self.type = type_
        self.count = count

    @property
    def is_bool_array(self):
        return self.type == "BOOL" and self.count is not None

    @property
    def program(self):
        """The program of a program-scoped tag (`Main` of `Program:Main.X`), else None."""
        if not self.name.startswith("Program:"):
            return None
        return self.name[len("Program:"):].split(".", 1)[0]

    def __repr__(self):
        return f"{self.name}={self.type}" + ("" if self.count is None else f"[{self.count}]")


def parse_spec(text):
    """Parses `NAME=TYPE` or `NAME=TYPE[N]`; raises ValueError with the reason."""
    if "=" not in text:
        raise ValueError(f"tag spec {text!r}: expected NAME=TYPE or NAME=TYPE[N]")
    name, rest = text.split("=", 1)
    count = None
    if rest.endswith("]") and "[" in rest:
        rest, n = rest[:-1].split("[", 1)
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"tag spec {text!r}: array size must be a positive integer")
        count = int(n)
    type_ = rest.upper()
    if type_ not in TYPES:
        raise ValueError(f"tag spec {text!r}: type must be one of {', '.join(TYPES)}")
    if type_ == "BOOL" and count is not None and count % 32:
        raise ValueError(
            f"tag spec {text!r}: a Logix BOOL array holds whole 32-bit words; use a multiple of 32"
        )
    if not name or not (name[0].isalpha() or name[0] == "_"):
        raise ValueError(f"tag spec {text!r}: a tag name starts with a letter or '_'")
    if name.startswith("Program:") and name.count(".") != 1:
        raise ValueError(f"tag spec {text!r}: a program's tag is Program:PROGRAM.NAME")
    return Tag(name, type_, count)


def programs(tags):
    """The programs of the tags, as a controller lists them: `Program:NAME`, sorted."""
    return sorted({f"Program:{t.program}" for t in tags if t.program})


def _h(name, index, salt):
    return zlib.crc32(f"{salt}:{name}:{index}".encode())


def pattern(tag, index, salt="ptk"):
    """The value element `index` of `tag` gets (index 0 for a scalar); never the zero default.

    `salt` changes the pattern, so a second write pass can prove the first one was overwritten.
    """
    h = _h(tag.name, index, salt)
    t = tag.type
    if t == "BOOL":
        # Scalars are always True (the default is False); arrays mix both, with bit 0 True.
        return True if (tag.count is None or index == 0) else bool(h & 1)
    if t == "STRING":
        length = [STRING_CAPACITY, 1, 17, 40][index % 4] if tag.count else 23
        text = f"{tag.name}[{index}]/{salt}:" + "abcdefghijklmnopqrstuvwxyz0123456789" * 3
        return text[:length]
    code, size, fmt = ATOMIC[t]
    if t == "REAL":
        return ((h % 2_000_001) - 1_000_000) / 8.0 or 0.5  # exact in float32
    if t == "LREAL":
        return ((h << 20 | _h(tag.name, index, salt + "2")) % (1 << 50) - (1 << 49)) / 1024.0 or 0.5
    bits = size * 8
    raw = h | (_h(tag.name, index, salt + "2") << 32)
    raw = (raw % ((1 << bits) - 1)) + 1  # 1 ..= 2^bits - 1: never zero
    if fmt[1].islower() and raw >= 1 << (bits - 1):  # signed: two's complement, still non-zero
        raw -= 1 << bits
    return raw


def values(tag, salt="ptk"):
    """The whole pattern of a tag: a list for arrays (one bool per bit for BOOL arrays)."""
    if tag.count is None:
        return pattern(tag, 0, salt)
    return [pattern(tag, i, salt) for i in range(tag.count)]


def same(type_, a, b):
    """Equality as the wire carries it (REAL compared after rounding to float32)."""
    if type_ == "REAL":
        return struct.pack("<f", a) == struct.pack("<f", b)
    if type_ == "BOOL":
        return bool(a) == bool(b)
    return a == b


def first_difference(type_, want, got):
    """None when equal, else a short description of the first difference."""
    if not isinstance(want, list):
        return None if same(type_, want, got) else f"want {want!r}, got {got!r}"
    if not isinstance(got, list):
        return f"want a list of {len(want)}, got {got!r:.200}"
    if len(got) != len(want):
        return f"want {len(want)} elements, got {len(got)}"
    for i, (w, g) in enumerate(zip(want, got)):
        if not same(type_, w, g):
            return f"element {i}: want {w!r}, got {g!r}"
    return None


def loopback_discovery(module, host, port):
    """Makes `module` (a library module that did `import socket`) send UDP to (host, port) only.

    UDP sockets it creates bind to 127.0.0.1 and every `sendto` goes to (host, port) whatever
    the library asked for (a broadcast address, port 44818). `gethostname` returns "localhost",
    so libraries that bind one socket per address of the host bind to loopback. Returns a
    function that undoes the swap.
    """
    real = module.socket

    class LoopbackSocket(_socket.socket):
        def bind(self, address):
            if self.type == _socket.SOCK_DGRAM:
                address = ("127.0.0.1", 0)
            return super().bind(address)

        def sendto(self, data, *args):
            return super().sendto(data, (host, port))

    shim = types.ModuleType("socket")
    shim.__dict__.update(_socket.__dict__)
    shim.socket = LoopbackSocket
    shim.gethostname = lambda: "localhost"
    module.socket = shim

    def undo():
        module.socket = real

    return undo


class Deadline:
    """Ends the process with exit status 3 and a message when `seconds` pass (SIGALRM)."""

    def __init__(self, seconds, what):
        self.what = what

        def expired(_signum, _frame):
            print(f"FAIL timeout: {self.what} took more than {seconds} s", flush=True)
            sys.exit(3)

        signal.signal(signal.SIGALRM, expired)
        signal.alarm(seconds)


def split_address(text):
    """`HOST:PORT` -> (host, port)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address {text!r}: expected HOST:PORT")
    return host, int(port)
