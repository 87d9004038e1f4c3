"""Client and session behaviour against the real CLI: the multi-step scenarios (same names in
every language), handler failures, cancellation, concurrency, errors and options."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any, Dict, List, Literal, Optional

import pytest

import copilot
from copilot import (AuthenticationError, CliNotFoundError, CopilotClient, CopilotError, CopilotTimeoutError,
                     InvalidConfigError, NativeCause, NotConnectedError, RpcError, SessionError, SessionNotFoundError,
                     TransportClosedError, TurnOutcomeUnknownError, tool)

from conftest import TOKEN, FakeModel, own_cli_options, wait_dead


async def test_client_level_methods(client: CopilotClient) -> None:
    pong = await client.ping("x")
    assert pong.message == "pong: x" and pong.protocol_version == 3
    status = await client.get_status()
    assert status.version == copilot.pinned_cli_version()
    assert (await client.get_auth_status()).is_authenticated is False
    assert await client.get_foreground_session_id() is None
    with pytest.raises(CopilotError):
        await client.set_foreground_session_id("nope")
    tools = await client.rpc("tools.list", {})
    assert tools["tools"]
    with pytest.raises(RpcError) as e:
        await client.rpc("no.such.method")
    assert e.value.rpc_code == -32601
    assert isinstance(e.value.__cause__, NativeCause)


async def test_abort_mid_stream(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session({**base_config, "streaming": True}) as session:
        first_delta = asyncio.get_running_loop().create_future()
        session.on("assistant.message_delta", lambda e: first_delta.done() or first_delta.set_result(e))
        idle: List[Any] = []
        session.on("session.idle", idle.append)
        await session.send("SLOW 40 250")
        await asyncio.wait_for(first_delta, 30)
        await session.abort()
        for _ in range(200):
            if idle:
                break
            await asyncio.sleep(0.05)
        assert idle and idle[0].data.aborted is True
        answer = await session.send_and_wait("REPLY after abort")
        assert answer.data.content == "after abort"


async def test_resume_from_second_client(shared_cli: CopilotClient, client: CopilotClient,
                                         base_config: Dict[str, Any]) -> None:
    a = await client.create_session(base_config)
    await a.send_and_wait("REPLY first from A")
    async with CopilotClient(cli_url=f"127.0.0.1:{shared_cli.port}", connection_token=TOKEN) as other:
        b = await other.resume_session(a.session_id)  # config optional
        history = await b.get_messages()
        assert any(e.type == "user.message" and e.data.content == "REPLY first from A" for e in history)
        seen_by_a: List[Any] = []
        a.on("assistant.message", seen_by_a.append)
        answer = await b.send_and_wait("REPLY second from B")
        assert answer.data.content == "second from B"
        for _ in range(100):
            if seen_by_a:
                break
            await asyncio.sleep(0.05)
        assert seen_by_a[-1].data.content == "second from B"
        await a.disconnect()
        assert (await b.send_and_wait("REPLY still here")).data.content == "still here"
        await b.disconnect()
        cold = await other.resume_session(a.session_id, base_config)
        assert (await cold.send_and_wait("REPLY cold")).data.content == "cold"


async def test_list_and_delete(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    deleted: List[Any] = []
    client.on_lifecycle(lambda ev: ev.type == "session.deleted" and deleted.append(ev))
    sid = f"py-list-delete-{os.getpid()}"
    async with await client.create_session({**base_config, "session_id": sid}) as s:
        assert s.session_id == sid
        await s.send_and_wait("Say hello")
    listed = {m.session_id: m for m in await client.list_sessions()}
    me = listed[sid]
    assert me.start_time is not None and me.modified_time is not None and me.created_at == me.start_time
    assert await client.get_last_session_id() in listed
    assert await client.list_sessions({"cwd": "/nonexistent"}) == []
    await client.delete_session(sid)
    for _ in range(100):
        if deleted:
            break
        await asyncio.sleep(0.05)
    assert deleted and deleted[0].session_id == sid
    assert sid not in {m.session_id for m in await client.list_sessions()}
    with pytest.raises(SessionNotFoundError):
        await client.delete_session(sid)
    with pytest.raises(SessionNotFoundError):
        await client.resume_session(sid)


async def test_connection_token(shared_cli: CopilotClient, sandbox: Dict[str, str]) -> None:
    for token in (None, "wrong-token"):
        opts: Dict[str, Any] = {"cli_url": f"http://127.0.0.1:{shared_cli.port}"}
        if token:
            opts["connection_token"] = token
        with pytest.raises(AuthenticationError) as e:
            await CopilotClient(opts).start()
        assert e.value.code == "authentication"
        assert isinstance(e.value, PermissionError)
    async with CopilotClient(cli_url=str(shared_cli.port), connection_token=TOKEN) as ok:
        await ok.ping()
    async with CopilotClient(own_cli_options(sandbox)) as stdio:  # stdio ignores tokens
        await stdio.ping()


async def test_github_token_with_cli_url_is_the_sessions_identity(shared_cli: CopilotClient) -> None:
    # The guide's per-user pattern. Offline the CLI cannot validate the token; its refusal
    # proves the token reached it as the session's identity.
    async with CopilotClient(cli_url=f"127.0.0.1:{shared_cli.port}", connection_token=TOKEN,
                             github_token="gho_not_a_real_token", use_logged_in_user=False) as c:
        with pytest.raises(CopilotError) as e:
            await c.create_session({"model": "gpt-4.1"})
        assert "GitHub token" in str(e.value)


async def test_cli_killed_mid_turn_without_reconnect(sandbox: Dict[str, str], base_config: Dict[str, Any]) -> None:
    client = CopilotClient(own_cli_options(sandbox, reconnect=False))
    await client.start()
    pid = client.cli_pid
    session = await client.create_session(base_config)
    started = asyncio.get_running_loop().create_future()
    session.on("assistant.turn_start", lambda e: started.done() or started.set_result(True))
    turn = asyncio.ensure_future(session.send_and_wait("HANG", timeout=120))
    await asyncio.wait_for(started, 30)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(TurnOutcomeUnknownError) as e:
        await asyncio.wait_for(turn, 20)
    assert isinstance(e.value, ConnectionError) and session.session_id in e.value.message
    # Reconnection is off: later calls fail at once with the cause, typed.
    with pytest.raises(TransportClosedError):
        await client.ping()
    # The event iterator ends instead of hanging.
    async def drain() -> int:
        return len([ev async for ev in session.events()])
    assert await asyncio.wait_for(drain(), 10) == 0
    await client.stop()


async def test_ping_before_start(shared_cli: CopilotClient) -> None:
    # The core's one implicit-start rule: a never-started client starts on its first call;
    # after stop() calls fail with not_connected until start(); with auto_start off, a call
    # before start() fails with not_connected.
    url = f"127.0.0.1:{shared_cli.port}"
    c = CopilotClient(cli_url=url, connection_token=TOKEN)
    assert c.protocol_version is None
    assert (await c.ping("early")).message == "pong: early"
    assert c.protocol_version == 3
    await c.stop()
    with pytest.raises(NotConnectedError):
        await c.ping()
    with pytest.raises(NotConnectedError):
        await c.list_sessions()
    await c.start()
    assert (await c.ping("again")).message == "pong: again"
    await c.stop()
    off = CopilotClient(cli_url=url, connection_token=TOKEN, auto_start=False)
    with pytest.raises(NotConnectedError):
        await off.ping()
    with pytest.raises(NotConnectedError):
        await off.create_session({"model": "gpt-4.1"})
    await off.start()
    assert (await off.ping()).message.startswith("pong")
    await off.stop()


async def test_stdio_lifecycle_and_context_managers(sandbox: Dict[str, str], base_config: Dict[str, Any]) -> None:
    async with CopilotClient(own_cli_options(sandbox, log_level="info")) as client:
        pid = client.cli_pid
        async with await client.create_session(base_config) as session:
            assert (await session.send_and_wait("REPLY over stdio")).data.content == "over stdio"
        with pytest.raises(CopilotError) as e:
            await session.send("after disconnect")
        assert e.value.code in ("session_not_found", "not_connected")
    assert await wait_dead(pid), "the CLI outlived stop()"
    with pytest.raises(NotConnectedError):
        await client.ping()


async def test_handler_exceptions_are_answered_and_logged(client: CopilotClient, base_config: Dict[str, Any],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    @tool(skip_permission=True)
    def explode(city: str) -> str:
        """Always fails."""
        raise ValueError(f"no weather for {city}")

    async def bad_event_handler(ev: Any) -> None:
        raise RuntimeError("subscriber bug")

    async with await client.create_session({**base_config, "tools": [explode]}) as session:
        session.on(lambda ev: 1 / 0)  # a throwing subscriber does not break delivery
        answer = await session.send_and_wait('CALL explode {"city":"Oslo"}')
        assert "no weather for Oslo" in answer.data.content
    assert any("tool handler failed" in r.message for r in caplog.records)


async def test_tool_decorator_schemas_and_calls(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    calls: List[Any] = []

    @tool(description="Convert a temperature", skip_permission=True)
    async def convert(value: float, unit: Literal["c", "f"] = "c", tags: Optional[List[str]] = None) -> Dict[str, Any]:
        calls.append((value, unit, tags))
        return {"textResultForLlm": f"{value}{unit}", "resultType": "success"}

    assert convert.parameters == {
        "type": "object",
        "properties": {"value": {"type": "number"}, "unit": {"enum": ["c", "f"], "type": "string"},
                       "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["value"]}
    async with await client.create_session({**base_config, "tools": [convert]}) as session:
        answer = await session.send_and_wait('CALL convert {"value": 21.5, "unit": "f"}')
    assert calls == [(21.5, "f", None)]
    assert answer.data.content == "Tool returned: 21.5f"


async def test_handler_values_cross_as_python_objects(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    import dataclasses

    @dataclasses.dataclass
    class Reading:
        temp: int
        sky: str

    replies: List[Any] = [Reading(21, "clear"), ("a", 1, None, 2.5, True), {1: "x"}, object(), 2 ** 70, "text"]

    @tool(skip_permission=True)
    def reading(n: int) -> Any:
        """Reading n."""
        return replies[n]

    async with await client.create_session({**base_config, "tools": [reading]}) as session:
        answers = [(await session.send_and_wait(f'CALL reading {{"n": {i}}}')).data.content for i in range(6)]
        # The core writes a non-result object as its JSON text (keys sorted).
        assert answers[:3] == ['Tool returned: {"sky":"clear","temp":21}', 'Tool returned: ["a",1,null,2.5,true]',
                               'Tool returned: {"1":"x"}']
        assert "cannot be sent to the CLI" in answers[3]  # a TypeError: the handler failed
        assert "does not fit in 64 bits" in answers[4]
        assert answers[5] == "Tool returned: text"
        # Event data arrives as plain Python objects.
        got = await session.get_messages()
        assert isinstance(got[0].raw, dict) and isinstance(got[0].raw["data"], dict)


async def test_a_dropped_session_is_freed(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    # A handler that references its session must not keep it alive once the session ended
    # (the session's drain task lets go of the handlers at the end of its stream).
    import gc
    import weakref

    def make() -> Any:
        box: Dict[str, Any] = {}

        @tool(skip_permission=True)
        def whoami() -> str:
            """Session id."""
            return box["session"].session_id
        return box, whoami

    box, whoami = make()
    session = box["session"] = await client.create_session({**base_config, "tools": [whoami]})
    assert (await session.send_and_wait("CALL whoami {}")).data.content == f"Tool returned: {session.session_id}"
    await session.disconnect()
    ref = weakref.ref(session)
    del session, box, whoami
    for _ in range(100):
        gc.collect()
        if ref() is None:
            break
        await asyncio.sleep(0.05)
    assert ref() is None, "the session is still referenced"


async def test_pydantic_model_tool(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    pydantic = pytest.importorskip("pydantic")  # installed by test.sh, so this always runs there

    class Query(pydantic.BaseModel):
        city: str
        days: int = 1

    @tool(skip_permission=True)
    def forecast(q: Query) -> str:
        """Forecast."""
        return f"{q.city} for {q.days} days"

    assert forecast.parameters["properties"]["city"]["type"] == "string"
    async with await client.create_session({**base_config, "tools": [forecast]}) as session:
        answer = await session.send_and_wait('CALL forecast {"city":"Lima","days":3}')
    assert answer.data.content == "Tool returned: Lima for 3 days"


async def test_cancellation_aborts_the_turn(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session(base_config) as session:
        idle: List[Any] = []
        session.on("session.idle", idle.append)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(session.send_and_wait("HANG"), 1.0)
        for _ in range(200):
            if idle:
                break
            await asyncio.sleep(0.05)
        assert idle and idle[0].data.aborted is True
        assert (await session.send_and_wait("REPLY next")).data.content == "next"


async def test_timeout_is_typed(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session(base_config) as session:
        with pytest.raises(CopilotTimeoutError) as e:
            await session.send_and_wait({"prompt": "HANG", "abort_on_timeout": True}, timeout=1.0)
        assert isinstance(e.value, TimeoutError)
        with pytest.raises(SessionError):
            await session.send_and_wait("ERROR 400")


async def test_many_concurrent_sessions_on_one_client(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async def one(i: int) -> str:
        async with await client.create_session(base_config) as s:
            return (await s.send_and_wait(f"REPLY answer {i}")).data.content

    assert await asyncio.gather(*(one(i) for i in range(8))) == [f"answer {i}" for i in range(8)]


async def test_events_iterator_and_typed_data(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session({**base_config, "streaming": True}) as session:
        collected: List[str] = []

        async def read() -> None:
            async for ev in session.events("assistant.message_delta", "session.idle"):
                if ev.type == "session.idle":
                    return
                collected.append(ev.data.delta_content)

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0)
        answer = await session.send_and_wait("REPLY a b c")
        await asyncio.wait_for(reader, 10)
        assert "".join(collected) == "a b c" == answer.content
        assert answer.data.messageId == answer.data.message_id


async def test_hooks_user_input_and_other_handlers(client: CopilotClient, fake_model: FakeModel,
                                                   base_config: Dict[str, Any]) -> None:
    logged = FakeModel(log=True)
    try:
        seen: Dict[str, Any] = {}

        def deny_weather(input: Dict[str, Any], invocation: Any) -> Optional[Dict[str, Any]]:
            if "get_weather" in json.dumps(input):
                return {"permissionDecision": "deny", "permissionDecisionReason": "hooks say no"}
            return None

        @tool(skip_permission=True)
        def get_weather(city: str) -> str:
            """Weather."""
            return "never"

        async def token(provider: str) -> str:
            seen["provider"] = provider
            return "dynamic-token-py"

        cfg = {"model": "gpt-4.1", "provider": logged.provider, "tools": [get_weather],
               "hooks": {"on_pre_tool_use": deny_weather},
               "on_provider_token": token,
               "system_message": {"mode": "customize", "sections": {"tone": {"action": "transform"}}},
               "on_system_message_transform": lambda sections: {
                   k: {"content": v.get("content", "") + "\nPY-TRANSFORMED"} for k, v in sections.items()}}
        async with await client.create_session(cfg) as session:
            answer = await session.send_and_wait('CALL get_weather {"city":"Rome"}')
            assert "hooks say no" in answer.data.content
        reqs = [r for r in logged.requests() if r["path"].endswith("/chat/completions")]
        assert reqs[-1]["authorization"] == "Bearer dynamic-token-py"
        assert seen["provider"] == "default"
        assert "PY-TRANSFORMED" in json.dumps(reqs[-1]["body"]["messages"][0])
    finally:
        logged.close()


async def test_options_are_validated_with_typed_errors() -> None:
    for bad, needle in [({"cli_url": 4321}, "cliUrl"), ({"colour": "red"}, "colour"),
                        ({"env": {"A": 1}}, "env.A"), ({"request_timeout": "soon"}, "requestTimeout")]:
        with pytest.raises(InvalidConfigError) as e:
            CopilotClient(bad)
        assert needle in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(CliNotFoundError):
        await CopilotClient(cli_path="/nonexistent/copilot").start()


async def test_invalid_session_config(client: CopilotClient) -> None:
    with pytest.raises(InvalidConfigError):
        await client.create_session({"model": 5})
    with pytest.raises(InvalidConfigError):
        await client.create_session({"tools": [{"name": "x"}]})  # no handler
    with pytest.raises(InvalidConfigError):
        await client.create_session({"on_permission_request": "yes"})


def test_error_table_is_the_generated_one() -> None:
    from copilot import _copilot, _error_codes
    from copilot.errors import BY_CODE
    # The generated table is the compiled core's (codegen --check guards the file itself).
    assert list(_error_codes.ALL) == [tuple(x) for x in _copilot.error_codes()]
    classes, stack = [], [CopilotError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "code" in vars(cls) and cls is not CopilotError:
            classes.append(cls)
    for code, number in _error_codes.ALL:
        owners = [c for c in classes if (c.code, c.number) == (code, number)]
        assert len(owners) == 1, f"{code}: {owners}"
    assert {(c.code, c.number) for c in classes} == set(_error_codes.ALL)
    assert {code: cls.number for code, cls in BY_CODE.items()} == dict(_error_codes.ALL)
    assert issubclass(BY_CODE["timeout"], TimeoutError)


def test_safe_after_fork(sandbox: Dict[str, str]) -> None:
    # The parent has used the runtime (earlier tests); a forked child builds its own.
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child() -> None:
        async def run() -> str:
            async with CopilotClient(own_cli_options(sandbox)) as c:
                return (await c.ping("from child")).message
        q.put(asyncio.run(run()))

    async def warm() -> None:
        async with CopilotClient(own_cli_options(sandbox)) as c:
            await c.ping()
    asyncio.run(warm())
    p = ctx.Process(target=child)
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert q.get(timeout=5) == "pong: from child"


def test_dropped_client_leaves_no_cli(sandbox: Dict[str, str], tmp_path: Any) -> None:
    # A script that never calls stop(): its CLI must not outlive it.
    import subprocess
    script = tmp_path / "forget.py"
    script.write_text(
        "import asyncio, json, sys\n"
        "from copilot import CopilotClient\n"
        "async def main():\n"
        f"    c = CopilotClient(json.loads({json.dumps(json.dumps(own_cli_options(sandbox)))}))\n"
        "    await c.start()\n"
        "    print(c.cli_pid, flush=True)\n"
        "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.strip())
    assert asyncio.run(wait_dead(pid)), "the CLI outlived its Python process"


def test_ctrl_c_cancels_a_waiting_turn(sandbox: Dict[str, str], fake_model: FakeModel, tmp_path: Any) -> None:
    # SIGINT while send_and_wait is pending: asyncio.run cancels the task, the wait ends at
    # once (the turn is aborted), the CLI is stopped, and the process exits by itself.
    import subprocess
    script = tmp_path / "ctrl_c.py"
    opts = own_cli_options(sandbox)
    script.write_text(
        "import asyncio, json, sys\n"
        "from copilot import CopilotClient\n"
        "async def main():\n"
        f"    c = CopilotClient(json.loads({json.dumps(json.dumps(opts))}))\n"
        "    await c.start()\n"
        f"    s = await c.create_session({{'model': 'gpt-4.1', 'provider': {fake_model.provider!r}}})\n"
        "    s.on('assistant.turn_start', lambda e: print('TURN', c.cli_pid, flush=True))\n"
        "    try:\n"
        "        await s.send_and_wait('HANG', timeout=600)\n"
        "    finally:\n"
        "        await c.stop()\n"
        "asyncio.run(main())\n")
    # A shell runs background jobs with SIGINT ignored, and Python keeps it ignored: give the
    # script the default disposition, as a terminal would.
    p = subprocess.Popen([sys.executable, "-X", "faulthandler", str(script)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = p.stdout.readline()
    assert line.startswith("TURN"), line + p.stderr.read()
    pid = int(line.split()[1])
    p.send_signal(signal.SIGINT)
    # The graceful stop in the script's `finally` is bounded by the SDK's own limits (detach
    # retries ~15 s, shutdown 2 s, stop grace 5 s): 60 s means it hangs. Then SIGABRT makes
    # faulthandler print every thread's stack into the failure message.
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGABRT)
        _, err = p.communicate(timeout=30)
        raise AssertionError("the interrupted script did not exit:\n" + err)
    assert p.returncode != 0 and "KeyboardInterrupt" in err, err
    assert asyncio.run(wait_dead(pid)), "the CLI outlived the interrupted script"
