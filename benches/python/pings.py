"""Ping throughput with 64 calls in flight, Python SDK vs a pipelined raw asyncio client, in the
same run against one `copilot --headless` CLI (TCP, loopback). Not a test: the ratio matters.

    target/py-test-venv/bin/python benches/python/pings.py [TOTAL=20000] [ROUNDS=3]

Both sides run 64 coroutines that each await pings one after another. The raw client is the
floor an asyncio program can reach by hand: one connection, hand-framed JSON-RPC, one reader
task resolving futures by id. Rounds alternate between the two; the median rate of each is
reported, then ours / raw (target: >= 0.5).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict

from copilot import CopilotClient

TOKEN = "pings-bench-token"
INFLIGHT = 64


class RawClient:
    """Pipelined JSON-RPC over asyncio streams: writes frames, one reader resolves by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.pending: Dict[int, asyncio.Future[Any]] = {}
        self.next = 0
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, port: int) -> "RawClient":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = cls(reader, writer)
        await c.call("connect", {"token": TOKEN})
        return c

    def call(self, method: str, params: Dict[str, Any]) -> "asyncio.Future[Any]":
        self.next += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next] = fut
        body = json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}).encode()
        self.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return fut

    async def _read(self) -> None:
        while True:
            header = await self.reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            msg = json.loads(await self.reader.readexactly(length))
            fut = self.pending.pop(msg.get("id"), None) if "method" not in msg else None
            if fut is not None and not fut.done():
                fut.set_result(msg.get("result"))

    async def close(self) -> None:
        self.task.cancel()
        self.writer.close()


async def rate(ping: Any, total: int) -> float:
    per = total // INFLIGHT

    async def worker() -> None:
        for _ in range(per):
            await ping()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(INFLIGHT)))
    return per * INFLIGHT / (time.perf_counter() - t)


async def main(total: int, rounds: int) -> None:
    home = tempfile.mkdtemp(prefix="copilot-pings-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_") and k != "HOME"}
    env["HOME"] = home
    cli = CopilotClient(use_stdio=False, port=0, connection_token=TOKEN, env=env, cwd=home,
                        use_logged_in_user=False, **({"cli_path": os.environ["COPILOT_CLI_PATH"]}
                                                     if "COPILOT_CLI_PATH" in os.environ else {}))
    await cli.start()
    try:
        ours = CopilotClient(cli_url=f"127.0.0.1:{cli.port}", connection_token=TOKEN)
        await ours.start()
        raw = await RawClient.connect(cli.port)  # type: ignore[arg-type]
        await rate(ours.ping, INFLIGHT * 10)  # warm-up
        await rate(lambda: raw.call("ping", {}), INFLIGHT * 10)
        o, r = [], []
        for _ in range(rounds):
            o.append(await rate(ours.ping, total))
            r.append(await rate(lambda: raw.call("ping", {}), total))
        ours_rate, raw_rate = statistics.median(o), statistics.median(r)
        print(f"{INFLIGHT}-in-flight pings/s   python sdk {ours_rate:10.0f}   raw asyncio {raw_rate:10.0f}   "
              f"ratio {ours_rate / raw_rate:.2f}x  (median of {rounds} rounds of {total})")
        await raw.close()
        await ours.stop()
    finally:
        await cli.stop()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 20000, args[1] if len(args) > 1 else 3))
