"""The official SDKs' newer features against the real CLI and the fake model: UI elicitation
(``on_elicitation_request``, ``session.ui``, ``session.capabilities``), slash commands
(``commands=[CommandDefinition(...)]``), ``on_auto_mode_switch_request``,
``on_mcp_auth_request``, the session filesystem (``session_fs`` + ``create_session_fs_provider``),
``github_token_provider``, telemetry (``telemetry``, W3C trace context with OpenTelemetry) and
``mode="empty"``."""
from __future__ import annotations

import asyncio
import json
import os
import posixpath
import tempfile
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Set

import pytest

from copilot import (CommandContext, CommandDefinition, CopilotClient, CopilotError, ElicitationContext,
                     GitHubTokenRequest, InvalidConfigError, PermissionHandler, SessionFsFileInfo, SessionFsProvider,
                     ToolInvocation, define_tool)
from copilot.protocol import ExecuteCommandResult

from conftest import FakeModel, own_cli_options

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


# ------------------------------------------------------------------------------- 1. elicitation

async def test_elicitation_handler_answers_the_ui_helpers(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    seen: List[ElicitationContext] = []

    def on_elicitation_request(context: ElicitationContext) -> Any:
        seen.append(context)
        message = context["message"]
        if message == "Deploy?":
            return {"action": "accept", "content": {"confirmed": True}}
        if message == "Really deploy?":
            return {"action": "decline"}
        if message == "Environment?":
            return {"action": "accept", "content": {"selection": "production"}}
        if message == "Your name?":
            return {"action": "accept", "content": {"value": "Ada"}}
        if message == "Broken?":
            raise RuntimeError("the dialog crashed")
        return "cancel"

    async with await client.create_session({**base_config, "on_elicitation_request": on_elicitation_request}) as s:
        assert s.capabilities.get("ui", {}).get("elicitation") is True

        assert await s.ui.confirm("Deploy?") is True
        ctx = seen[-1]
        assert isinstance(ctx, ElicitationContext)
        assert ctx["session_id"] == ctx.session_id == s.session_id
        schema = ctx.get("requestedSchema")
        assert schema["type"] == "object" and schema["properties"]["confirmed"]["type"] == "boolean"
        assert ctx.requested_schema == schema

        assert await s.ui.confirm("Really deploy?") is False

        assert await s.ui.select("Environment?", ["staging", "production"]) == "production"
        assert seen[-1]["requestedSchema"]["properties"]["selection"]["enum"] == ["staging", "production"]

        assert await s.ui.input("Your name?", {"title": "Name", "min_length": 1, "format": "email"}) == "Ada"
        value = seen[-1]["requestedSchema"]["properties"]["value"]
        assert (value["title"], value["minLength"], value["format"]) == ("Name", 1, "email")

        form = {"type": "object", "properties": {"region": {"type": "string", "enum": ["us", "eu"]}},
                "required": ["region"]}
        result = await s.ui.elicitation({"message": "Configure", "requestedSchema": form})
        assert result["action"] == "cancel"
        assert seen[-1]["requestedSchema"] == form

        # A handler that raises cancels the dialog: the helper sees no answer.
        assert await s.ui.select("Broken?", ["a"]) is None
        assert len(seen) == 6


async def test_ui_without_an_elicitation_handler(sandbox: Dict[str, str], base_config: Dict[str, Any]) -> None:
    # Its own CLI, so no other session on the server has an elicitation handler.
    async with CopilotClient(own_cli_options(sandbox)) as c:
        async with await c.create_session(base_config) as s:
            assert not s.capabilities.get("ui", {}).get("elicitation")
            with pytest.raises(InvalidConfigError) as e:
                await s.ui.confirm("Deploy?")
            assert e.value.code == "invalid_config"


# ---------------------------------------------------------------------------------- 2. commands

async def test_slash_commands(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    got: List[CommandContext] = []

    async def deploy(ctx: CommandContext) -> None:
        got.append(ctx)

    def rollback(ctx: CommandContext) -> None:
        raise RuntimeError("rollback is not possible")

    commands = [CommandDefinition(name="deploy", description="Deploy the app", handler=deploy),
                {"name": "rollback", "description": "Roll back", "handler": rollback}]
    async with await client.create_session({**base_config, "commands": commands}) as s:
        r = await s.rpc.commands.execute(command_name="deploy", args="prod now")
        assert isinstance(r, ExecuteCommandResult) and r.error is None
        assert len(got) == 1
        ctx = got[0]
        assert (ctx.session_id, ctx.command_name, ctx.args, ctx.command) == (s.session_id, "deploy", "prod now",
                                                                           "/deploy prod now")

        try:
            failed: Optional[str] = (await s.rpc.commands.execute(command_name="rollback", args="")).error
        except CopilotError as e:  # the CLI may report it as a JSON-RPC error instead
            failed = str(e)
        assert failed is not None and "rollback is not possible" in failed

        listed = {c.name: c for c in (await s.rpc.commands.list()).commands}
        assert listed["deploy"].kind.value == "client" and listed["deploy"].description == "Deploy the app"
        assert listed["rollback"].kind.value == "client"
    assert len(got) == 1


def test_commands_config_is_checked() -> None:
    from copilot.client import _commands
    defs, table = _commands([CommandDefinition(name="a", handler=print), {"name": "b", "handler": print,
                                                                         "description": "B"}])
    assert defs == [{"name": "a"}, {"name": "b", "description": "B"}] and set(table) == {"a", "b"}
    for bad in ([{"name": "a"}], [{"handler": print}], [{"name": "a", "handler": print, "x": 1}], "deploy",
                [CommandDefinition(name="a", handler=print), CommandDefinition(name="a", handler=print)]):
        with pytest.raises(InvalidConfigError):
            _commands(bad)


# ------------------------------------------------------------------- 3. auto mode switch alias

async def test_auto_mode_switch_request_alias(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    # The CLI asks only after a Copilot API rate limit, which BYOK cannot produce: the session
    # with the official handler name creates and runs a turn.
    def on_auto_mode_switch_request(request: Any, invocation: Any) -> str:
        return "no"

    async with await client.create_session({**base_config,
                                            "on_auto_mode_switch_request": on_auto_mode_switch_request}) as s:
        answer = await s.send_and_wait("REPLY auto mode alias")
        assert answer is not None and answer.data.content == "auto mode alias"
    with pytest.raises(InvalidConfigError):
        await client.create_session({**base_config, "on_auto_mode_switch_request": "no"})


# ------------------------------------------------------------------------------- 4. MCP OAuth

async def test_mcp_auth_handler_gives_the_token(client: CopilotClient, base_config: Dict[str, Any],
                                               fake_model: FakeModel) -> None:
    # The fake model serves an OAuth-protected MCP server: without a token it answers 401, the
    # CLI asks the host (``on_mcp_auth_request``) and reconnects with the token it gets.
    url = fake_model.base_url.rsplit("/v1", 1)[0] + "/mcp"
    mcp = {"issues": {"type": "http", "url": url, "tools": ["*"]}}

    async def open_with(reply: Any) -> "tuple[Any, List[Any], List[Any], asyncio.Queue[str]]":
        asked: List[Any] = []
        statuses: "asyncio.Queue[str]" = asyncio.Queue()
        invocations: List[Any] = []

        def on_mcp_auth_request(request: Any, invocation: Any) -> Any:
            asked.append(request)
            invocations.append(invocation)
            return reply

        def on_event(ev: Any) -> None:  # given in the config: no early event is missed
            if ev.raw["type"] == "session.mcp_server_status_changed" and ev.raw["data"]["serverName"] == "issues":
                statuses.put_nowait(ev.raw["data"]["status"])

        s = await client.create_session({**base_config, "mcp_servers": mcp,
                                         "on_permission_request": PermissionHandler.approve_all,
                                         "on_mcp_auth_request": on_mcp_auth_request, "on_event": on_event})
        return s, asked, invocations, statuses

    async def wait_status(statuses: "asyncio.Queue[str]", want: str, within: float) -> List[str]:
        seen: List[str] = []
        deadline = asyncio.get_running_loop().time() + within
        while want not in seen:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                seen.append(await asyncio.wait_for(statuses.get(), left))
            except asyncio.TimeoutError:
                break
        return seen

    s, asked, invocations, statuses = await open_with({"accessToken": "mcp-test-token"})
    async with s:
        seen = await wait_status(statuses, "connected", 30)
        assert "connected" in seen, seen
        assert len(asked) == 1
        request = asked[0]
        assert request["serverName"] == request.server_name == "issues"
        assert request["serverUrl"] == url
        assert isinstance(request["requestId"], str) and request["requestId"]
        assert request["sessionId"] == request.session_id == s.session_id
        assert invocations[0].session_id == s.session_id
        answer = await s.send_and_wait("CALL issues-issue_count {}")
        assert answer is not None and answer.data.content == "Tool returned: 42 open issues"
    assert len(asked) == 1

    s, asked, _, statuses = await open_with({"kind": "cancelled"})
    async with s:
        seen = await wait_status(statuses, "connected", 3)
        assert "needs-auth" in seen and "connected" not in seen, seen
        assert len(asked) == 1 and asked[0]["serverName"] == "issues"


# ---------------------------------------------------------------------------- 5. session fs

class MemoryFs(SessionFsProvider):
    """An in-memory session filesystem (posix paths)."""

    def __init__(self) -> None:
        self.files: Dict[str, str] = {}
        self.dirs: Set[str] = {"/"}
        self.ops: List[str] = []
        self.sessions: List[Any] = []

    def _missing(self, path: str) -> FileNotFoundError:
        return FileNotFoundError(f"ENOENT: no such file or directory, '{path}'")

    def _add_parents(self, path: str) -> None:
        d = posixpath.dirname(path)
        while d and d not in self.dirs:
            self.dirs.add(d)
            d = posixpath.dirname(d)

    async def read_file(self, path: str) -> str:
        self.ops.append("read_file")
        if path not in self.files:
            raise self._missing(path)
        return self.files[path]

    async def write_file(self, path: str, content: str, mode: Optional[int] = None) -> None:
        self.ops.append("write_file")
        self._add_parents(path)
        self.files[path] = content

    async def append_file(self, path: str, content: str, mode: Optional[int] = None) -> None:
        self.ops.append("append_file")
        self._add_parents(path)
        self.files[path] = self.files.get(path, "") + content

    async def exists(self, path: str) -> bool:
        self.ops.append("exists")
        return path in self.files or path in self.dirs

    async def stat(self, path: str) -> SessionFsFileInfo:
        self.ops.append("stat")
        now = datetime.now(timezone.utc)
        if path in self.files:
            return SessionFsFileInfo(True, False, len(self.files[path].encode()), now, now)
        if path in self.dirs:
            return SessionFsFileInfo(False, True, 0, now, now)
        raise self._missing(path)

    async def mkdir(self, path: str, recursive: bool, mode: Optional[int] = None) -> None:
        self.ops.append("mkdir")
        self._add_parents(path)
        self.dirs.add(path)

    def _children(self, path: str) -> Dict[str, str]:
        prefix = path.rstrip("/") + "/"
        out: Dict[str, str] = {}
        for p in self.dirs:
            if p.startswith(prefix) and "/" not in p[len(prefix):] and p != prefix:
                out[p[len(prefix):]] = "directory"
        for p in self.files:
            if p.startswith(prefix) and "/" not in p[len(prefix):]:
                out[p[len(prefix):]] = "file"
        return out

    async def readdir(self, path: str) -> List[str]:
        self.ops.append("readdir")
        if path not in self.dirs:
            raise self._missing(path)
        return sorted(self._children(path))

    async def readdir_with_types(self, path: str) -> List[Any]:
        self.ops.append("readdir_with_types")
        if path not in self.dirs:
            raise self._missing(path)
        return [{"name": n, "type": t} for n, t in sorted(self._children(path).items())]

    async def rm(self, path: str, recursive: bool, force: bool) -> None:
        self.ops.append("rm")
        if path not in self.files and path not in self.dirs:
            if force:
                return
            raise self._missing(path)
        self.files.pop(path, None)
        self.dirs.discard(path)
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.files if p.startswith(prefix)]:
            del self.files[p]
        self.dirs -= {d for d in self.dirs if d.startswith(prefix)}

    async def rename(self, src: str, dest: str) -> None:
        self.ops.append("rename")
        if src in self.files:
            self._add_parents(dest)
            self.files[dest] = self.files.pop(src)
            return
        if src not in self.dirs:
            raise self._missing(src)
        prefix = src.rstrip("/") + "/"
        for p in [p for p in self.files if p.startswith(prefix)]:
            self.files[dest + p[len(src):]] = self.files.pop(p)
        for d in [d for d in self.dirs if d == src or d.startswith(prefix)]:
            self.dirs.discard(d)
            self.dirs.add(dest + d[len(src):])


async def test_session_fs_keeps_the_session_state_in_the_provider(sandbox: Dict[str, str],
                                                                  base_config: Dict[str, Any]) -> None:
    fs = MemoryFs()
    state = "/copilot-state"

    def create_session_fs_provider(session: Any) -> SessionFsProvider:
        fs.sessions.append(session)
        return fs

    session_fs = {"initial_cwd": sandbox["work"], "session_state_path": state, "conventions": "posix"}
    async with CopilotClient(own_cli_options(sandbox), session_fs=session_fs) as c:
        async with await c.create_session({**base_config,
                                           "create_session_fs_provider": create_session_fs_provider}) as s:
            answer = await s.send_and_wait("REPLY stored in memory")
            assert answer is not None and answer.data.content == "stored in memory"
            assert fs.sessions == [s]
            sid = s.session_id
            assert s.workspace_path is not None and s.workspace_path.startswith(state)
        events = {p: text for p, text in fs.files.items() if p.startswith(state) and p.endswith("events.jsonl")}
        assert events, sorted(fs.files)
        path, text = next(((p, t) for p, t in events.items() if sid in p), next(iter(events.items())))
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert any(e["type"] == "assistant.message" and e["data"]["content"] == "stored in memory" for e in lines)
        assert {"write_file", "append_file"} & set(fs.ops)
        # On such a client every session needs a provider.
        with pytest.raises(InvalidConfigError) as e:
            await c.create_session(base_config)
        assert e.value.code == "invalid_config"


async def test_session_fs_dispatch_maps_the_operations() -> None:
    from copilot.session_fs_provider import dispatch
    fs = MemoryFs()
    assert await dispatch(fs, "mkdir", {"path": "/a/b", "recursive": True}) is None
    assert await dispatch(fs, "writeFile", {"path": "/a/b/f.txt", "content": "x"}) is None
    assert await dispatch(fs, "appendFile", {"path": "/a/b/f.txt", "content": "y"}) is None
    assert await dispatch(fs, "readFile", {"path": "/a/b/f.txt"}) == "xy"
    assert await dispatch(fs, "exists", {"path": "/a/b"}) is True
    st = await dispatch(fs, "stat", {"path": "/a/b/f.txt"})
    assert (st["isFile"], st["isDirectory"], st["size"]) == (True, False, 2) and st["mtime"].endswith("Z")
    assert await dispatch(fs, "readdir", {"path": "/a/b"}) == ["f.txt"]
    assert await dispatch(fs, "readdirWithTypes", {"path": "/a"}) == [{"name": "b", "type": "directory"}]
    assert await dispatch(fs, "rename", {"src": "/a/b/f.txt", "dest": "/a/g.txt"}) is None
    assert await dispatch(fs, "rm", {"path": "/a", "recursive": True, "force": False}) is None
    missing = await dispatch(fs, "readFile", {"path": "/a/g.txt"})
    assert missing["error"]["code"] == "ENOENT" and "/a/g.txt" in missing["error"]["message"]


# --------------------------------------------------------------------- 6. GitHub token provider

async def test_github_token_provider_is_asked_for_the_new_session(client: CopilotClient) -> None:
    asked: List[GitHubTokenRequest] = []

    async def github_token_provider(args: GitHubTokenRequest) -> Dict[str, Any]:
        asked.append(args)
        return {"kind": "token", "accessToken": "gho_not_a_real_token", "expiresIn": 8 * 60 * 60}

    sid = f"py-token-provider-{os.getpid()}"
    with pytest.raises(CopilotError) as e:
        await client.create_session({"model": "gpt-4.1", "session_id": sid,
                                     "github_token_provider": github_token_provider})
    assert "GitHub token validation failed" in str(e.value)
    assert len(asked) == 1
    args = asked[0]
    assert (args["reason"], args["host"], args["sessionId"]) == ("initial", "https://github.com", sid)
    assert args.session_id == sid and args["session_id"] == sid


async def test_github_token_provider_cancelled(client: CopilotClient) -> None:
    calls: List[str] = []

    def cancelled(args: Any) -> Any:
        calls.append(args["reason"])
        return {"kind": "cancelled"}

    with pytest.raises(CopilotError) as e:
        await client.create_session({"model": "gpt-4.1", "github_token_provider": cancelled})
    assert calls == ["initial"]
    assert "cancel" in str(e.value).lower()


async def test_github_token_provider_conflicts(client: CopilotClient, base_config: Dict[str, Any]) -> None:
    def provider(args: Any) -> str:
        raise AssertionError("never asked")

    with pytest.raises(InvalidConfigError):
        await client.create_session({"model": "gpt-4.1", "github_token": "gho_x", "github_token_provider": provider})
    with pytest.raises(InvalidConfigError):
        await client.create_session({**base_config, "github_token_provider": provider})


# -------------------------------------------------------------------------------- 7. telemetry

async def test_telemetry_trace_context_reaches_tools_and_the_cli_spans(sandbox: Dict[str, str],
                                                                       base_config: Dict[str, Any]) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    tracer = provider.get_tracer("copilot-py-tests")
    seen: List[Any] = []

    @define_tool(description="Reports the trace context", skip_permission=True)
    def traced(invocation: ToolInvocation) -> str:
        # A plain function: it runs in an executor thread, inside the CLI's trace context.
        seen.append((invocation, trace.get_current_span().get_span_context().trace_id))
        return "traced"

    @define_tool(description="Reports the trace context", skip_permission=True)
    async def traced_async(invocation: ToolInvocation) -> str:
        # A coroutine: it runs on the loop, inside the CLI's trace context.
        seen.append((invocation, trace.get_current_span().get_span_context().trace_id))
        return "traced async"

    out = os.path.join(tempfile.mkdtemp(prefix="copilot-py-otel-"), "otel.jsonl")
    async with CopilotClient(own_cli_options(sandbox), telemetry={"exporter_type": "file", "file_path": out}) as c:
        with tracer.start_as_current_span("host-request") as span:
            host_trace = span.get_span_context().trace_id
            async with await c.create_session({**base_config, "tools": [traced, traced_async]}) as s:
                answer = await s.send_and_wait("CALL traced {}")
                assert answer is not None and answer.data.content == "Tool returned: traced"
                answer = await s.send_and_wait("CALL traced_async {}")
                assert answer is not None and answer.data.content == "Tool returned: traced async"
        assert trace.get_current_span().get_span_context().trace_id == 0  # the handlers' contexts stayed theirs
        # No host span: an explicit traceparent.
        async with await c.create_session({**base_config, "tools": [traced], "traceparent": TRACEPARENT}) as s:
            await s.send_and_wait({"prompt": "CALL traced {}", "traceparent": TRACEPARENT})
        with pytest.raises(InvalidConfigError):
            await c.create_session({**base_config, "traceparent": "not-a-traceparent"})
        with pytest.raises(InvalidConfigError):
            async with await c.create_session(base_config) as s:
                await s.send({"prompt": "x", "traceparent": "00-zz-00-01"})
    assert len(seen) == 3
    host_hex = f"{host_trace:032x}"
    (first, first_current), (first_async, first_async_current), (second, second_current) = seen
    for inv, current in ((first, first_current), (first_async, first_async_current)):
        assert inv.traceparent is not None and inv.traceparent.split("-")[1] == host_hex
        assert current == host_trace  # the handler ran inside the CLI's span of the host's trace
    assert first.traceparent != first_async.traceparent  # each tool call its own span
    assert second.traceparent is not None and second.traceparent.split("-")[1] == TRACE_ID
    assert second_current == int(TRACE_ID, 16)
    with open(out) as f:
        spans = [json.loads(line) for line in f if line.strip()]
    trace_ids = {x.get("traceId") for x in spans if x.get("type") == "span"}
    assert host_hex in trace_ids and TRACE_ID in trace_ids, sorted(t for t in trace_ids if t)


def test_telemetry_with_a_url_connection_is_invalid_config() -> None:
    from copilot import RuntimeConnection
    with pytest.raises(InvalidConfigError) as e:
        CopilotClient(connection=RuntimeConnection.for_uri("127.0.0.1:1", connection_token="t"),
                      telemetry={"exporter_type": "file", "file_path": "/tmp/x.jsonl"})
    assert "telemetry" in str(e.value)


# ------------------------------------------------------------------------------ 8. mode empty

async def test_mode_empty(sandbox: Dict[str, str], base_config: Dict[str, Any]) -> None:
    base_directory = tempfile.mkdtemp(prefix="copilot-py-empty-")
    needle = f"SYSTEM {sandbox['work']}"
    async with CopilotClient(own_cli_options(sandbox)) as c:  # the default mode, for comparison
        async with await c.create_session(base_config) as s:
            answer = await s.send_and_wait(needle)
            assert answer is not None and answer.data.content == f"system has {sandbox['work']}"
    async with CopilotClient(own_cli_options(sandbox), mode="empty", base_directory=base_directory) as c:
        with pytest.raises(InvalidConfigError) as e:
            await c.create_session(base_config)
        assert "availableTools" in str(e.value) or "available_tools" in str(e.value)
        async with await c.create_session({**base_config, "available_tools": []}) as s:
            answer = await s.send_and_wait(needle)
            assert answer is not None and answer.data.content == f"system lacks {sandbox['work']}"
    with pytest.raises(InvalidConfigError):  # neither base_directory nor session_fs
        c = CopilotClient(own_cli_options(sandbox), mode="empty")
        await c.start()
