"""A pymodbus (3.x) server for ptk's client: 1000 of each table, discrete input i on for odd
i, input register i holding i, coils and holding registers writable, holding register 4
holding 0x12 (for mask write), and a device identification (vendor "pymodbus-interop",
product code "PI-1", revision "3.16").

Usage: python pymodbus_server.py PORT

Prints "listening" once the port is bound, then serves until killed. The other functions
(exception status, diagnostics, comm event counter and log, server id, file records, FIFO
queue) are pymodbus's own answers.
"""

import asyncio
import sys

from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import StartAsyncTcpServer

N = 1000


async def main():
    port = int(sys.argv[1])
    holding = [0] * N
    holding[4] = 0x12
    # pymodbus datastores add 1 to every request address: a block from 1 serves address 0.
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * N),
        di=ModbusSequentialDataBlock(1, [i % 2 == 1 for i in range(N)]),
        hr=ModbusSequentialDataBlock(1, holding),
        ir=ModbusSequentialDataBlock(1, list(range(N))),
    )
    context = ModbusServerContext(devices=device, single=True)
    identity = ModbusDeviceIdentification(
        info_name={
            "VendorName": "pymodbus-interop",
            "ProductCode": "PI-1",
            "MajorMinorRevision": "3.16",
        }
    )
    server = StartAsyncTcpServer(context, identity=identity, address=("127.0.0.1", port))
    asyncio.get_running_loop().call_later(0.3, lambda: print("listening", flush=True))
    await server


if __name__ == "__main__":
    asyncio.run(main())
