"""`python -m bench.servers.trivial --port N`: answers every request 200 at once (raw asyncio protocol, uvloop).

Only used to find the load generators' own ceilings: it does far less per request than any server measured.
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n"
_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


class TrivialHttp(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        answers = 0
        while True:
            end = self._buffer.find(_HEADER_END)
            if end < 0:
                break
            head = bytes(self._buffer[:end]).lower()
            at = head.find(_CONTENT_LENGTH)
            length = 0
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + len(_CONTENT_LENGTH) : line_end if line_end >= 0 else None])
            total = end + 4 + length
            if len(self._buffer) < total:
                break
            del self._buffer[:total]
            answers += 1
        if answers and self._transport is not None:
            self._transport.write(_RESPONSE * answers)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(TrivialHttp, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.servers.trivial")
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
