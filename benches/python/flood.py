"""Delivery benchmark, Python figure: connects to benches' flood_peer (PORT, N), counts the
assistant.message_delta events delivered into an on() callback, checks their order, and prints
one JSON line (events per second from send to the turn's end delivered)."""
import asyncio
import json
import sys
import time

from copilot import CopilotClient


async def main(port: int, n: int) -> None:
    client = CopilotClient({"cli_url": f"127.0.0.1:{port}"})
    await client.start()
    session = await client.create_session({})
    state = {"count": 0, "in_order": True}
    idle = asyncio.Event()

    def on_event(ev):
        if ev.type == "assistant.message_delta":
            if ev.data["deltaContent"] != f"{state['count']} ":
                state["in_order"] = False
            state["count"] += 1
        elif ev.type == "session.idle":
            idle.set()

    session.on(on_event)
    t0 = time.perf_counter()
    await session.send_and_wait("flood", timeout=600)
    await idle.wait()
    secs = time.perf_counter() - t0
    print(json.dumps({"lang": "python", "events": state["count"], "expected": n, "in_order": state["in_order"],
                      "seconds": round(secs, 4), "per_sec": round(state["count"] / secs)}))
    await client.stop()


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
