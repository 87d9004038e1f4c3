"""Fixtures: the real Copilot CLI (one shared TCP server with a connection token, started through
this SDK) and the scripted fake model (tests/fake-model) as its BYOK provider."""
from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import tempfile
from typing import Any, Dict, Iterator

import pytest

from copilot import CopilotClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "python-suite-token"


def cli_path() -> str:
    p = os.environ.get("COPILOT_CLI_PATH")
    if p:
        return p
    return subprocess.run([str(ROOT / "tests/install-cli.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def fake_model_bin() -> str:
    p = os.environ.get("FAKE_MODEL_BIN") or str(ROOT / "target/debug/fake-model")
    if not os.path.exists(p):
        subprocess.run(["cargo", "build", "-q", "-p", "fake-model"], cwd=ROOT, check=True)
    return p


class FakeModel:
    def __init__(self, log: bool = False) -> None:
        args = [fake_model_bin()]
        self.log_path = None
        if log:
            fd, self.log_path = tempfile.mkstemp(suffix=".jsonl")
            os.close(fd)
            args += ["--log", self.log_path]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("fake-model listening on "), line
        self.base_url = line.rsplit(" ", 1)[1]

    @property
    def provider(self) -> Dict[str, Any]:
        return {"type": "openai", "base_url": self.base_url, "api_key": "x"}

    def requests(self) -> list:
        import json
        with open(self.log_path) as f:  # type: ignore[arg-type]
            return [json.loads(line) for line in f if line.strip()]

    def close(self) -> None:
        self.proc.stdin.close()  # the fake model exits when its stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # another process holds the pipe (a forked child)
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def fake_model() -> Iterator[FakeModel]:
    m = FakeModel()
    yield m
    m.close()


@pytest.fixture(scope="session")
def sandbox() -> Dict[str, str]:
    base = tempfile.mkdtemp(prefix="copilot-py-tests-")
    home, work = os.path.join(base, "home"), os.path.join(base, "work")
    os.makedirs(home)
    os.makedirs(work)
    return {"home": home, "work": work}


def cli_env(sandbox: Dict[str, str], model: FakeModel | None = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_") and k != "HOME"}
    env["HOME"] = sandbox["home"]
    if model is not None:
        # Server-level BYOK, so the backend-services samples (which pass no provider) run offline.
        env.update({"COPILOT_OFFLINE": "true", "COPILOT_PROVIDER_BASE_URL": model.base_url,
                    "COPILOT_PROVIDER_TYPE": "openai", "COPILOT_PROVIDER_API_KEY": "x", "COPILOT_MODEL": "gpt-4.1"})
    return env


def own_cli_options(sandbox: Dict[str, str], **extra: Any) -> Dict[str, Any]:
    return {"cli_path": cli_path(), "env": cli_env(sandbox), "cwd": sandbox["work"], "use_logged_in_user": False,
            **extra}


@pytest.fixture(scope="session")
async def shared_cli(sandbox: Dict[str, str], fake_model: FakeModel) -> Any:
    owner = CopilotClient(cli_path=cli_path(), use_stdio=False, port=0, connection_token=TOKEN,
                          env=cli_env(sandbox, fake_model), cwd=sandbox["work"], use_logged_in_user=False)
    await owner.start()
    yield owner
    await owner.stop()


@pytest.fixture
async def client(shared_cli: CopilotClient) -> Any:
    c = CopilotClient({"cli_url": f"127.0.0.1:{shared_cli.port}", "connection_token": TOKEN})
    await c.start()
    yield c
    await c.stop()


class ByokProxy:
    """Stands in for "a CLI server that has model access": a loopback TCP proxy in front of the
    shared CLI that adds the fake model as `provider` to session.create / session.resume
    requests that carry none. The CLI ignores its BYOK environment for SDK sessions, so this is
    how the backend-services samples run verbatim (no provider in their code) offline."""

    def __init__(self, upstream_port: int, provider: Dict[str, Any]) -> None:
        self.upstream_port = upstream_port
        self.provider = {"type": "openai", "baseUrl": provider["base_url"], "apiKey": "x"}
        self.server: Any = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        import json
        ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def down() -> None:
            while data := await ur.read(65536):
                cw.write(data)
                await cw.drain()
            cw.close()

        async def up() -> None:
            while True:
                header = await cr.readuntil(b"\r\n\r\n")
                length = next(int(l.split(b":")[1]) for l in header.split(b"\r\n")
                              if l.lower().startswith(b"content-length"))
                msg = json.loads(await cr.readexactly(length))
                if msg.get("method") in ("session.create", "session.resume"):
                    msg.setdefault("params", {}).setdefault("provider", self.provider)
                body = json.dumps(msg).encode()
                uw.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                await uw.drain()

        task = asyncio.ensure_future(down())
        try:
            await up()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            uw.close()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="session")
async def byok_server(shared_cli: CopilotClient, fake_model: FakeModel) -> Any:
    proxy = ByokProxy(shared_cli.port, fake_model.provider)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
def base_config(fake_model: FakeModel) -> Dict[str, Any]:
    return {"model": "gpt-4.1", "provider": fake_model.provider}


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


async def wait_dead(pid: int, within: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while loop.time() < end:
        if not pid_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not pid_alive(pid)


# ---------------------------------------------------------------- strict types (COPILOT_STRICT_TYPES=1)

def pytest_terminal_summary(terminalreporter: Any) -> None:
    from copilot import _protocol_rt as rt
    if not rt.STRICT:
        return
    terminalreporter.write_line(rt.strict_summary())
    for f in rt.STATS.failures[:50]:
        terminalreporter.write_line(f"  strict types failure: {f}")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    from copilot import _protocol_rt as rt
    if rt.STRICT and rt.STATS.failures and session.exitstatus == 0:
        session.exitstatus = 1
