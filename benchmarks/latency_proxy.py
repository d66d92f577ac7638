"""A loopback TCP proxy that holds every byte for a fixed time in each direction: a Redis server
made as far away as another machine, for the latency figures of the scaling benchmark.

    python -m benchmarks.latency_proxy --target HOST:PORT --delay-ms MS [--counts FILE]

It prints its port once listening. Bytes keep their order and are never coalesced beyond what
arrived together, so a round trip through it costs 2 x MS more than direct. On SIGTERM it
writes what the clients asked for to --counts as JSON: Redis commands by name (a script by its
SHA1, or the SHA1 of its body when sent with EVAL) and round trips, a round trip being a burst
of client bytes sent after the server's last reply on that connection, i.e. one wait. SIGUSR1
starts the count again.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import signal
import sys
from pathlib import Path


class CommandCounter:
    """Counts the Redis commands (RESP arrays) a client sends, fed its bytes as they come."""

    def __init__(self, counts: collections.Counter[str]) -> None:
        self.counts = counts
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while (command := self._next()) is not None:
            if not command:
                continue
            name = command[0].decode(errors="replace").upper()
            if name == "EVALSHA" and len(command) > 1:
                name = f"EVALSHA {command[1].decode(errors='replace')}"
            elif name == "EVAL" and len(command) > 1:
                name = f"EVALSHA {hashlib.sha1(command[1]).hexdigest()}"
            self.counts[name] += 1

    def _next(self) -> list[bytes] | None:
        """The next whole command, consumed from the buffer; None until one has arrived."""
        buf = self.buffer
        if not buf.startswith(b"*"):  # an inline command: one line
            end = buf.find(b"\r\n")
            if end < 0:
                return None
            self.buffer = buf[end + 2 :]
            return buf[:end].split()
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        pos, args = end + 2, []
        for _ in range(int(buf[1:end])):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size = int(buf[pos + 1 : end])
            if len(buf) < end + 2 + size + 2:
                return None
            args.append(buf[end + 2 : end + 2 + size])
            pos = end + 2 + size + 2
        self.buffer = buf[pos:]
        return args


class LatencyProxy:
    def __init__(self, target: tuple[str, int], delay_s: float) -> None:
        self.target = target
        self.delay_s = delay_s
        self.commands: collections.Counter[str] = collections.Counter()
        self.round_trips = 0
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        counter = CommandCounter(self.commands)
        waiting = [True]  # the client's next bytes start a round trip

        def sent(data: bytes) -> None:
            if waiting[0]:
                self.round_trips += 1
                waiting[0] = False
            counter.feed(data)

        def replied(data: bytes) -> None:
            waiting[0] = True

        with contextlib.suppress(asyncio.CancelledError):  # the proxy is stopping
            await asyncio.gather(
                self.pipe(reader, up_writer, sent), self.pipe(up_reader, writer, replied)
            )

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   seen: collections.abc.Callable[[bytes], None]) -> None:  # fmt: skip
        """Copy reader to writer, each chunk written delay_s after it arrived, in order."""
        loop = asyncio.get_running_loop()
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await held.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()

        delivering = asyncio.create_task(deliver())
        try:
            while data := await reader.read(1 << 16):
                seen(data)
                held.put_nowait((loop.time() + self.delay_s, data))
        except ConnectionError:
            pass
        held.put_nowait((loop.time() + self.delay_s, b""))
        with contextlib.suppress(ConnectionError):
            await delivering

    def reset(self) -> None:
        self.commands.clear()
        self.round_trips = self.connections = 0

    def counts(self) -> dict[str, object]:
        return {
            "delay_ms": self.delay_s * 1000,
            "connections": self.connections,
            "round_trips": self.round_trips,
            "commands": dict(self.commands.most_common()),
        }


async def run(args: argparse.Namespace) -> None:
    host, port = args.target.rsplit(":", 1)
    proxy = LatencyProxy((host, int(port)), args.delay_ms / 1000)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, proxy.reset)
    await stop.wait()
    server.close()
    if args.counts:
        Path(args.counts).write_text(json.dumps(proxy.counts(), indent=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency_proxy", description=__doc__)
    p.add_argument("--target", required=True, metavar="HOST:PORT")
    p.add_argument("--delay-ms", type=float, required=True, help="added each way")
    p.add_argument("--counts", metavar="FILE", help="write the command counts here on SIGTERM")
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
