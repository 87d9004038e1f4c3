"""Exit safety: scripts that end while the library still delivers (events streaming, a connection
just lost, clients left running) exit with code 0, every time. Before the native gate, a
runtime thread taking the GIL during interpreter finalization was ended by CPython with
pthread_exit, unwinding through Rust frames: SIGABRT."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

import pytest

from copilot import CopilotClient

from conftest import TOKEN, FakeModel, cli_env, cli_path, own_cli_options

# Stands in for a CLI server that can be SIGKILLed (spawning a real CLI costs ~3 s of CPU): a
# TCP forwarder in front of one. Killing it drops the client's connection without a goodbye,
# as the CLI's death does.
FORWARDER = """
import asyncio, sys

async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except OSError:
        pass
    finally:
        w.close()

async def handle(cr, cw):
    ur, uw = await asyncio.open_connection("127.0.0.1", int(sys.argv[1]))
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

SCRIPT = """
import asyncio, json, os, signal, subprocess, sys
from copilot import CopilotClient

mode, port1, port2, token, provider, spawn_opts, forwarder = json.loads(sys.argv[1])

async def main():
    if mode == "ping":
        c = CopilotClient(cli_url=f"127.0.0.1:{port1}", connection_token=token)
        await c.start()
        await c.ping("exit test")
        await c.stop()
        return
    if mode == "session":
        c = CopilotClient(cli_url=f"127.0.0.1:{port2}", connection_token=token)
        s = await c.create_session(model="gpt-4.1", provider=provider)
        assert (await s.send_and_wait("REPLY bye")).data.content == "bye"
        await c.stop()
        return
    # Two clients on two CLI servers; the first one's CLI is SIGKILLed mid-stream.
    fwd = None
    if mode == "kill":
        fwd = subprocess.Popen([sys.executable, "-c", forwarder, str(port1)], stdout=subprocess.PIPE, text=True)
        a = CopilotClient(cli_url=f"127.0.0.1:{fwd.stdout.readline().strip()}", connection_token=token)
    else:  # "kill-cli": a CLI of its own
        a = CopilotClient(spawn_opts)
    b = CopilotClient(cli_url=f"127.0.0.1:{port2}", connection_token=token)
    b.on_lifecycle(lambda ev: None)
    await a.start()
    sessions = [await c.create_session(model="gpt-4.1", provider=provider, streaming=True) for c in (a, b)]
    for s in sessions:
        s.on(lambda ev: None)
        await s.send("SLOW 200 2")
    await sessions[0].events("assistant.message_delta").__anext__()
    os.kill(fwd.pid if fwd else a.cli_pid, signal.SIGKILL)
    await a.force_stop()
    if fwd:
        fwd.wait()
    # b is left running, its events still streaming: the script ends here.

asyncio.run(main())
"""


@pytest.fixture(scope="module")
async def second_cli(sandbox: Dict[str, str], fake_model: FakeModel) -> Any:
    c = CopilotClient(cli_path=cli_path(), use_stdio=False, port=0, connection_token=TOKEN,
                      env=cli_env(sandbox, fake_model), cwd=sandbox["work"], use_logged_in_user=False)
    await c.start()
    yield c
    await c.stop()


def test_scripts_exit_cleanly_while_deliveries_are_in_flight(shared_cli: CopilotClient, second_cli: CopilotClient,
                                                           sandbox: Dict[str, str], fake_model: FakeModel) -> None:
    runs = ["kill-cli"] * 2 + ["kill"] * 24 + ["ping"] * 12 + ["session"] * 12
    common = [shared_cli.port, second_cli.port, TOKEN, fake_model.provider, own_cli_options(sandbox), FORWARDER]

    def run(mode: str) -> Tuple[str, int, str]:
        p = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([mode, *common])], capture_output=True,
                           text=True, timeout=90)
        return mode, p.returncode, p.stderr

    with ThreadPoolExecutor(max_workers=6) as pool:
        results: List[Tuple[str, int, str]] = list(pool.map(run, runs))
    failed = [(mode, code, err[-2000:]) for mode, code, err in results if code != 0]
    assert not failed, f"{len(failed)} of {len(runs)} scripts did not exit with 0: {failed[:3]}"
