"""pylogix 1.1.6 against an EtherNet/IP server that holds the tags of SPEC (interop test peer).

    python enip_pylogix_client.py HOST:PORT [--discover-to HOST] [--connection-size N]
                                  [--timeout S] NAME=TYPE[N] ...

The SPEC strings are the ones the server was started with. Steps, each printing `ok <what>`
(or `FAIL <what>: <why>`, after which the script goes on and finally exits 1):

1. discover: PLC.Discover(), its UDP ListIdentity redirected to HOST:PORT (or --discover-to,
   e.g. a loopback broadcast address) so nothing leaves the machine; also GetDeviceProperties().
2. list: GetTagList() must list exactly the SPEC tags, with their types and sizes as pylogix
   reports a Logix controller's (BOOL[N] as DWORD of N/32, STRING as a struct), and for
   program-scoped specs (`Program:Main.X=DINT`) one `Program:Main` entry per program besides
   its tags as `Program:Main.X`; GetProgramsList() names the programs and
   GetProgramTagList('Program:Main') lists exactly that program's tags.
3. every tag: write a pattern (enip_common.pattern) and read it back, whole arrays in one call
   (Write Tag Fragmented when they do not fit), single elements, BOOL array bits, bits of DINTs.
4. multi: one Read([...]) of every scalar tag (Multiple Service Packet).
5. fragmented: one Read('X[0]', N) of every DINT array of 1000 or more elements.

The last line is `ALL OK` (exit 0) or `FAILED <count>` (exit 1). Exit 2: bad arguments;
exit 3: --timeout expired.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enip_common  # noqa: E402
from enip_common import first_difference, programs, values  # noqa: E402

failures = []
# pylogix's own names for some CIP type codes (its table calls 0xC9, ULINT, "LWORD").
PYLOGIX_NAMES = {"ULINT": ("ULINT", "LWORD")}


def ok(what):
    print(f"ok {what}", flush=True)


def fail(what, why):
    failures.append(what)
    print(f"FAIL {what}: {why}", flush=True)


def check_status(what, response):
    responses = response if isinstance(response, list) else [response]
    bad = [(r.TagName, r.Status) for r in responses if r.Status != "Success"]
    if bad:
        fail(what, f"status {bad[:5]}")
        return False
    return True


def discover(plc_class, lgx_comm, host, port, discover_to):
    undo = enip_common.loopback_discovery(lgx_comm, discover_to or host, port)
    try:
        with plc_class(host, port=port, timeout=5.0) as probe:
            devices = probe.Discover().Value or []
    finally:
        undo()
    if not devices:
        fail("discover", "no device answered ListIdentity")
        return
    d = devices[0]
    if not d.ProductName or d.VendorID is None or d.DeviceID is None:
        fail("discover", f"incomplete identity {d!r}")
        return
    ok(f"discover {len(devices)} answer(s): product {d.ProductName!r} vendor {d.VendorID} "
       f"device type {d.DeviceID} product code {d.ProductCode} revision {d.Revision} "
       f"serial {d.SerialNumber} address {d.IPAddress} state {d.State}")


def device_properties(plc):
    r = plc.GetDeviceProperties()
    if r.Status != "Success" or not r.Value.ProductName:
        fail("device properties", f"status {r.Status} value {r.Value!r}")
        return
    ok(f"device properties product {r.Value.ProductName!r} revision {r.Value.Revision}")


def expected_listing(tag):
    """(DataType, Array, Size) as pylogix reports a Logix tag of this spec."""
    if tag.is_bool_array:
        return ("DWORD", 1, tag.count // 32)
    dims = 0 if tag.count is None else 1
    size = 0 if tag.count is None else tag.count
    return (tag.type, dims, size)


def tag_list(plc, tags):
    r = plc.GetTagList()
    if r.Status != "Success" or r.Value is None:
        fail("list", f"status {r.Status}")
        return
    listed = {t.TagName: t for t in r.Value}
    want = {t.name for t in tags} | set(programs(tags))
    if set(listed) != want:
        fail("list", f"missing {sorted(want - set(listed))} unexpected "
             f"{sorted(set(listed) - want)}")
        return
    bad = []
    for t in tags:
        got = listed[t.name]
        dtype, dims, size = expected_listing(t)
        if t.type == "STRING":
            # A struct: the name comes from the template (a controller's is ASCIISTRING82).
            if got.Struct != 1 or got.DataType not in ("STRING", "ASCIISTRING82"):
                bad.append(f"{t.name}: want a STRING struct, got {got.DataType!r} "
                           f"struct={got.Struct}")
        elif got.DataType not in PYLOGIX_NAMES.get(dtype, (dtype,)):
            bad.append(f"{t.name}: want type {dtype}, got {got.DataType!r}")
        if (got.Array, got.Size) != (dims, size):
            bad.append(f"{t.name}: want dims {dims} size {size}, got {got.Array} {got.Size}")
    for p in programs(tags):
        got = listed[p]
        if (got.Struct, got.Array, got.Size) != (0, 0, 0):
            bad.append(f"{p}: want a program entry, got struct={got.Struct} dims {got.Array} "
                       f"size {got.Size}")
    if bad:
        fail("list", "; ".join(bad[:10]))
    else:
        ok(f"list {len(listed)} tags match the spec ({len(programs(tags))} programs)")


def program_lists(plc, tags):
    """GetProgramsList() and each GetProgramTagList(): the programs, and exactly their tags."""
    r = plc.GetProgramsList()
    if r.Status != "Success" or sorted(r.Value or []) != programs(tags):
        fail("programs", f"want {programs(tags)}, got {r.Value!r} (status {r.Status})")
        return
    for p in programs(tags):
        r = plc.GetProgramTagList(p)
        if r.Status != "Success" or r.Value is None:
            fail(f"list {p}", f"status {r.Status}")
            continue
        got = sorted(t.TagName for t in r.Value)
        want = sorted(t.name for t in tags if f"Program:{t.program}" == p)
        if got != want:
            fail(f"list {p}", f"want {want}, got {got}")
        else:
            ok(f"list {p}: {len(got)} tags")


def write_read(plc, tag, salt):
    want = values(tag, salt)
    if tag.count is None:
        target, count = tag.name, 1
    else:
        target, count = f"{tag.name}[0]", tag.count
    what = f"{tag!r} write+read"
    if not check_status(f"{what} (write)", plc.Write(target, want)):
        return
    r = plc.Read(target, count)
    if not check_status(f"{what} (read)", r):
        return
    got = r.Value if tag.count is None or isinstance(r.Value, list) else [r.Value]
    diff = first_difference(tag.type, want, got)
    if diff:
        fail(what, diff)
        return
    ok(f"{what} ({count} element{'s' if count > 1 else ''})")


def element_access(plc, tag, salt):
    """The last element alone (index segment), and for BOOL arrays one bit written alone."""
    last = tag.count - 1
    want = enip_common.pattern(tag, last, salt)
    r = plc.Read(f"{tag.name}[{last}]")
    what = f"{tag.name}[{last}] read"
    if check_status(what, r):
        diff = first_difference(tag.type, want, r.Value)
        fail(what, diff) if diff else ok(what)
    if tag.is_bool_array:
        bit = min(37, last)
        for value in (not enip_common.pattern(tag, bit, salt), enip_common.pattern(tag, bit, salt)):
            what = f"{tag.name}[{bit}] bit write {value}"
            if not check_status(what, plc.Write(f"{tag.name}[{bit}]", value)):
                return
            r = plc.Read(f"{tag.name}[0]", tag.count)
            if not check_status(what, r):
                return
            expect = values(tag, salt)
            expect[bit] = value
            diff = first_difference("BOOL", expect, r.Value)
            fail(what, diff) if diff else ok(f"{what} (other bits kept)")


def dint_bit(plc, tag, salt):
    base = values(tag, salt)
    for bit, value in ((3, not (base >> 3) & 1), (3, bool((base >> 3) & 1))):
        what = f"{tag.name}.{bit} bit write {bool(value)}"
        if not check_status(what, plc.Write(f"{tag.name}.{bit}", bool(value))):
            return
        r = plc.Read(tag.name)
        if not check_status(what, r):
            return
        expect = (base & ~(1 << bit)) | (int(bool(value)) << bit)
        if r.Value != expect:
            fail(what, f"want {expect}, got {r.Value}")
            return
        ok(f"{what} (other bits kept)")


def multi_read(plc, tags, salt):
    scalars = [t for t in tags if t.count is None]
    if len(scalars) < 2:
        return
    responses = plc.Read([t.name for t in scalars])
    if not check_status("multi-read", responses):
        return
    for t, r in zip(scalars, responses):
        diff = first_difference(t.type, values(t, salt), r.Value)
        if diff:
            fail("multi-read", f"{t.name}: {diff}")
            return
    ok(f"multi-read {len(scalars)} scalar tags in one Read call")


def fragmented(plc, tag, salt):
    r = plc.Read(f"{tag.name}[0]", tag.count)
    what = f"fragmented read {tag.name} ({tag.count} elements in one call)"
    if check_status(what, r):
        diff = first_difference(tag.type, values(tag, salt), r.Value)
        fail(what, diff) if diff else ok(what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("address")
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--discover-to")
    ap.add_argument("--connection-size", type=int)
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    try:
        host, port = enip_common.split_address(args.address)
        tags = [enip_common.parse_spec(s) for s in args.specs]
    except ValueError as err:
        print(f"FAIL arguments: {err}", flush=True)
        sys.exit(2)
    enip_common.Deadline(args.timeout, "the pylogix interop run")

    import pylogix
    from pylogix import lgx_comm

    print(f"pylogix {pylogix.__version__} against {host}:{port}", flush=True)
    salt = "pylogix"
    steps = [("discover", lambda: discover(pylogix.PLC, lgx_comm, host, port,
                                            args.discover_to))]
    plc = pylogix.PLC(host, port=port, timeout=5.0)
    if args.connection_size:
        plc.ConnectionSize = args.connection_size
    steps.append(("device properties", lambda: device_properties(plc)))
    steps.append(("list", lambda: tag_list(plc, tags)))
    if programs(tags):
        steps.append(("programs", lambda: program_lists(plc, tags)))
    for t in tags:
        steps.append((f"{t!r} write+read", lambda t=t: write_read(plc, t, salt)))
        if t.count is not None:
            steps.append((f"{t!r} elements", lambda t=t: element_access(plc, t, salt)))
        if t.type == "DINT" and t.count is None:
            steps.append((f"{t!r} bits", lambda t=t: dint_bit(plc, t, salt)))
    steps.append(("multi-read", lambda: multi_read(plc, tags, salt)))
    for t in tags:
        if t.type == "DINT" and (t.count or 0) >= 1000:
            steps.append((f"fragmented {t.name}", lambda t=t: fragmented(plc, t, salt)))
    for what, run in steps:
        try:
            run()
        except Exception as err:  # a library exception is a failed step, not a crash
            fail(what, f"{type(err).__name__}: {err}")
    plc.Close()
    if args.connection_size:
        ok(f"connection size {plc.ConnectionSize}")
    if failures:
        print(f"FAILED {len(failures)}", flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()
