"""pycomm3 1.2.16 against an EtherNet/IP server that holds the tags of SPEC (interop test peer).

    python enip_pycomm3_client.py HOST:PORT [--route 1,0|none] [--discover-to HOST]
                                  [--connection-size N] [--timeout S] NAME=TYPE[N] ...

The SPEC strings are the ones the server was started with. Steps, each printing `ok <what>`
(or `FAIL <what>: <why>`, after which the script goes on and finally exits 1):

1. discover: CIPDriver.discover(), its UDP ListIdentity (always to port 44818) redirected to
   HOST:PORT (or --discover-to, e.g. a loopback broadcast address) so nothing leaves the
   machine; and CIPDriver.list_identity() over TCP.
2. list: LogixDriver.open() uploads the tag list (get_tag_list(program='*')); it must hold
   exactly the SPEC tags with their types and dimensions as pycomm3 reports a Logix
   controller's (BOOL[N] as DWORD [N/32, 0, 0], STRING through its template), program-scoped
   specs (`Program:Main.X=DINT`) by their full names, and info['programs'] must name exactly
   their programs; get_tag_list(program='Main') must list exactly that program's tags.
3. every tag: write a pattern (enip_common.pattern) and read it back, whole arrays in one call
   (fragmented services when they do not fit), the last element alone, BOOL array bits and
   bits of DINTs (Read Modify Write).
4. multi: one read(*tags) of every scalar tag (Multiple Service Packet).
5. fragmented: one read('X{N}') of every DINT array of 1000 or more elements.

--route selects the CIP route pycomm3 puts in Forward Open and Unconnected Send: `1,0` (its
default for a plain address: backplane port 1, slot 0) or `none` (empty route).
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


def ok(what):
    print(f"ok {what}", flush=True)


def fail(what, why):
    failures.append(what)
    print(f"FAIL {what}: {why}", flush=True)


def check(what, result):
    results = result if isinstance(result, list) else [result]
    bad = [(r.tag, r.error) for r in results if r.error]
    if bad:
        fail(what, f"errors {bad[:5]}")
        return False
    return True


def discover(cip_driver, host, port, discover_to):
    undo = enip_common.loopback_discovery(cip_driver, discover_to or host, port)
    try:
        devices = cip_driver.CIPDriver.discover()
    finally:
        undo()
    if not devices:
        fail("discover", "no device answered ListIdentity")
    else:
        d = devices[0]
        if not d.get("product_name") or "revision" not in d:
            fail("discover", f"incomplete identity {d!r}")
        else:
            ok(f"discover {len(devices)} answer(s): product {d['product_name']!r} vendor "
               f"{d['vendor']!r} type {d['product_type']!r} code {d['product_code']} revision "
               f"{d['revision']['major']}.{d['revision']['minor']} serial {d['serial']} "
               f"address {d['ip_address']} state {d['state']}")
    identity = cip_driver.CIPDriver.list_identity(f"{host}:{port}")
    if not identity or not identity.get("product_name"):
        fail("list_identity", f"got {identity!r}")
    else:
        ok(f"list_identity over TCP: product {identity['product_name']!r}")


def expected_listing(tag):
    """(data_type_name, dimensions) as pycomm3 reports a Logix tag of this spec."""
    if tag.is_bool_array:
        return ("DWORD", [tag.count // 32, 0, 0])
    return (tag.type, [tag.count or 0, 0, 0])


def tag_list(plc, tags):
    listed = plc.tags
    want = {t.name for t in tags}
    if set(listed) != want:
        fail("list", f"missing {sorted(want - set(listed))} unexpected "
             f"{sorted(set(listed) - want)}")
        return
    bad = []
    for t in tags:
        got = listed[t.name]
        dtype, dims = expected_listing(t)
        if got["data_type_name"] != dtype or list(got["dimensions"]) != dims:
            bad.append(f"{t.name}: want {dtype} {dims}, got {got['data_type_name']!r} "
                       f"{got['dimensions']}")
        if t.type == "STRING" and got["tag_type"] != "struct":
            bad.append(f"{t.name}: want a struct, got {got['tag_type']}")
    want_programs = sorted(p[len("Program:"):] for p in programs(tags))
    if sorted(plc.info.get("programs", {})) != want_programs:
        bad.append(f"programs: want {want_programs}, got {sorted(plc.info.get('programs', {}))}")
    if bad:
        fail("list", "; ".join(bad[:10]))
    else:
        ok(f"list {len(listed)} tags match the spec ({len(want_programs)} programs, controller "
           f"{plc.info.get('name')!r}, revision {plc.revision_major})")


def program_lists(plc, tags):
    """get_tag_list(program=NAME) of each program: exactly its tags, by their full names."""
    for p in programs(tags):
        name = p[len("Program:"):]
        got = sorted(t["tag_name"] for t in plc.get_tag_list(program=name, cache=False))
        want = sorted(t.name for t in tags if t.program == name)
        if got != want:
            fail(f"list {p}", f"want {want}, got {got}")
        else:
            ok(f"list {p}: {len(got)} tags")


def whole(tag):
    return tag.name if tag.count is None else f"{tag.name}{{{tag.count}}}"


def write_read(plc, tag, salt):
    want = values(tag, salt)
    what = f"{tag!r} write+read"
    if not check(f"{what} (write)", plc.write(whole(tag), want)):
        return
    r = plc.read(whole(tag))
    if not check(f"{what} (read)", r):
        return
    diff = first_difference(tag.type, want, r.value)
    if diff:
        fail(what, diff)
        return
    n = tag.count or 1
    ok(f"{what} ({n} element{'s' if n > 1 else ''})")


def element_access(plc, tag, salt):
    last = tag.count - 1
    want = enip_common.pattern(tag, last, salt)
    what = f"{tag.name}[{last}] read"
    r = plc.read(f"{tag.name}[{last}]")
    if check(what, r):
        diff = first_difference(tag.type, want, r.value)
        fail(what, diff) if diff else ok(what)
    if tag.is_bool_array:
        bit = min(37, last)
        for value in (not enip_common.pattern(tag, bit, salt), enip_common.pattern(tag, bit, salt)):
            what = f"{tag.name}[{bit}] bit write {value}"
            if not check(what, plc.write(f"{tag.name}[{bit}]", value)):
                return
            r = plc.read(whole(tag))
            if not check(what, r):
                return
            expect = values(tag, salt)
            expect[bit] = value
            diff = first_difference("BOOL", expect, r.value)
            fail(what, diff) if diff else ok(f"{what} (other bits kept)")


def dint_bit(plc, tag, salt):
    base = values(tag, salt)
    for bit, value in ((3, not (base >> 3) & 1), (3, bool((base >> 3) & 1))):
        what = f"{tag.name}.{bit} bit write {bool(value)}"
        if not check(what, plc.write(f"{tag.name}.{bit}", bool(value))):
            return
        r = plc.read(tag.name)
        if not check(what, r):
            return
        expect = (base & ~(1 << bit)) | (int(bool(value)) << bit)
        if r.value != expect:
            fail(what, f"want {expect}, got {r.value}")
            return
        ok(f"{what} (other bits kept)")


def multi_read(plc, tags, salt):
    scalars = [t for t in tags if t.count is None]
    if len(scalars) < 2:
        return
    results = plc.read(*[t.name for t in scalars])
    if not check("multi-read", results):
        return
    for t, r in zip(scalars, results):
        diff = first_difference(t.type, values(t, salt), r.value)
        if diff:
            fail("multi-read", f"{t.name}: {diff}")
            return
    ok(f"multi-read {len(scalars)} scalar tags in one read call")


def fragmented(plc, tag, salt):
    what = f"fragmented read {tag.name} ({tag.count} elements in one call)"
    r = plc.read(whole(tag))
    if check(what, r):
        diff = first_difference(tag.type, values(tag, salt), r.value)
        fail(what, diff) if diff else ok(what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("address")
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--route", default="1,0")
    ap.add_argument("--discover-to")
    ap.add_argument("--connection-size", type=int)
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    try:
        host, port = enip_common.split_address(args.address)
        tags = [enip_common.parse_spec(s) for s in args.specs]
        if args.route not in ("1,0", "none"):
            raise ValueError("--route must be 1,0 or none")
    except ValueError as err:
        print(f"FAIL arguments: {err}", flush=True)
        sys.exit(2)
    enip_common.Deadline(args.timeout, "the pycomm3 interop run")

    import pycomm3
    from pycomm3 import cip_driver, LogixDriver

    print(f"pycomm3 {pycomm3.__version__} against {host}:{port} route {args.route}", flush=True)
    salt = "pycomm3"
    try:
        discover(cip_driver, host, port, args.discover_to)
    except Exception as err:
        fail("discover", f"{type(err).__name__}: {err}")

    plc = LogixDriver(f"{host}:{port}")
    if args.route == "none":
        plc._cfg["cip_path"] = []  # what "host:port/..." paths without a slot would give
    if args.connection_size:
        plc._cfg["connection_size"] = args.connection_size
        plc._cfg["extended forward open"] = args.connection_size > 511
    try:
        plc.open()
    except Exception as err:
        fail("open (session, identity, forward open, tag list)", f"{type(err).__name__}: {err}")
        print(f"FAILED {len(failures)}", flush=True)
        sys.exit(1)
    ok(f"open: connection size {plc.connection_size}, "
       f"{'Large ' if plc._cfg['extended forward open'] else ''}Forward Open, "
       f"symbol instance addressing {'on' if plc._cfg['use_instance_ids'] else 'off'}")

    steps = [("list", lambda: tag_list(plc, tags))]
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
    try:
        plc.close()
    except Exception as err:
        fail("close", f"{type(err).__name__}: {err}")
    if failures:
        print(f"FAILED {len(failures)}", flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()
