"""The asyncio client and session."""
from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import inspect
import json
import logging
import weakref
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Set, Union

from . import _copilot
from .errors import InvalidConfigError, NotConnectedError, SessionError
from .tools import Tool, to_tool
from .types import (AuthStatus, HookInvocation, LifecycleEvent, PermissionRequest, PingResponse,
                    SessionEvent, SessionMetadata, StatusResponse, ToolInvocation, UserInputRequest)

log = logging.getLogger("copilot")

# Clients still alive at interpreter exit are force-stopped before Python finalizes, so a script
# that forgets stop() leaves no CLI behind and no library thread calls into a dying interpreter.
_live_clients: "weakref.WeakSet[CopilotClient]" = weakref.WeakSet()


@atexit.register
def _close_live_clients() -> None:
    for c in list(_live_clients):
        try:
            c._native.close_now()
        except Exception:  # exit must go on
            pass

DEFAULT_TIMEOUT = 60.0

# Host-side keys of SessionConfig that never go to the wire.
_HANDLER_KEYS = {
    "on_permission_request": "permission", "onPermissionRequest": "permission",
    "on_user_input_request": "user_input", "onUserInputRequest": "user_input",
    "hooks": "hook",
    "on_system_message_transform": "transform", "onSystemMessageTransform": "transform",
    "on_exit_plan_mode": "exit_plan", "onExitPlanMode": "exit_plan",
    "on_provider_token": "provider_token", "onProviderToken": "provider_token",
}


def approve_all(request: PermissionRequest) -> str:
    """A permission handler that approves every prompt once."""
    return "approve-once"


def _to_jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if hasattr(v, "model_dump"):  # pydantic
        return v.model_dump(mode="json")
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _to_jsonable(dataclasses.asdict(v))
    if isinstance(v, dict):
        return {str(k): _to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_to_jsonable(x) for x in v]
    return str(v)


def _options(value: Any, kwargs: Dict[str, Any], what: str) -> Dict[str, Any]:
    if value is None:
        out: Dict[str, Any] = {}
    elif isinstance(value, dict):
        out = dict(value)
    else:
        raise InvalidConfigError(f"{what} must be a dict, got {type(value).__name__}")
    out.update(kwargs)
    return out


def _hook_key(name: str) -> str:
    """'on_pre_tool_use' / 'pre_tool_use' / 'preToolUse' -> 'preToolUse'."""
    n = name[3:] if name.startswith("on_") else name
    head, *rest = n.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls a handler: coroutine functions on the loop, plain functions in the default
    executor (so a blocking handler never stalls the loop); awaits what they return."""
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):
        return await fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    if inspect.isawaitable(result):
        result = await result
    return result


class _Dispatcher:
    """Receives handler calls from the core (on a library thread) and runs them on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session_id: str, tools: Dict[str, Tool],
                 handlers: Dict[str, Any]) -> None:
        self.loop = loop
        self.session_id = session_id
        self.tools = tools
        self.handlers = handlers
        self.tasks: Set["asyncio.Task[None]"] = set()

    def __call__(self, kind: str, payload: str, reply: Any) -> None:
        self.loop.call_soon_threadsafe(self._start, kind, payload, reply)

    def _start(self, kind: str, payload: str, reply: Any) -> None:
        task = self.loop.create_task(self._run(kind, json.loads(payload), reply))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, kind: str, p: Dict[str, Any], reply: Any) -> None:
        try:
            result = await self._handle(kind, p)
            reply.ok(json.dumps(_to_jsonable(result)))
        except asyncio.CancelledError:
            reply.fail("the handler was cancelled")
            raise
        except Exception as e:  # a failing handler must answer, never hang the turn
            log.exception("copilot %s handler failed", kind)
            reply.fail(f"{type(e).__name__}: {e}")

    async def _handle(self, kind: str, p: Dict[str, Any]) -> Any:
        if kind == "tool":
            t = self.tools[p["toolName"]]
            inv = ToolInvocation(self.session_id, p.get("toolCallId", ""), p["toolName"],
                                 p.get("arguments") or {}, p.get("workingDirectory"))
            args, kwargs = t.bind_args(inv.arguments, inv)
            return await _call(t.handler, *args, **kwargs)
        if kind == "permission":
            req = p.get("permissionRequest") or {}
            r = await _call(self.handlers["permission"], PermissionRequest(
                req.get("kind", ""), p.get("requestId", ""), req.get("toolCallId"), req, p))
            return {"kind": r} if isinstance(r, str) else r
        if kind == "user_input":
            r = await _call(self.handlers["user_input"], UserInputRequest(
                p.get("question", ""), list(p.get("choices") or []), bool(p.get("allowFreeform", True)), p))
            if isinstance(r, dict) and "was_freeform" in r:
                r = {"answer": r.get("answer"), "wasFreeform": r["was_freeform"]}
            return r
        if kind == "hook":
            hooks = self.handlers["hook"]
            fn = hooks.get(p.get("hookType", ""))
            if fn is None:
                return None
            return await _call(fn, p.get("input") or {}, HookInvocation(p.get("hookType", ""), self.session_id, p))
        if kind == "transform":
            r = await _call(self.handlers["transform"], p.get("sections") or {})
            return {"sections": r}
        if kind == "exit_plan":
            r = await _call(self.handlers["exit_plan"], p)
            return {"approved": r} if isinstance(r, bool) else r
        if kind == "provider_token":
            return {"token": await _call(self.handlers["provider_token"], p.get("providerName", "default"))}
        raise RuntimeError(f"unknown handler kind {kind}")


