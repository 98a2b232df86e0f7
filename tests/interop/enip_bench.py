"""Read N distinct DINT tags (T0 .. T{N-1}) from an EtherNet/IP server, as fast as a library can.

    python enip_bench.py pylogix|pycomm3 HOST:PORT N [--seconds S] [--timeout S]

Uses the call that reads many tags at once: pylogix `PLC.Read([names])`, pycomm3
`LogixDriver.read(*names)`. One call first (pylogix learns each tag's type with one request
per tag; pycomm3 has uploaded the tag list when it opened), then calls repeated for --seconds
(at least 3 calls). Every call must return every tag without error, else exit 1.

Prints `key value` lines:
    client, tags, warmup_requests, calls, requests, requests_per_call, seconds, tags_per_second
`requests` counts the encapsulation requests the library sent during the timed calls (its own
send function is wrapped); the server's own count is the one to trust for round trips.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enip_common  # noqa: E402


class Counter:
    def __init__(self):
        self.n = 0

    def wrap(self, fn):
        def counted(*args, **kwargs):
            self.n += 1
            return fn(*args, **kwargs)

        return counted


def pylogix_reader(host, port, names, counter):
    import pylogix

    plc = pylogix.PLC(host, port=port, timeout=10.0)
    plc.conn.send = counter.wrap(plc.conn.send)

    def read():
        responses = plc.Read(names)
        bad = [(r.TagName, r.Status) for r in responses if r.Status != "Success"]
        if len(responses) != len(names) or bad:
            raise RuntimeError(f"{len(responses)} answers, errors {bad[:5]}")

    return read, plc.Close


def pycomm3_reader(host, port, names, counter):
    from pycomm3 import LogixDriver

    plc = LogixDriver(f"{host}:{port}")
    plc._send = counter.wrap(plc._send)
    plc.open()

    def read():
        results = plc.read(*names)
        bad = [(r.tag, r.error) for r in results if r.error]
        if len(results) != len(names) or bad:
            raise RuntimeError(f"{len(results)} answers, errors {bad[:5]}")

    return read, plc.close


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("client", choices=["pylogix", "pycomm3"])
    ap.add_argument("address")
    ap.add_argument("n", type=int)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    try:
        host, port = enip_common.split_address(args.address)
        if args.n < 1:
            raise ValueError("N must be at least 1")
    except ValueError as err:
        print(f"FAIL arguments: {err}", flush=True)
        sys.exit(2)
    enip_common.Deadline(args.timeout, f"the {args.client} benchmark")

    names = [f"T{i}" for i in range(args.n)]
    counter = Counter()
    make = pylogix_reader if args.client == "pylogix" else pycomm3_reader
    try:
        read, close = make(host, port, names, counter)
        read()
        warmup = counter.n
        counter.n = 0
        calls = 0
        start = time.monotonic()
        while calls < 3 or time.monotonic() - start < args.seconds:
            read()
            calls += 1
        elapsed = time.monotonic() - start
        timed = counter.n
        close()
    except Exception as err:
        print(f"FAIL {args.client}: {type(err).__name__}: {err}", flush=True)
        sys.exit(1)
    print(f"client {args.client}")
    print(f"tags {args.n}")
    print(f"warmup_requests {warmup}")
    print(f"calls {calls}")
    print(f"requests {timed}")
    print(f"requests_per_call {timed / calls:.2f}")
    print(f"seconds {elapsed:.3f}")
    print(f"tags_per_second {args.n * calls / elapsed:.0f}", flush=True)


if __name__ == "__main__":
    main()
