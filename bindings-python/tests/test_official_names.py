"""The official SDKs' names against the real CLI: RuntimeConnection (for_stdio / for_tcp /
for_uri) as the ``connection`` option, get_session_metadata, get_events, the lifecycle ``on``
and the ``git_hub_token`` spelling."""
from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any, Dict, List

import pytest

from copilot import (AuthenticationError, CopilotClient, CopilotError, InvalidConfigError, LifecycleEvent,
                     RuntimeConnection, SessionMetadata)

from conftest import TOKEN, cli_env, cli_path


def url(shared_cli: CopilotClient) -> str:
    return f"127.0.0.1:{shared_cli.port}"


async def until(cond: Any, within: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while loop.time() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return bool(cond())


def test_runtime_connection_factories_give_the_core_form() -> None:
    assert RuntimeConnection.for_stdio().to_dict() == {"kind": "stdio"}
    assert RuntimeConnection.for_stdio(path="/bin/copilot", args=["--x"]).to_dict() == \
        {"kind": "stdio", "path": "/bin/copilot", "args": ["--x"]}
    assert RuntimeConnection.for_tcp(port=0, connection_token="t", path="/c", args=[]).to_dict() == \
        {"kind": "tcp", "port": 0, "connectionToken": "t", "path": "/c", "args": []}
    assert RuntimeConnection.for_uri("localhost:4321", connection_token="t").to_dict() == \
        {"kind": "uri", "url": "localhost:4321", "connectionToken": "t"}
    assert RuntimeConnection.for_uri("4321").to_dict() == {"kind": "uri", "url": "4321"}


async def test_for_uri_with_the_token_runs_a_turn(shared_cli: CopilotClient, base_config: Dict[str, Any]) -> None:
    conn = RuntimeConnection.for_uri(url(shared_cli), connection_token=TOKEN)
    async with CopilotClient(connection=conn) as c:
        async with await c.create_session(base_config) as s:
            answer = await s.send_and_wait("REPLY over the uri connection")
            assert answer is not None and answer.data.content == "over the uri connection"
    # The same as a dict option, in the core's form.
    async with CopilotClient({"connection": {"kind": "uri", "url": f"http://{url(shared_cli)}",
                                             "connection_token": TOKEN}}) as c:
        assert (await c.ping("d")).message == "pong: d"


async def test_for_uri_with_a_wrong_or_no_token_is_refused(shared_cli: CopilotClient) -> None:
    for conn in (RuntimeConnection.for_uri(url(shared_cli), connection_token="wrong-token"),
                 RuntimeConnection.for_uri(url(shared_cli))):
        c = CopilotClient(connection=conn, reconnect=False)
        with pytest.raises(AuthenticationError) as e:
            await c.start()
        assert e.value.code == "authentication"
        await c.stop()


def test_connection_with_cli_url_and_co_is_invalid_config() -> None:
    conn = RuntimeConnection.for_uri("127.0.0.1:1", connection_token="t")
    for extra in ({"cli_url": "127.0.0.1:2"}, {"connection_token": "t"}, {"use_stdio": True},
                  {"cliPath": "/bin/copilot"}, {"port": 1}):
        with pytest.raises(InvalidConfigError) as e:
            CopilotClient(connection=conn, **extra)
        assert e.value.code == "invalid_config"
        assert "cannot be used together" in str(e.value)
    for bad, needle in [({"kind": "uri"}, "`url` is required"), ({"kind": "pipe"}, "stdio, tcp or uri"),
                        ({"kind": "uri", "url": "1", "port": 2}, "unknown connection option `port`"),
                        ("uri", "`connection` must be")]:
        with pytest.raises(InvalidConfigError) as e:
            CopilotClient(connection=bad)
        assert needle in str(e.value)


async def test_for_stdio_and_for_tcp_spawn_the_cli(sandbox: Dict[str, str]) -> None:
    common = {"env": cli_env(sandbox), "cwd": sandbox["work"], "use_logged_in_user": False}
    async with CopilotClient(connection=RuntimeConnection.for_stdio(path=cli_path()), **common) as c:
        assert c.cli_pid is not None and c.port is None
        assert (await c.ping("s")).message == "pong: s"
    tcp = RuntimeConnection.for_tcp(port=0, connection_token="py-tcp-token", path=cli_path())
    async with CopilotClient(connection=tcp, **common) as c:
        assert c.cli_pid is not None and c.port
        assert (await c.ping("t")).message == "pong: t"
        # The spawned server took the connection's token: a client without it is refused.
        outsider = CopilotClient(connection=RuntimeConnection.for_uri(f"127.0.0.1:{c.port}"), reconnect=False)
        with pytest.raises(AuthenticationError):
            await outsider.start()
        await outsider.stop()
        async with CopilotClient(connection=RuntimeConnection.for_uri(
                f"127.0.0.1:{c.port}", connection_token="py-tcp-token")) as insider:
            assert (await insider.ping("i")).message == "pong: i"


async def test_get_session_metadata(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    sid = f"py-metadata-{os.getpid()}"
    async with await client.create_session({**base_config, "session_id": sid}) as s:
        await s.send_and_wait("REPLY for the metadata")
    try:
        meta = await client.get_session_metadata(sid)
        assert isinstance(meta, SessionMetadata) and meta.session_id == sid
        assert isinstance(meta.start_time, datetime) and isinstance(meta.modified_time, datetime)
        assert isinstance(meta.created_at, datetime) and meta.created_at == meta.start_time
        assert meta.modified_time >= meta.start_time and meta.is_remote is False
        listed = {m.session_id: m for m in await client.list_sessions()}[sid]
        assert (meta.start_time, meta.created_at, meta.summary) == (listed.start_time, listed.created_at,
                                                                    listed.summary)
        assert await client.get_session_metadata(f"no-such-session-{os.getpid()}") is None
    finally:
        await client.delete_session(sid)
    assert await client.get_session_metadata(sid) is None


async def test_get_events_equals_get_messages(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    async with await client.create_session(base_config) as s:
        await s.send_and_wait("REPLY one")
        await s.send_and_wait("REPLY two")
        events, messages = await s.get_events(), await s.get_messages()
        assert [e.raw for e in events] == [m.raw for m in messages]
        assert [e.data.content for e in events if e.type == "assistant.message"] == ["one", "two"]


async def test_lifecycle_on_alias(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    created: List[LifecycleEvent] = []
    every: List[LifecycleEvent] = []
    deleted_only: List[LifecycleEvent] = []
    off = client.on("session.created", created.append)
    off_every = client.on(every.append)
    client.on(["session.deleted"], deleted_only.append)
    sid = f"py-lifecycle-on-{os.getpid()}"
    async with await client.create_session({**base_config, "session_id": sid}):
        pass
    assert await until(lambda: any(e.session_id == sid for e in created))
    assert all(e.type == "session.created" for e in created)
    assert any(e.type == "session.created" and e.session_id == sid for e in every)
    assert not any(e.session_id == sid for e in deleted_only)
    off()
    off_every()
    n_created, n_every = len(created), len(every)
    sid2 = f"{sid}-2"
    async with await client.create_session({**base_config, "session_id": sid2}):
        pass
    await client.delete_session(sid2)
    await client.delete_session(sid)
    assert await until(lambda: {e.session_id for e in deleted_only} >= {sid, sid2})
    assert all(e.type == "session.deleted" for e in deleted_only)
    assert (len(created), len(every)) == (n_created, n_every)  # unsubscribed
    with pytest.raises(InvalidConfigError):
        client.on("session.created")


async def test_git_hub_token_spelling(shared_cli: CopilotClient) -> None:
    # As in test_client's github_token test: the CLI refusing the (fake) token proves it arrived.
    for opts in ({"git_hub_token": "gho_not_a_real_token"}, {"gitHubToken": "gho_not_a_real_token"}):
        async with CopilotClient(connection=RuntimeConnection.for_uri(url(shared_cli), connection_token=TOKEN),
                                 use_logged_in_user=False, **opts) as c:
            with pytest.raises(CopilotError) as e:
                await c.create_session({"model": "gpt-4.1"})
            assert "GitHub token" in str(e.value)
    with pytest.raises(InvalidConfigError) as e2:
        CopilotClient(github_token="a", git_hub_token="b")
    assert "given twice" in str(e2.value)


async def test_git_hub_token_spelling_in_session_config(client: CopilotClient) -> None:
    s = await client.create_session({"model": "gpt-4.1"})  # without a token the session opens
    await s.disconnect()
    for key in ("git_hub_token", "gitHubToken"):
        with pytest.raises(CopilotError) as e:
            await client.create_session({"model": "gpt-4.1", key: "gho_not_a_real_token"})
        assert "GitHub token" in str(e.value)
