"""Surviving the CLI, against the real CLI (ported from core/tests/reliability.rs and proxy.rs):
restarts on the same port (idle and mid-turn), a hung CLI (SIGSTOP), a lossy path (the
tests/chaos proxy), a spawned CLI that dies (restart budget, no orphan), kill/restart cycles that
must not leak, hostile peers, cancellation reaching handlers, and the new options.

Every wait is bounded; every process started here is killed, also when a test fails.
"""
from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import threading
import time
from datetime import timedelta
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from copilot import (CopilotClient, CopilotError, CopilotTimeoutError, FrameHeaderError, InvalidConfigError,
                     InvalidJsonError, LifecycleEvent, MessageTooLargeError, ReconnectFailedError,
                     TransportClosedError, TurnOutcomeUnknownError)

from conftest import ROOT, cli_path, own_cli_options

# Quick reconnection: the server comes back within a few seconds.
FAST = {"initial_delay": 0.05, "max_delay": 0.3, "max_attempts": 200, "call_wait": 20}
CONNECTION_EVENTS = ("connection.lost", "connection.reconnecting", "connection.restored", "connection.gave_up")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExternalCli:
    """A CLI server started by the test (``--headless --port N``), so it can be killed, stopped
    and started again on the same port, like a service manager would."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="copilot-py-reliability-")
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_") and k != "HOME"}
        env["HOME"] = self.home
        self.proc = subprocess.Popen([cli_path(), "--headless", "--no-auto-update", "--port", str(self.port)],
                                     env=env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        out = self.proc.stdout
        assert out is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = out.readline()
            assert line, "the CLI exited before listening"
            if "listening on port" in line:
                break
        else:
            raise AssertionError("the CLI did not announce its port")
        # Keep draining stdout so the CLI never blocks on it.
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    async def stop(self) -> None:
        """SIGSTOP, then wait until every thread of the CLI is stopped (the signal is asynchronous)."""
        self.signal(signal.SIGSTOP)
        pid = self.proc.pid

        def stopped() -> bool:
            try:
                return all(pathlib.Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(") ", 1)[1][0] in "tT"
                           for t in os.listdir(f"/proc/{pid}/task"))
            except (OSError, IndexError):
                return False

        deadline = time.monotonic() + 5
        while not stopped():
            assert time.monotonic() < deadline, f"the CLI ({pid}) did not stop"
            await asyncio.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.proc is not None:
            self.signal(signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        self.signal(signal.SIGCONT)
        self.kill()


def chaos_bin() -> str:
    p = os.environ.get("COPILOT_CHAOS_PATH") or str(ROOT / "target/debug/copilot-chaos")
    if not os.path.exists(p):
        subprocess.run(["cargo", "build", "-q", "-p", "copilot-chaos"], cwd=ROOT, check=True)
    return p


class Chaos:
    """tests/chaos: the fault-injection proxy or a hostile peer, commanded over stdin."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([chaos_bin(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("listening on port "), line
        self.port = int(line.rsplit(" ", 1)[1])

    def cmd(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        answer = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert answer.startswith("ok " + command.split()[0]), f"{command}: {answer}"
        return answer

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]  (EOF ends it)
            self.proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()


class Life:
    """A client's lifecycle notifications, through the public ``on_lifecycle``."""

    def __init__(self, client: CopilotClient) -> None:
        self.queue: "asyncio.Queue[LifecycleEvent]" = asyncio.Queue()
        self.seen: List[LifecycleEvent] = []
        client.on_lifecycle(self._put)

    def _put(self, ev: LifecycleEvent) -> None:
        self.seen.append(ev)
        self.queue.put_nowait(ev)

    async def next(self, event_type: str, within: float = 30.0) -> LifecycleEvent:
        async def wait() -> LifecycleEvent:
            while True:
                ev = await self.queue.get()
                if ev.type == event_type:
                    return ev
        try:
            return await asyncio.wait_for(wait(), within)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {event_type} within {within} s; saw {[e.type for e in self.seen]}") from None


def resources() -> Tuple[int, int, int]:
    """Open descriptors, threads and resident memory (KiB) of this process."""
    fds = len(os.listdir("/proc/self/fd"))
    status = dict(line.split(":", 1) for line in pathlib.Path("/proc/self/status").read_text().splitlines()
                  if ":" in line)
    return fds, int(status["Threads"].split()[0]), int(status["VmRSS"].split()[0])


