"""pymodbus (3.x) client against a ptk Modbus server: every function code ptk serves, and an
exception response.

Usage: python pymodbus_client.py HOST:PORT

The server must serve ptk's default map (examples/modbus_server.rs and the interop test):
at least 1000 of each table from address 0, discrete input i on for odd i, input register i
holding i, coils and holding registers writable. Prints one "ok ..." line per check; exits 1 on
the first failure.
"""

import sys

from pymodbus.client import ModbusTcpClient


def check(what, got, expected):
    if got != expected:
        print(f"FAIL {what}: got {got!r}, expected {expected!r}")
        sys.exit(1)
    print(f"ok {what}")


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    client = ModbusTcpClient(host, port=int(port), timeout=5, retries=0)
    if not client.connect():
        print(f"FAIL cannot connect to {sys.argv[1]}")
        sys.exit(1)
    unit = 1

    r = client.write_coil(500, True, device_id=unit)
    check("fc05 write single coil", (r.isError(), r.address, r.bits[0]), (False, 500, True))
    r = client.write_coils(501, [False, True, True], device_id=unit)
    check("fc15 write multiple coils", (r.isError(), r.address, r.count), (False, 501, 3))
    r = client.read_coils(500, count=5, device_id=unit)
    check("fc01 read coils", r.bits[:5], [True, False, True, True, False])
    r = client.read_discrete_inputs(10, count=4, device_id=unit)
    check("fc02 read discrete inputs", r.bits[:4], [False, True, False, True])
    r = client.write_register(600, 0xBEEF, device_id=unit)
    check("fc06 write single register", (r.isError(), r.address, r.registers), (False, 600, [0xBEEF]))
    r = client.write_registers(601, [1, 2, 3], device_id=unit)
    check("fc16 write multiple registers", (r.isError(), r.address, r.count), (False, 601, 3))
    r = client.read_holding_registers(600, count=4, device_id=unit)
    check("fc03 read holding registers", r.registers, [0xBEEF, 1, 2, 3])
    r = client.read_input_registers(997, count=3, device_id=unit)
    check("fc04 read input registers", r.registers, [997, 998, 999])
    r = client.readwrite_registers(
        read_address=602, read_count=3, write_address=603, values=[7, 8], device_id=unit
    )
    check("fc23 read/write multiple registers", r.registers, [2, 7, 8])
    r = client.read_holding_registers(65534, count=2, device_id=unit)
    check("exception: read holding past the map", (r.isError(), r.exception_code), (True, 2))
    client.close()
    print("pymodbus client: all checks passed")


if __name__ == "__main__":
    main()