class CopilotSession:
    """A conversation. Use it as ``async with await client.create_session(...) as session``;
    leaving the block disconnects it (the session stays on disk and can be resumed)."""

    def __init__(self, client: "CopilotClient", loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._native: Any = None
        self._by_type: Dict[str, List[Callable[[SessionEvent], Any]]] = {}
        self._all: List[Callable[[SessionEvent], Any]] = []
        self._queues: Set["asyncio.Queue[Optional[SessionEvent]]"] = set()
        self._closed = False
        self._dispatcher: Optional[_Dispatcher] = None
        # session.idle events dispatched so far, and send_and_wait calls waiting to see one.
        self._idles = 0
        self._idle_waiters: List["tuple[int, asyncio.Future[None]]"] = []

    # -- called from the core's thread
    def _deliver(self, text: str) -> None:
        try:
            self._loop.call_soon_threadsafe(self._dispatch, text)
        except RuntimeError:  # loop closed
            pass

    def _deliver_end(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._end)
        except RuntimeError:
            pass

    # -- on the loop
    def _dispatch(self, text: str) -> None:
        ev = SessionEvent.from_json(text)
        for h in list(self._by_type.get(ev.type, ())) + list(self._all):
            try:
                r = h(ev)
                if inspect.isawaitable(r):
                    asyncio.ensure_future(r)
            except Exception:
                log.exception("copilot event handler failed for %s", ev.type)
        for q in list(self._queues):
            q.put_nowait(ev)
        if ev.type == "session.idle":
            self._idles += 1
            self._wake_idle_waiters()

    def _wake_idle_waiters(self) -> None:
        keep = []
        for target, fut in self._idle_waiters:
            if self._closed or self._idles >= target:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((target, fut))
        self._idle_waiters = keep

    def _end(self) -> None:
        self._closed = True
        for q in list(self._queues):
            q.put_nowait(None)
        self._wake_idle_waiters()

    async def _events_caught_up(self, idles_before: int) -> None:
        """Waits (briefly) until the event path has dispatched the turn's session.idle, so
        on() handlers and iterators have seen the whole turn when send_and_wait returns."""
        if self._closed or self._idles > idles_before:
            return
        fut: "asyncio.Future[None]" = self._loop.create_future()
        self._idle_waiters.append((idles_before + 1, fut))
        try:
            await asyncio.wait_for(fut, 5.0)
        except asyncio.TimeoutError:
            log.debug("event delivery lagged behind send_and_wait")

    @property
    def session_id(self) -> str:
        return self._native.session_id

    @property
    def workspace_path(self) -> Optional[str]:
        return json.loads(self._native.info()).get("workspacePath")

    def on(self, event_type: Union[str, Callable[[SessionEvent], Any]],
           handler: Optional[Callable[[SessionEvent], Any]] = None) -> Callable[[], None]:
        """``on(fn)`` for every event or ``on("assistant.message_delta", fn)`` for one type.
        Handlers run on the event loop, in wire order (coroutines are scheduled). Returns a
        function that unsubscribes."""
        if handler is None:
            if not callable(event_type):
                raise InvalidConfigError("on() needs a handler")
            fn, bucket = event_type, self._all
        else:
            if not isinstance(event_type, str):
                raise InvalidConfigError("on(type, handler): the type must be a string")
            fn, bucket = handler, self._by_type.setdefault(event_type, [])
        bucket.append(fn)

        def unsubscribe() -> None:
            if fn in bucket:
                bucket.remove(fn)
        return unsubscribe

    async def events(self, *types: str) -> AsyncIterator[SessionEvent]:
        """Async iterator over events from now on (optionally of some types); ends when the
        session is disconnected or the connection is gone."""
        q: "asyncio.Queue[Optional[SessionEvent]]" = asyncio.Queue()
        self._queues.add(q)
        try:
            if self._closed:
                return
            while True:
                ev = await q.get()
                if ev is None:
                    return
                if not types or ev.type in types:
                    yield ev
        finally:
            self._queues.discard(q)

    async def send(self, options: Union[str, Dict[str, Any]], **kwargs: Any) -> str:
        """Queues a prompt; returns the message id."""
        o = {"prompt": options} if isinstance(options, str) else _options(options, kwargs, "message options")
        return await self._native.send(json.dumps(o))

    async def send_and_wait(self, options: Union[str, Dict[str, Any]], timeout: Optional[float] = DEFAULT_TIMEOUT,
                            **kwargs: Any) -> Optional[SessionEvent]:
        """Sends a prompt and waits for the session to become idle. Returns the last
        ``assistant.message`` event (``.data.content`` is the answer) or None. Raises
        :class:`SessionError` when the turn fails and :class:`CopilotTimeoutError` (a
        ``TimeoutError``) after ``timeout`` seconds. Cancelling the awaiting task (or Ctrl-C)
        aborts the turn."""
        o = {"prompt": options} if isinstance(options, str) else _options(options, kwargs, "message options")
        if timeout is not None:
            o["timeout"] = timeout
        else:
            o["timeout"] = 365 * 24 * 3600.0
        idles_before = self._idles
        try:
            text = await self._native.send_and_wait(json.dumps(o))
        except SessionError:
            await self._events_caught_up(idles_before)
            raise
        await self._events_caught_up(idles_before)
        return SessionEvent.from_json(text) if text is not None else None

    async def abort(self) -> None:
        await self._native.abort()

    async def get_messages(self) -> List[SessionEvent]:
        return [SessionEvent.from_wire(e) for e in json.loads(await self._native.get_messages())]

    async def set_model(self, model: str, reasoning_effort: Optional[str] = None) -> Dict[str, Any]:
        return json.loads(await self._native.set_model(model, reasoning_effort))

    async def rpc(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Any session-scoped server method (``sessionId`` is added)."""
        return json.loads(await self._native.rpc(method, json.dumps(params or {})))

    async def disconnect(self) -> None:
        """Detaches this client (``session.destroy``); idempotent."""
        await self._native.disconnect()

    destroy = disconnect

    async def __aenter__(self) -> "CopilotSession":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.disconnect()

    def __repr__(self) -> str:
        return f"CopilotSession({self.session_id!r})"


class CopilotClient:
    """A client of one Copilot CLI: spawned over stdio (default), spawned on a TCP port
    (``use_stdio=False``), or an external server (``cli_url``). Options are a dict (snake_case
    or camelCase keys) and/or keyword arguments. ``async with CopilotClient(...)`` starts and
    stops it."""

    def __init__(self, options: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        opts = _options(options, kwargs, "client options")
        self._auto_start = bool(opts.pop("auto_start", opts.pop("autoStart", True)))
        self._native = _copilot.NativeClient(json.dumps(opts))
        _live_clients.add(self)
        self._lifecycle: List[Callable[[LifecycleEvent], Any]] = []
        self._lifecycle_on = False
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._started = False
        self._stopped = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._native.start()
        self._started, self._stopped = True, False
        if self._lifecycle and not self._lifecycle_on:
            self._subscribe_lifecycle()

    async def _ensure(self) -> None:
        if not self._started:
            if self._stopped:
                raise NotConnectedError("the client is stopped; call start() to use it again")
            if not self._auto_start:
                raise NotConnectedError("the client is not started (auto_start is off)")
            await self.start()

    async def stop(self) -> None:
        """Detaches every session, stops a CLI this client spawned; idempotent."""
        await self._native.stop()
        self._started, self._stopped = False, True

    async def force_stop(self) -> None:
        await self._native.force_stop()
        self._started, self._stopped = False, True

    async def __aenter__(self) -> "CopilotClient":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def port(self) -> Optional[int]:
        return self._native.port()

    @property
    def cli_pid(self) -> Optional[int]:
        return self._native.cli_pid()

    @property
    def protocol_version(self) -> Optional[int]:
        return self._native.protocol_version()

    async def _json(self, name: str, arg: Optional[str] = None) -> Any:
        await self._ensure()
        return json.loads(await self._native.call(name, arg))

    async def ping(self, message: Optional[str] = None) -> PingResponse:
        r = await self._json("ping", message)
        return PingResponse(r.get("message", ""), r.get("timestamp", ""), r.get("protocolVersion"))

    async def get_status(self) -> StatusResponse:
        r = await self._json("get_status")
        return StatusResponse(r.get("version", ""), r.get("protocolVersion"))

    async def get_auth_status(self) -> AuthStatus:
        r = await self._json("get_auth_status")
        return AuthStatus(bool(r.get("isAuthenticated")), r.get("authType"), r.get("host"), r.get("login"),
                          r.get("statusMessage"))

    async def list_models(self) -> List[Dict[str, Any]]:
        return await self._json("list_models")

    async def list_sessions(self, filter: Optional[Dict[str, Any]] = None) -> List[SessionMetadata]:
        r = await self._json("list_sessions", json.dumps(filter) if filter else None)
        return [SessionMetadata.from_wire(o) for o in r]

    async def delete_session(self, session_id: str) -> None:
        await self._ensure()
        await self._native.call("delete_session", session_id)

    async def get_last_session_id(self) -> Optional[str]:
        await self._ensure()
        return await self._native.call("get_last_session_id", None)

    async def get_foreground_session_id(self) -> Optional[str]:
        await self._ensure()
        return await self._native.call("get_foreground_session_id", None)

    async def set_foreground_session_id(self, session_id: str) -> None:
        await self._ensure()
        await self._native.call("set_foreground_session_id", session_id)

    async def rpc(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Any server method by name (the escape hatch)."""
        await self._ensure()
        return json.loads(await self._native.rpc(method, json.dumps(params if params is not None else {})))

    def on_lifecycle(self, handler: Callable[[LifecycleEvent], Any]) -> Callable[[], None]:
        """Session lifecycle notifications (created, deleted, updated, ...), on the loop."""
        self._lifecycle.append(handler)
        if self._started and not self._lifecycle_on:
            self._subscribe_lifecycle()

        def unsubscribe() -> None:
            if handler in self._lifecycle:
                self._lifecycle.remove(handler)
        return unsubscribe

    def _subscribe_lifecycle(self) -> None:
        loop = self._loop

        def deliver(text: str) -> None:
            o = json.loads(text)
            ev = LifecycleEvent(o.get("type", ""), o.get("sessionId", ""), o.get("metadata"))
            def run() -> None:
                for h in list(self._lifecycle):
                    try:
                        r = h(ev)
                        if inspect.isawaitable(r):
                            asyncio.ensure_future(r)
                    except Exception:
                        log.exception("copilot lifecycle handler failed")
            try:
                loop.call_soon_threadsafe(run)  # type: ignore[union-attr]
            except RuntimeError:
                pass
        self._native.subscribe_lifecycle(deliver)
        self._lifecycle_on = True

    async def create_session(self, config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> CopilotSession:
        """Creates a session. Handlers (tools, permission, user input, hooks, ...) are plain
        callables, sync or async."""
        return await self._open(None, _options(config, kwargs, "session config"))

    async def resume_session(self, session_id: str, config: Optional[Dict[str, Any]] = None,
                             **kwargs: Any) -> CopilotSession:
        """Resumes a session by id; the config is optional (give handlers and the provider again
        to use them)."""
        if not session_id:
            raise InvalidConfigError("resume_session needs a session id")
        return await self._open(session_id, _options(config, kwargs, "session config"))

    async def _open(self, resume_id: Optional[str], cfg: Dict[str, Any]) -> CopilotSession:
        await self._ensure()
        loop = asyncio.get_running_loop()
        session = CopilotSession(self, loop)
        on_event = cfg.pop("on_event", cfg.pop("onEvent", None))
        if on_event is not None:
            session.on(on_event)
        handlers: Dict[str, Any] = {}
        for key in list(cfg):
            kind = _HANDLER_KEYS.get(key)
            if kind is None:
                continue
            value = cfg.pop(key)
            if value is None:
                continue
            if kind == "hook":
                if not isinstance(value, dict):
                    raise InvalidConfigError("hooks must be a dict of hook name -> callable")
                value = {_hook_key(k): v for k, v in value.items()}
            elif not callable(value):
                raise InvalidConfigError(f"{key} must be callable")
            handlers[kind] = value
        tools = [to_tool(t) for t in cfg.pop("tools", None) or []]
        if tools:
            cfg["tools"] = [t.definition() for t in tools]
        by_name = {t.name: t for t in tools}
        dispatcher = _Dispatcher(loop, cfg.get("session_id") or cfg.get("sessionId") or resume_id or "", by_name, handlers)
        session._dispatcher = dispatcher
        try:
            config_json = json.dumps(cfg)
        except TypeError as e:
            raise InvalidConfigError(f"session config is not JSON-serialisable: {e}") from e
        session._native = await self._native.open_session(
            resume_id, config_json, dispatcher, list(handlers), list(by_name), session._deliver, session._deliver_end)
        dispatcher.session_id = session._native.session_id
        return session