def children_matching(needle: str) -> Set[int]:
    """Live children of this process whose command line mentions ``needle``."""
    me, out = os.getpid(), set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = pathlib.Path(f"/proc/{name}/stat").read_text().rsplit(") ", 1)[1].split()
            cmd = pathlib.Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(stat[1]) == me and stat[0] != "Z" and needle in cmd:
            out.add(int(name))
    return out


def pid_alive(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


async def answer(session: Any, prompt: str) -> str:
    ev = await session.send_and_wait(prompt, timeout=60)
    assert ev is not None, prompt
    return ev.data.content


@pytest.fixture(scope="module")
def external_cli() -> Iterator[ExternalCli]:
    cli = ExternalCli()
    yield cli
    cli.close()


async def test_cli_restarted_on_the_same_port_idle_and_mid_turn(external_cli: ExternalCli,
                                                               base_config: Dict[str, Any]) -> None:
    cli = external_cli

    async def echo(arguments: Any, invocation: Any) -> str:
        return f"echoed {arguments}"

    client = CopilotClient(cli_url=f"127.0.0.1:{cli.port}", reconnect=FAST, start_timeout=5)
    life = Life(client)
    try:
        await client.start()
        session = await client.create_session(base_config, tools=[{
            "name": "echo_tool", "description": "Echoes", "handler": echo,
            "parameters": {"type": "object", "properties": {"v": {"type": "string"}}}}])
        answers: List[str] = []
        session.on("assistant.message", lambda ev: answers.append(ev.data.content))
        turn_starts: "asyncio.Queue[Any]" = asyncio.Queue()
        session.on("assistant.turn_start", turn_starts.put_nowait)
        assert await answer(session, "REPLY one") == "one"
        assert answers == ["one"]

        # Killed while idle, started again on the same port.
        cli.kill()
        lost = await life.next("connection.lost", 5)
        assert lost.session_id == "" and lost.metadata is not None, lost
        assert lost.metadata["code"] == "transport_closed", lost
        reconnecting = await life.next("connection.reconnecting", 5)
        assert reconnecting.metadata["attempt"] >= 1 and reconnecting.metadata["maxAttempts"] == 200, reconnecting
        # A call made while reconnecting waits for the connection (call_wait).
        waiting = asyncio.ensure_future(client.ping("during"))
        await asyncio.to_thread(cli.start)
        restored = await life.next("connection.restored", 30)
        assert restored.metadata["sessionsResumed"] == 1 and restored.metadata["restarted"] is False, restored
        assert restored.metadata["downtimeMs"] > 0, restored
        assert (await asyncio.wait_for(waiting, 30)).message == "pong: during"
        assert await answer(session, "REPLY two") == "two"
        assert answers[-1] == "two", "the subscription made before the restart still fires"
        # The session's own tool runs without a permission handler.
        text = await answer(session, 'CALL echo_tool {"v":"x"}')
        assert "echoed" in text, text

        # Killed mid-turn: the waiting send_and_wait fails at once with turn_outcome_unknown.
        while not turn_starts.empty():
            turn_starts.get_nowait()
        turn = asyncio.ensure_future(session.send_and_wait("HANG", timeout=120))
        await asyncio.wait_for(turn_starts.get(), 30)
        killed = time.monotonic()
        cli.kill()
        with pytest.raises(TurnOutcomeUnknownError) as err:
            await asyncio.wait_for(turn, 10)
        took = time.monotonic() - killed
        print(f"mid-turn kill: send_and_wait failed {took * 1000:.0f} ms after the kill")
        assert err.value.code == "turn_outcome_unknown"
        assert session.session_id in err.value.message, err.value
        assert isinstance(err.value, ConnectionError) and not err.value.is_retriable
        assert took < 1.0, took
        await asyncio.to_thread(cli.start)
        await life.next("connection.restored", 30)
        assert await answer(session, "REPLY three") == "three"
    finally:
        await client.stop()


async def test_hung_cli_is_detected_by_the_heartbeat(external_cli: ExternalCli) -> None:
    cli = external_cli
    client = CopilotClient(cli_url=f"127.0.0.1:{cli.port}", reconnect=FAST, start_timeout=2,
                           heartbeat_interval=0.5, heartbeat_timeout=timedelta(seconds=1))
    try:
        await client.start()
        await client.ping()
        await cli.stop()
        started = time.monotonic()
        # No per-call deadline: only the heartbeat can end this call.
        with pytest.raises(CopilotTimeoutError) as err:
            await asyncio.wait_for(client.rpc("session.list", {}, timeout=None), 10)
        took = time.monotonic() - started
        print(f"SIGSTOP detected after {took * 1000:.0f} ms: {err.value}")
        assert err.value.code == "timeout" and err.value.is_retriable
        assert took < 3.0, took
        cli.signal(signal.SIGCONT)

        async def back() -> Any:
            while True:
                try:
                    return await client.ping("back")
                except CopilotError as e:
                    assert e.is_retriable, e
                    await asyncio.sleep(0.1)
        assert (await asyncio.wait_for(back(), 30)).message == "pong: back"
    finally:
        cli.signal(signal.SIGCONT)
        await client.stop()


async def test_lossy_path_gives_typed_errors_and_recovers(external_cli: ExternalCli,
                                                          base_config: Dict[str, Any]) -> None:
    proxy = Chaos("proxy", "--target", str(external_cli.port))
    client = CopilotClient(cli_url=f"127.0.0.1:{proxy.port}", reconnect=FAST, start_timeout=2,
                           heartbeat_interval=0.5, heartbeat_timeout=1)
    life = Life(client)
    try:
        session = await client.create_session(base_config)
        turn_starts: "asyncio.Queue[Any]" = asyncio.Queue()
        session.on("assistant.turn_start", turn_starts.put_nowait)

        # reset and drop in the middle of a turn: the turn's outcome is unknown; calls made
        # while the connection is down wait or fail typed; the client is back.
        for fault in ("reset", "drop"):
            while not turn_starts.empty():  # the previous round's turns started too
                turn_starts.get_nowait()
            turn = asyncio.ensure_future(session.send_and_wait("HANG", timeout=60))
            await asyncio.wait_for(turn_starts.get(), 30)
            t = time.monotonic()
            proxy.cmd(fault)
            with pytest.raises(TurnOutcomeUnknownError):
                await asyncio.wait_for(turn, 5)
            print(f"{fault}: the turn failed after {(time.monotonic() - t) * 1000:.0f} ms")
            lost = await life.next("connection.lost")
            assert lost.metadata["code"] == "transport_closed", lost
            await life.next("connection.restored")
            await asyncio.wait_for(session.abort(), 10)
            assert await answer(session, "REPLY after") == "after", fault

        # delay: slower, still correct.
        proxy.cmd("delay 200")
        t = time.monotonic()
        await asyncio.wait_for(client.ping("slow"), 10)
        assert time.monotonic() - t >= 0.4, time.monotonic() - t
        proxy.cmd("pass")

        # blackhole: only deadlines can tell. A per-call deadline ends its call first; a call
        # without one is ended by the heartbeat with `timeout`.
        proxy.cmd("blackhole")
        t = time.monotonic()
        with pytest.raises(CopilotTimeoutError):
            await asyncio.wait_for(session.rpc("session.getMessages", timeout=0.3), 10)
        assert time.monotonic() - t < 1.0, time.monotonic() - t
        with pytest.raises(CopilotTimeoutError) as err:
            await asyncio.wait_for(client.rpc("session.list", {}, timeout=None), 10)
        took = time.monotonic() - t
        print(f"blackhole detected after {took * 1000:.0f} ms: {err.value}")
        assert took < 4.0, took
        # Attempts into the blackhole time out; the path comes back.
        await life.next("connection.reconnecting")
        proxy.cmd("pass")
        await life.next("connection.restored")
        assert (await asyncio.wait_for(client.ping("x"), 10)).message == "pong: x"

        # refuse (and cut the open connection): attempts are refused until the port opens again.
        proxy.cmd("refuse")
        proxy.cmd("reset")
        await life.next("connection.lost")
        attempt = await life.next("connection.reconnecting")
        print(f"refused: {attempt.metadata}")
        assert attempt.metadata["code"] and attempt.metadata["error"], attempt
        proxy.cmd("pass")
        await life.next("connection.restored")
        assert await answer(session, "REPLY last") == "last"
    finally:
        await client.stop()
        proxy.close()


async def test_kill_restart_cycles_do_not_leak(external_cli: ExternalCli, base_config: Dict[str, Any]) -> None:
    cycles = int(os.environ.get("COPILOT_SOAK_CYCLES", "100"))
    proxy = Chaos("proxy", "--target", str(external_cli.port))
    client = CopilotClient(cli_url=f"127.0.0.1:{proxy.port}", start_timeout=5,
                           reconnect={**FAST, "initial_delay": 0.01, "max_delay": 0.1})
    life = Life(client)
    try:
        await client.start()
        await client.ping()
        start = after_first = resources()
        t = time.monotonic()
        for i in range(cycles):
            proxy.cmd("reset")
            await life.next("connection.restored", 30)
            await asyncio.wait_for(client.ping(), 10)
            if i == 0:
                after_first = resources()
        elapsed = time.monotonic() - t
        await asyncio.sleep(0.3)
        end = resources()
        print(f"{cycles} connection kill/restart cycles in {elapsed:.1f} s: "
              f"fds {start[0]} -> {after_first[0]} (after 1) -> {end[0]}, "
              f"threads {start[1]} -> {after_first[1]} -> {end[1]}, "
              f"RSS {start[2]} KiB -> {after_first[2]} KiB -> {end[2]} KiB")
        assert end[0] <= after_first[0] + 2, f"descriptors leak: {after_first} -> {end}"
        assert end[1] <= after_first[1] + 2, f"threads leak: {after_first} -> {end}"
        assert end[2] < after_first[2] + 16 * 1024, f"memory grows: {after_first} -> {end}"
        # Sessions work on the connection that survived the cycles.
        async with await client.create_session(base_config) as session:
            assert await answer(session, "REPLY after") == "after"
    finally:
        await client.stop()
        proxy.close()


async def test_spawned_cli_is_restarted_within_its_budget(sandbox: Dict[str, str],
                                                         base_config: Dict[str, Any]) -> None:
    before = children_matching("copilot")
    client = CopilotClient(own_cli_options(sandbox, reconnect={**FAST, "max_restarts": 2}))
    life = Life(client)
    try:
        session = await client.create_session(base_config)
        assert await answer(session, "REPLY a") == "a"
        pids = [client.cli_pid]
        for round in range(2):
            os.kill(pids[-1], signal.SIGKILL)
            restored = await life.next("connection.restored", 30)
            assert restored.metadata["restarted"] is True, restored
            pid = client.cli_pid
            assert pid not in pids, f"round {round}: a new CLI"
            pids.append(pid)
            assert await answer(session, f"REPLY r{round}") == f"r{round}"
        os.kill(pids[-1], signal.SIGKILL)
        gave_up = await life.next("connection.gave_up", 30)
        assert gave_up.session_id == "" and gave_up.metadata["code"] == "reconnect_failed", gave_up
        assert "attempts" in gave_up.metadata, gave_up
        with pytest.raises(ReconnectFailedError) as err:
            await client.ping()
        assert "restart budget" in err.value.message, err.value
        with pytest.raises(ReconnectFailedError):
            await session.send("x")
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not [p for p in pids if pid_alive(p)], "a CLI still runs"
        assert children_matching("copilot") == before, "orphan CLI processes"
    finally:
        await client.stop()


@pytest.mark.parametrize("mode, error", [
    ("silent", CopilotTimeoutError),
    ("unknown-id", CopilotTimeoutError),
    ("bad-header", FrameHeaderError),
    ("garbage-json", InvalidJsonError),
    ("huge", MessageTooLargeError),
    ("close-mid-reply", TransportClosedError),
])
async def test_hostile_peers(mode: str, error: type) -> None:
    peer = Chaos("peer", "--mode", mode, "--answer-pings")
    client = CopilotClient(cli_url=f"127.0.0.1:{peer.port}", request_timeout=1, reconnect=False)
    try:
        await asyncio.wait_for(client.start(), 10)
        t = time.monotonic()
        with pytest.raises(error) as err:
            await asyncio.wait_for(client.list_sessions(), 5)
        took = time.monotonic() - t
        print(f"{mode}: {err.value.code} after {took * 1000:.0f} ms")
        assert took < 1.5, took
    finally:
        await client.stop()
        peer.close()


async def test_per_call_timeout_overrides_request_timeout() -> None:
    peer = Chaos("peer", "--mode", "silent", "--answer-pings")
    client = CopilotClient(cli_url=f"127.0.0.1:{peer.port}", request_timeout=30, reconnect=False)
    try:
        await asyncio.wait_for(client.start(), 10)
        t = time.monotonic()
        with pytest.raises(CopilotTimeoutError):
            await asyncio.wait_for(client.rpc("session.list", {}, timeout=timedelta(milliseconds=300)), 5)
        assert 0.25 < time.monotonic() - t < 1.5, time.monotonic() - t
    finally:
        await client.stop()
        peer.close()


async def test_cancellation_reaches_running_handlers(client: CopilotClient, base_config: Dict[str, Any],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    started: "asyncio.Queue[None]" = asyncio.Queue()
    cancelled: "asyncio.Queue[Tuple[float, str]]" = asyncio.Queue()
    release = threading.Event()
    sync_returned = threading.Event()

    async def wait_forever(arguments: Any) -> str:
        started.put_nowait(None)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            cancelled.put_nowait((time.monotonic(), str(e.args[0]) if e.args else ""))
            # Answering anyway after the cancellation must be harmless (the core ignores it).
            return "too late"
        return "never"

    loop = asyncio.get_running_loop()

    def blocking(arguments: Any) -> str:  # a plain function: runs in the executor, not cancellable
        loop.call_soon_threadsafe(started.put_nowait, None)
        release.wait(10)
        sync_returned.set()
        return "late sync answer"

    caplog.set_level(logging.ERROR, logger="copilot")
    session = await client.create_session(base_config, tools=[
        {"name": "wait_forever", "description": "Waits", "handler": wait_forever,
         "parameters": {"type": "object", "properties": {}}},
        {"name": "blocking", "description": "Blocks", "handler": blocking,
         "parameters": {"type": "object", "properties": {}}}])
    idle: "asyncio.Queue[Any]" = asyncio.Queue()
    session.on("session.idle", idle.put_nowait)
    async with session:
        # abort() cancels the running async handler's task.
        await session.send("CALL wait_forever {}")
        await asyncio.wait_for(started.get(), 30)
        t = time.monotonic()
        await session.abort()
        at, reason = await asyncio.wait_for(cancelled.get(), 2)
        print(f"abort reached the handler in {(at - t) * 1000:.0f} ms ({reason})")
        assert "aborted" in reason, reason
        await asyncio.wait_for(idle.get(), 30)

        # A send_and_wait timeout with abort_on_timeout cancels it too.
        with pytest.raises(CopilotTimeoutError):
            await session.send_and_wait("CALL wait_forever {}", timeout=2, abort_on_timeout=True)
        _, reason = await asyncio.wait_for(cancelled.get(), 2)
        assert "aborted" in reason, reason
        await asyncio.wait_for(started.get(), 1)

        # A plain function cannot be interrupted: the turn ends anyway and its late answer is dropped.
        while not idle.empty():
            idle.get_nowait()
        await session.send("CALL blocking {}")
        await asyncio.wait_for(started.get(), 30)
        await session.abort()
        await asyncio.wait_for(idle.get(), 30)
        release.set()
        assert await asyncio.to_thread(sync_returned.wait, 5)
        await asyncio.sleep(0.2)
        assert await answer(session, "REPLY still here") == "still here"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_new_options_are_typed(client: CopilotClient) -> None:
    for bad in ({"reconnect": "yes"}, {"reconnect": {"max_attempts": "3"}}, {"reconnect": {"bogus": 1}},
                {"request_timeout": "soon"}, {"heartbeat_interval": -1}, {"heartbeatTimeout": [1]},
                {"tcp_keepalive": "10"}, {"tcp_user_timeout": True}):
        with pytest.raises(InvalidConfigError) as err:
            CopilotClient(bad)
        assert err.value.code == "invalid_config", bad
    # Native types: durations as seconds or timedelta, in either key spelling.
    CopilotClient(reconnect={"enabled": True, "max_attempts": 3, "initial_delay": timedelta(milliseconds=50),
                             "maxDelay": 2, "call_wait": 1.5, "max_restarts": 1, "restart_window": 60},
                  request_timeout=timedelta(seconds=5), heartbeat_interval=0, heartbeat_timeout=2,
                  tcpKeepalive=0, tcp_user_timeout=timedelta(seconds=20), auto_start=False)
    CopilotClient(reconnect=False, auto_start=False)
    for timeout in ("1", -1, float("nan")):
        with pytest.raises(InvalidConfigError):
            await client.rpc("ping", {}, timeout=timeout)
    assert (await client.rpc("ping", {"message": "t"}, timeout=5))["message"] == "pong: t"
    assert (await client.rpc("ping", {"message": "n"}, timeout=None))["message"] == "pong: n"


async def test_idle_timeout_of_send_and_wait(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session(base_config) as session:
        with pytest.raises(InvalidConfigError):
            await session.send_and_wait("HANG", idle_timeout="soon")
        t = time.monotonic()
        with pytest.raises(CopilotTimeoutError) as err:
            await session.send_and_wait("HANG", timeout=60, idle_timeout=timedelta(seconds=1), abort_on_timeout=True)
        assert "idle timeout" in err.value.message, err.value
        assert time.monotonic() - t < 10
        with pytest.raises(InvalidConfigError):
            await session.rpc("session.getMessages", timeout="x")
