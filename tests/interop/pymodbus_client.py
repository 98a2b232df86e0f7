"""pymodbus (3.x) client against a ptk Modbus server: every function code ptk serves that
pymodbus's client has, and exception responses.

Usage: python pymodbus_client.py HOST:PORT

The server must serve ptk's default map (the interop test's model): at least 1000 of each
table from address 0, discrete input i on for odd i, input register i holding i, coils and
holding registers writable, holding register 4 holding 0x12, a FIFO at holding register 900
of the two values 0x01B8 and 0x1284, exception status 0x6D, file 1 of at least 10 records, and
the identification of ptk's MemoryModel (vendor "ptk", product code "ptk-modbus"). Prints one
"ok ..." line per check; exits 1 on the first failure.
"""

import sys

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu.file_message import FileRecord


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

    r = client.read_exception_status(device_id=unit)
    check("fc07 read exception status", (r.isError(), r.status), (False, 0x6D))
    r = client.diag_query_data(b"\xa5\x37\x01\x02", device_id=unit)
    check("fc08/00 return query data", (r.isError(), r.message), (False, b"\xa5\x37\x01\x02"))
    r = client.diag_clear_counters(device_id=unit)
    check("fc08/0a clear counters", (r.isError(), r.sub_function_code), (False, 0x0A))
    # Counted from the clear: each request counts itself.
    r = client.diag_read_bus_message_count(device_id=unit)
    check("fc08/0b bus message count", r.message, 1)
    r = client.diag_read_device_message_count(device_id=unit)
    check("fc08/0e server message count", r.message, 2)
    r = client.diag_read_bus_exception_error_count(device_id=unit)
    check("fc08/0d bus exception error count (none yet)", r.message, 0)
    r = client.diag_read_diagnostic_register(device_id=unit)
    check("exception: fc08/02 is not served", (r.isError(), r.exception_code), (True, 3))
    r = client.diag_read_bus_exception_error_count(device_id=unit)
    check("fc08/0d bus exception error count", r.message, 1)
    for name, call in [
        ("fc08/0c bus communication error count", client.diag_read_bus_comm_error_count),
        ("fc08/0f server no response count", client.diag_read_device_no_response_count),
        ("fc08/10 server NAK count", client.diag_read_device_nak_count),
        ("fc08/11 server busy count", client.diag_read_device_busy_count),
        ("fc08/12 character overrun count", client.diag_read_bus_char_overrun_count),
    ]:
        r = call(device_id=unit)
        check(name, (r.isError(), r.message), (False, 0))
    first = client.diag_get_comm_event_counter(device_id=unit)
    again = client.diag_get_comm_event_counter(device_id=unit)
    check("fc11 comm event counter does not count itself", (again.status, again.count), (True, first.count))
    client.write_register(10, 1, device_id=unit)
    r = client.diag_get_comm_event_counter(device_id=unit)
    check("fc11 comm event counter counts a write", r.count, first.count + 1)
    r = client.diag_read_bus_message_count(device_id=unit)
    messages = r.message
    r = client.diag_get_comm_event_log(device_id=unit)
    check(
        "fc12 comm event log",
        (r.status, r.message_count, r.event_count, r.events[:3]),
        (True, messages + 1, first.count + 2, [0x80, 0x40, 0x80]),
    )
    r = client.report_device_id(device_id=unit)
    check("fc17 report server id", (r.isError(), r.identifier, r.status), (False, b"ptk-modbus", True))
    data = b"\x00\x0a\x00\x14\x00\x1e"
    r = client.write_file_record([FileRecord(file_number=1, record_number=5, record_data=data)], device_id=unit)
    check("fc21 write file record", (r.isError(), r.records[0].record_data), (False, data))
    # pymodbus takes the record length in bytes.
    r = client.read_file_record([FileRecord(file_number=1, record_number=4, record_length=8)], device_id=unit)
    check("fc20 read file record", (r.isError(), r.records[0].record_data), (False, b"\x00\x00" + data))
    r = client.read_file_record([FileRecord(file_number=9, record_number=0, record_length=2)], device_id=unit)
    check("exception: fc20 of a file the server does not have", (r.isError(), r.exception_code), (True, 2))
    r = client.mask_write_register(address=4, and_mask=0xF2, or_mask=0x25, device_id=unit)
    check("fc22 mask write register", (r.isError(), r.and_mask, r.or_mask), (False, 0xF2, 0x25))
    r = client.read_holding_registers(4, count=1, device_id=unit)
    check("fc22 result: (0x12 AND 0xF2) OR (0x25 AND NOT 0xF2)", r.registers, [0x17])
    r = client.read_fifo_queue(address=900, device_id=unit)
    check("fc24 read FIFO queue", (r.isError(), r.values), (False, [0x01B8, 0x1284]))
    r = client.read_device_information(read_code=1, object_id=0, device_id=unit)
    check(
        "fc43/14 read device identification",
        (r.isError(), r.conformity, r.more_follows, r.information[0], r.information[1]),
        (False, 0x81, 0, b"ptk", b"ptk-modbus"),
    )
    r = client.read_device_information(read_code=4, object_id=0x42, device_id=unit)
    check("exception: fc43/14 of an object that does not exist", (r.isError(), r.exception_code), (True, 2))
    client.close()
    print("pymodbus client: all checks passed")


if __name__ == "__main__":
    main()
