"""The asyncio client and session.

The core decides payloads, replies, ordering and defaults; this module only turns the core's
messages into Python calls on the event loop: events to ``on()`` / ``events()`` consumers (by
subscription id), requests to the user's handlers (their return value goes back as it is),
call results to the awaiting futures.
"""
from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import logging
import math
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Set, Union

from . import _copilot
from . import _protocol_rt as _rt
from ._copilot import CANCEL, DONE, EVENT, REQUEST
from .errors import InvalidConfigError
from .tools import Tool, ToolResult, to_tool
from .session_fs_provider import dispatch as session_fs_dispatch
from .types import _camel
from .types import (AuthStatus, AutoModeSwitchRequest, CommandContext, CommandDefinition, ElicitationContext,
                    ElicitationResult, GitHubTokenRequest, HandlerInvocation, HookInvocation, LifecycleEvent,
                    McpAuthRequest, PermissionRequest,
                    PingResponse, ProviderTokenRequest, RuntimeConnection, Seconds, SessionEvent, SessionMetadata,
                    StatusResponse,
                    SystemMessageTransformRequest, ToolInvocation, UserInputRequest)

if TYPE_CHECKING:
    from .protocol import AssistantMessageEvent, Model, ServerRpc, SessionRpc

log = logging.getLogger("copilot")

# Clients still alive at interpreter exit are force-stopped before Python finalizes, so a script
# that forgets stop() leaves no CLI behind. (The native module's own atexit hook, registered
# earlier and so run later, then closes the door through which library threads enter Python.)
_live_clients: "weakref.WeakSet[CopilotClient]" = weakref.WeakSet()


@atexit.register
def _close_live_clients() -> None:
    for c in list(_live_clients):
        try:
            c._native.close_now()
        except Exception:  # exit must go on
            pass


DEFAULT_TIMEOUT = 60.0

# SessionConfig keys of the handler callables -> the core's request kind they answer.
_HANDLER_KEYS = {
    "on_permission_request": "permission", "onPermissionRequest": "permission",
    "on_user_input_request": "userInput", "onUserInputRequest": "userInput",
    "on_system_message_transform": "systemMessageTransform", "onSystemMessageTransform": "systemMessageTransform",
    "on_exit_plan_mode": "exitPlanMode", "onExitPlanMode": "exitPlanMode",
    "on_provider_token": "providerToken", "onProviderToken": "providerToken",
    "on_auto_mode_switch": "autoModeSwitch", "onAutoModeSwitch": "autoModeSwitch",
    # The official names of the newer kinds.
    "on_auto_mode_switch_request": "autoModeSwitch", "onAutoModeSwitchRequest": "autoModeSwitch",
    "on_elicitation_request": "elicitation", "onElicitationRequest": "elicitation",
    "on_mcp_auth_request": "mcpAuth", "onMcpAuthRequest": "mcpAuth",
    "github_token_provider": "gitHubToken", "git_hub_token_provider": "gitHubToken",
    "gitHubTokenProvider": "gitHubToken",
}
_FS_FACTORY_KEYS = ("create_session_fs_provider", "createSessionFsProvider")

# opentelemetry's (context, propagate) modules once looked up; None when not installed.
_OTEL: Any = False


def _otel() -> Any:
    global _OTEL
    if _OTEL is False:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry import propagate as otel_propagate
            _OTEL = (otel_context, otel_propagate)
        except Exception:  # optional dependency
            _OTEL = None
    return _OTEL


def _inject_trace(o: Dict[str, Any]) -> None:
    """Adds the current OpenTelemetry span's W3C trace context (``traceparent``, ``tracestate``)
    to a session config or message, unless the caller gave a ``traceparent`` or opentelemetry
    is not installed."""
    if "traceparent" in o:
        return
    api = _otel()
    if api is None:
        return
    carrier: Dict[str, str] = {}
    try:
        api[1].inject(carrier)
    except Exception:
        log.debug("opentelemetry inject failed", exc_info=True)
        return
    if carrier.get("traceparent"):
        o["traceparent"] = carrier["traceparent"]
        if carrier.get("tracestate") and "tracestate" not in o:
            o["tracestate"] = carrier["tracestate"]


def _in_trace_context(fn: Callable[..., Any], traceparent: str, tracestate: Optional[str]) -> Callable[..., Any]:
    """``fn`` run inside the trace context the CLI sent (opentelemetry installed), so spans the
    handler opens are children of the CLI's tool span."""
    api = _otel()
    if api is None:
        return fn
    otel_context, otel_propagate = api
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    ctx = otel_propagate.extract(carrier)
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            token = otel_context.attach(ctx)
            try:
                return await fn(*args, **kwargs)
            finally:
                otel_context.detach(token)
        return run_async

    def run(*args: Any, **kwargs: Any) -> Any:  # in the executor thread: attach there
        token = otel_context.attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)
    return run


def approve_all(request: PermissionRequest) -> str:
    """A permission handler that approves every prompt once."""
    return "approve-once"


class PermissionHandler:
    """The official SDKs' name for the ready-made permission handlers:
    ``"on_permission_request": PermissionHandler.approve_all``. ``approve_all`` takes the
    official ``(request, invocation)`` and answers ``{"kind": "approve-once"}``; the module-level
    :func:`approve_all` is the same answer in the one-argument form."""

    @staticmethod
    def approve_all(request: PermissionRequest, invocation: Any = None) -> Dict[str, str]:
        return {"kind": "approve-once"}


def _options(value: Any, kwargs: Dict[str, Any], what: str) -> Dict[str, Any]:
    if value is None:
        out: Dict[str, Any] = {}
    elif isinstance(value, dict):
        out = dict(value)
    else:
        raise InvalidConfigError(f"{what} must be a dict, got {type(value).__name__}")
    out.update(kwargs)
    return out


def _seconds(options: Dict[str, Any]) -> Dict[str, Any]:
    """Durations given as ``datetime.timedelta`` (at any depth of an options dict) as the
    seconds the core reads."""
    return {k: v.total_seconds() if isinstance(v, timedelta) else _seconds(v) if isinstance(v, dict) else v
            for k, v in options.items()}


def _client_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """The ``connection`` option given as a :class:`RuntimeConnection` in the core's form."""
    conn = options.get("connection")
    if isinstance(conn, RuntimeConnection):
        options = {**options, "connection": conn.to_dict()}
    return options


def _message(options: Union[str, Dict[str, Any]], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    if isinstance(options, str):
        o = _seconds({"prompt": options, **kwargs})
    else:
        o = _seconds(_options(options, kwargs, "message options"))
    _inject_trace(o)
    return o


# The ``timeout`` of ``call()`` and of the typed calls when none is given: the client's
# ``request_timeout``.
REQUEST_TIMEOUT: Any = _rt.REQUEST_TIMEOUT


def _call_timeout(timeout: Any) -> Optional[float]:
    """A per-call deadline for the native layer: None = the client's default, infinity = no
    deadline (``None`` or 0 given), else seconds."""
    if timeout is REQUEST_TIMEOUT:
        return None
    if timeout is None:
        return math.inf
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidConfigError(f"timeout must be seconds (a number or a timedelta) or None, "
                                 f"got {type(timeout).__name__}")
    return math.inf if timeout == 0 else float(timeout)


def _positional(fn: Callable[..., Any]) -> int:
    """How many positional arguments `fn` takes (a large number for ``*args``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 16
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


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


def _reply_value(result: Any) -> Any:
    """A handler's return value in the form the core reads: a :class:`ToolResult` as its wire
    object, the generated types (``PermissionDecisionApproveOnce()``, ...) as their JSON; the
    rest as it is."""
    if isinstance(result, ToolResult):
        return result.to_dict()
    if isinstance(result, (dict, list, tuple, _rt._Struct)):
        return _rt.encode(result)
    return result


def _consumer(fn: Callable[[Any], Any], what: str) -> Callable[[Any], None]:
    """Wraps a subscriber: called on the loop; a coroutine it returns is scheduled; what it
    raises is logged."""
    def consume(item: Any) -> None:
        try:
            r = fn(item)
            if inspect.isawaitable(r):
                asyncio.ensure_future(r)
        except Exception:
            log.exception("copilot %s handler failed", what)
    return consume


def _sync_log_level() -> None:
    """The ``copilot`` logger's level now decides which records of the Rust core cross into
    Python (checked when a client or pool is made or started; see ``refresh_log_level``)."""
    _copilot.set_log_level(log.getEffectiveLevel())


def refresh_log_level() -> None:
    """Call after changing the level of the ``copilot`` logger (or of its parents) while clients
    or pools exist: the Rust core forwards only records at or above that level."""
    _sync_log_level()


def _duration(value: Any, what: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidConfigError(f"{what} must be seconds (a number or a timedelta), got {type(value).__name__}")
    return float(value)


def _cleanup(max_age: Any, max_idle: Any, include_open: Any) -> Dict[str, Any]:
    if not isinstance(include_open, bool):
        raise InvalidConfigError(f"include_open must be a bool, got {type(include_open).__name__}")
    return {"maxAge": _duration(max_age, "max_age"), "maxIdle": _duration(max_idle, "max_idle"),
            "includeOpen": include_open}


def _interval(interval: Any) -> float:
    s = _duration(interval, "interval")
    if s is None:
        raise InvalidConfigError("the reaper needs an interval")
    return s


def _stop_reapers(reapers: List["Reaper"]) -> None:
    for r in list(reapers):
        r.stop()


class Reaper:
    """A background reaper (``start_reaper``). It runs until :meth:`stop`, or until its client
    or pool is stopped; its owner keeps it alive, so the object may be dropped."""

    def __init__(self, native: Any, owner: List["Reaper"]) -> None:
        self._native = native
        self._owner = owner
        owner.append(self)

    @property
    def running(self) -> bool:
        return self._native.running

    def stop(self) -> None:
        """Stops sweeping (a sweep in progress is abandoned); idempotent."""
        self._native.stop()
        if self in self._owner:
            self._owner.remove(self)

    def __enter__(self) -> "Reaper":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Reaper(running={self.running})"


async def _open_session(native_owner: Any, resume_id: Optional[str], cfg: Dict[str, Any]) -> "CopilotSession":
    """Opens a session through a native client or pool (``native_owner.session``): the host
    callables of ``cfg`` become the request kinds, tools and hooks this process answers, the
    rest goes to the core as the session config."""
    on_event = cfg.pop("on_event", cfg.pop("onEvent", None))
    hooks: Optional[Dict[str, Any]] = None
    raw_hooks = cfg.pop("hooks", None)
    if raw_hooks is not None:
        if not isinstance(raw_hooks, dict) or not all(callable(f) for f in raw_hooks.values()):
            raise InvalidConfigError("hooks must be a dict of hook name -> callable")
        hooks = {_copilot.hook_type_name(k): f for k, f in raw_hooks.items()}
    handlers: Dict[str, Any] = {}
    for key in [k for k in cfg if k in _HANDLER_KEYS]:
        value = cfg.pop(key)
        if value is None:
            continue
        if not callable(value):
            raise InvalidConfigError(f"{key} must be callable")
        handlers[_HANDLER_KEYS[key]] = value
    commands = cfg.pop("commands", None)
    if commands is not None:
        cfg["commands"], table = _commands(commands)
        if table:
            handlers["command"] = table
    fs_factory = None
    for key in _FS_FACTORY_KEYS:
        if cfg.get(key) is not None:
            fs_factory = cfg.pop(key)
            if not callable(fs_factory):
                raise InvalidConfigError(f"{key} must be callable (session -> SessionFsProvider)")
            handlers["sessionFs"] = fs_factory
        cfg.pop(key, None)
    tools = [to_tool(t) for t in cfg.pop("tools", None) or []]
    if tools:
        cfg["tools"] = [t.definition() for t in tools]
    _inject_trace(cfg)
    sink = _Sink(asyncio.get_running_loop(), {t.name: t for t in tools}, handlers, hooks or {})
    native = native_owner.session(cfg, list(handlers), [t.name for t in tools],
                                  None if hooks is None else list(hooks), sink)
    session = CopilotSession(native, sink)
    if fs_factory is not None:
        # Before the session opens: the CLI writes session state while creating it.
        provider = fs_factory(session)
        if inspect.isawaitable(provider):
            provider = await provider
        sink.fs_provider = provider
    if on_event is not None:
        session.on(on_event)
    await native.open(resume_id)
    return session


def _commands(commands: Any) -> "tuple[List[Dict[str, Any]], Dict[str, Any]]":
    """The ``commands`` config: the definitions the CLI gets (``{name, description}``) and the
    handlers by name."""
    if not isinstance(commands, (list, tuple)):
        raise InvalidConfigError("commands must be a list of CommandDefinition (or dicts with name, handler)")
    defs: List[Dict[str, Any]] = []
    table: Dict[str, Any] = {}
    for c in commands:
        name: Any
        description: Any
        handler: Any
        if isinstance(c, CommandDefinition):
            name, description, handler = c.name, c.description, c.handler
        elif isinstance(c, dict):
            unknown = set(c) - {"name", "description", "handler"}
            if unknown:
                raise InvalidConfigError(f"command {c.get('name')!r}: unknown keys {sorted(unknown)}")
            name, description, handler = c.get("name"), c.get("description"), c.get("handler")
        else:
            raise InvalidConfigError(f"not a command: {c!r} (use CommandDefinition or a dict)")
        if not isinstance(name, str) or not name:
            raise InvalidConfigError("a command needs a name")
        if not callable(handler):
            raise InvalidConfigError(f"command {name!r} needs a callable handler")
        if name in table:
            raise InvalidConfigError(f"command {name!r} is defined twice")
        d: Dict[str, Any] = {"name": name}
        if description is not None:
            d["description"] = description
        defs.append(d)
        table[name] = handler
    return defs, table


class _Sink:
    """The loop side of one session: takes the batches of its host stream, in stream order.
    It holds no reference to the session objects, so a dropped session can be freed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tools: Dict[str, Tool], handlers: Dict[str, Any],
                 hooks: Dict[str, Any]) -> None:
        self.loop = loop
        self.tools = tools
        self.handlers = handlers
        self.hooks = hooks
        # Handlers that take the typed request as an optional second argument, and the
        # permission / user-input handlers declared in the official (request, invocation) form.
        self.with_request = {k for k in ("systemMessageTransform", "providerToken", "permission", "userInput",
                                         "autoModeSwitch", "elicitation", "mcpAuth")
                             if k in handlers and _positional(handlers[k]) >= 2}
        # The session's filesystem provider (create_session_fs_provider), set before it opens.
        self.fs_provider: Any = None
        self.consumers: Dict[int, Callable[[SessionEvent], None]] = {}
        self.queues: Set["asyncio.Queue[Optional[SessionEvent]]"] = set()
        self.ended = False
        # Running handler tasks by the core's request id, so a cancellation finds its task.
        self.tasks: Dict[int, "asyncio.Task[None]"] = {}

    def __call__(self, batch: List[tuple]) -> None:
        for m in batch:
            tag = m[0]
            if tag == EVENT:
                ev = SessionEvent.from_wire(m[2])
                for sub in m[1]:
                    consumer = self.consumers.get(sub)
                    if consumer is not None:
                        consumer(ev)
            elif tag == REQUEST:
                request = m[5]
                task = self.loop.create_task(self._answer(m[1], m[2], m[3], m[4]))
                self.tasks[request] = task
                task.add_done_callback(lambda _t, r=request: self.tasks.pop(r, None))
            elif tag == CANCEL:
                # The core answered the CLI already and ignores a later reply: stop the handler.
                task = self.tasks.pop(m[1], None)
                if task is not None:
                    task.cancel(m[2])
            elif tag == DONE:
                fut = m[1]
                if fut is not None and not fut.done():
                    if m[2]:
                        fut.set_result(m[3])
                    else:
                        fut.set_exception(m[3])
            else:  # END
                self.ended = True
                for q in list(self.queues):
                    q.put_nowait(None)

    async def _answer(self, kind: str, name: Optional[str], payload: Dict[str, Any], reply: Any) -> None:
        try:
            result = await self._run(kind, name, payload)
        except asyncio.CancelledError:
            # Cancelled by the core (nobody reads this answer) or with the loop: either way
            # the request must not wait for an answer that never comes.
            reply.fail("the handler was cancelled")
            raise
        except Exception as e:  # a failing handler must answer, never hang the turn
            log.exception("copilot %s handler failed", kind)
            # A command's error is shown as it is (the official SDKs send the message alone).
            reply.fail(str(e) if kind == "command" and str(e) else f"{type(e).__name__}: {e}")
            return
        try:
            reply.ok(_reply_value(result))
        except (TypeError, ValueError) as e:
            log.error("copilot %s handler returned an unusable value: %s", kind, e)
            reply.fail(f"the {kind} handler returned an unusable value: {e}")

    async def _run(self, kind: str, name: Optional[str], p: Dict[str, Any]) -> Any:
        """Runs the handler. Its task is cancelled when the core cancels the request: an async
        handler sees ``asyncio.CancelledError`` (whose message is the core's reason) at its
        current ``await``; a plain function runs on in its executor thread (a thread cannot be
        interrupted) and what it returns is dropped."""
        if kind == "tool":
            t = self.tools[name]  # type: ignore[index]
            inv = ToolInvocation(p["sessionId"], p["toolCallId"], p["toolName"], p["arguments"],
                                 p["workingDirectory"], p["requestId"], p, p.get("traceparent"), p.get("tracestate"))
            args, kwargs = t.bind_args(inv.arguments, inv)
            handler = t.handler
            if inv.traceparent:
                handler = _in_trace_context(handler, inv.traceparent, inv.tracestate)
            return await _call(handler, *args, **kwargs)
        if kind == "hook":
            fn = self.hooks.get(name)  # type: ignore[arg-type]
            if fn is None:
                raise LookupError(f"no hook function for {name}")
            # The typed input (also the wire dict); a typed output (or a dict of them) as JSON.
            out = await _call(fn, _rt.hook_input(p["hookType"], p["input"]),
                              HookInvocation(p["hookType"], p["sessionId"], p))
            return None if out is None else _rt.encode(out)
        if kind == "command":
            fn = self.handlers["command"].get(name)
            if fn is None:  # the core answers unknown names itself; kept for safety
                raise LookupError(f"Unknown command: {name}")
            await _call(fn, CommandContext(p["sessionId"], p.get("command", ""), p.get("commandName", name),
                                           p.get("args", ""), p))
            return None
        if kind == "sessionFs":
            if self.fs_provider is None:
                raise LookupError("the session has no filesystem provider")
            return await session_fs_dispatch(self.fs_provider, name or p.get("operation", ""), p)
        fn = self.handlers[kind]
        invocation = (HandlerInvocation(p["sessionId"]),) if kind in self.with_request else ()
        if kind == "elicitation":
            return await _call(fn, ElicitationContext(p, session_id=p["sessionId"]), *invocation)
        if kind == "mcpAuth":
            return await _call(fn, McpAuthRequest(p, session_id=p["sessionId"]), *invocation)
        if kind == "gitHubToken":
            return await _call(fn, GitHubTokenRequest(p, session_id=p.get("sessionId")))
        if kind in ("permission", "userInput"):
            req: Any = (PermissionRequest(p["kind"], p["requestId"], p["toolCallId"], p["request"], p, p["sessionId"])
                        if kind == "permission" else
                        UserInputRequest(p["question"], p["choices"], p["allowFreeform"], p, p["sessionId"]))
            if kind in self.with_request:
                return await _call(fn, req, HandlerInvocation(p["sessionId"]))
            return await _call(fn, req)
        if kind == "systemMessageTransform":
            extra = (SystemMessageTransformRequest(p["sections"], p["sessionId"], p),)
            return await _call(fn, p["sections"], *(extra if kind in self.with_request else ()))
        if kind == "providerToken":
            extra = (ProviderTokenRequest(p["providerName"], p["sessionId"], p),)
            return await _call(fn, p["providerName"], *(extra if kind in self.with_request else ()))
        if kind == "autoModeSwitch":
            return await _call(fn, AutoModeSwitchRequest(p.get("errorCode"), p.get("retryAfterSeconds"),
                                                         p["sessionId"], p), *invocation)
        return await _call(fn, p)  # exitPlanMode: the payload itself


class CopilotSession:
    """A conversation. Use it as ``async with await client.create_session(...) as session``;
    leaving the block disconnects it (the session stays on disk and can be resumed)."""

    def __init__(self, native: Any, sink: _Sink) -> None:
        self._native = native
        self._sink = sink

    @property
    def session_id(self) -> str:
        return self._native.session_id

    @property
    def workspace_path(self) -> Optional[str]:
        return self._native.info().get("workspacePath")

    @property
    def capabilities(self) -> Dict[str, Any]:
        """What the host side of this session supports, as the CLI reported it
        (``{"ui": {"elicitation": True}}`` when a session on the server has an elicitation
        handler). Check ``capabilities.get("ui", {}).get("elicitation")`` before :attr:`ui`."""
        caps = self._native.info().get("capabilities")
        return caps if isinstance(caps, dict) else {}

    @property
    def ui(self) -> "SessionUi":
        """Dialogs answered by the session's elicitation handler (``confirm``, ``select``,
        ``input``, ``elicitation``); :class:`InvalidConfigError` without the capability."""
        return SessionUi(self._native)

    @property
    def lease_token(self) -> Optional[int]:
        """The fencing token of the session's lease (a :class:`CopilotPool` with a lease store):
        it grows with every acquisition of this session's lease, so a store you write to can
        refuse a holder whose lease has passed to another instance. None otherwise."""
        return self._native.lease_token

    @property
    def server(self) -> Optional[str]:
        """The URL of the pool server this session is on now (None outside a pool)."""
        return self._native.server

    def _subscribe(self, types: Optional[List[str]], consumer: Callable[[SessionEvent], None]) -> int:
        sub = self._native.subscribe(types)
        self._sink.consumers[sub] = consumer
        return sub

    def _unsubscribe(self, sub: int) -> None:
        if self._sink.consumers.pop(sub, None) is not None:
            self._native.unsubscribe(sub)

    def on(self, event_type: Union[str, Sequence[str], Callable[[SessionEvent], Any]],
           handler: Optional[Callable[[SessionEvent], Any]] = None) -> Callable[[], None]:
        """``on(fn)`` for every event, ``on("assistant.message_delta", fn)`` for one type or
        ``on(["a", "b"], fn)`` for several. Handlers run on the event loop, in wire order
        (coroutines are scheduled). Returns a function that unsubscribes."""
        if handler is None:
            if not callable(event_type):
                raise InvalidConfigError("on() needs a handler")
            fn, types = event_type, None
        else:
            types = [event_type] if isinstance(event_type, str) else list(event_type)  # type: ignore[arg-type]
            if not all(isinstance(t, str) for t in types):
                raise InvalidConfigError("on(types, handler): the types must be strings")
            fn = handler
        sub = self._subscribe(types, _consumer(fn, "event"))
        return functools.partial(self._unsubscribe, sub)

    async def events(self, *types: str) -> AsyncIterator[SessionEvent]:
        """Async iterator over events from now on (optionally of some types); ends when the
        session is disconnected or the connection is gone."""
        q: "asyncio.Queue[Optional[SessionEvent]]" = asyncio.Queue()
        sub = self._subscribe(list(types) or None, q.put_nowait)
        self._sink.queues.add(q)
        try:
            if self._sink.ended:
                return
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._sink.queues.discard(q)
            self._unsubscribe(sub)

    async def send(self, options: Union[str, Dict[str, Any]], **kwargs: Any) -> str:
        """Queues a prompt; returns the message id."""
        return await self._native.send(_message(options, kwargs))

    async def send_and_wait(self, options: Union[str, Dict[str, Any]],
                            timeout: Union[float, timedelta, None] = DEFAULT_TIMEOUT,
                            **kwargs: Any) -> "Optional[AssistantMessageEvent]":
        """Sends a prompt and waits for the session to become idle. Returns the last
        ``assistant.message`` event (``.data.content`` is the answer) or None; by then every
        ``on()`` handler has seen the turn's events. Raises :class:`SessionError` when the turn
        fails; :class:`CopilotTimeoutError` (a ``TimeoutError``) after ``timeout`` seconds (or a
        ``timedelta``), or after ``idle_timeout`` seconds without any event of the session;
        :class:`TurnOutcomeUnknownError` when the connection is lost mid-turn. Cancelling the
        awaiting task (or Ctrl-C) aborts the turn."""
        o = _message(options, kwargs)
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        o["timeout"] = timeout if timeout is not None else 365 * 24 * 3600.0
        r = await self._native.send_and_wait(o)
        return SessionEvent.from_wire(r) if r is not None else None  # type: ignore[return-value]

    async def abort(self) -> None:
        await self._native.abort()

    async def get_messages(self) -> List[SessionEvent]:
        """The session's event history, oldest first."""
        return [SessionEvent.from_wire(e) for e in await self._native.get_messages()]

    async def get_events(self) -> List[SessionEvent]:
        """:meth:`get_messages` under the official SDKs' name."""
        return await self.get_messages()

    async def set_model(self, model: str, reasoning_effort: Optional[str] = None) -> Dict[str, Any]:
        return await self._native.set_model(model, reasoning_effort)

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, *,
                   timeout: Union[float, timedelta, None] = REQUEST_TIMEOUT) -> Any:
        """Any session-scoped server method by name, raw JSON in and out (for methods newer than
        the typed :attr:`rpc`; ``sessionId`` is added). ``timeout`` (seconds or a ``timedelta``)
        replaces the client's ``request_timeout`` for this call; ``None`` or 0: no deadline."""
        return await self._native.rpc(method, params, _call_timeout(timeout))

    async def _typed_call(self, method: str, params: Any, timeout: Any, result: Any) -> Any:
        r = await self._native.rpc(method, params, _call_timeout(timeout))
        return r if result is None else _rt.decode_result(result, r, method)

    @property
    def rpc(self) -> "SessionRpc":
        """The typed session API, generated from the CLI's schema:
        ``await session.rpc.model.switch_to(model_id="gpt-4.1")`` (keyword arguments or the
        params object, e.g. ``SessionModelSwitchToParams``; results are the generated classes of
        :mod:`copilot.protocol`). Calling it, ``await session.rpc(method, params)``, is
        :meth:`call`."""
        from .protocol import SessionRpc
        return SessionRpc(self._typed_call)

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


class SessionUi:
    """``session.ui``: ask the user through the elicitation handler of the host (the official
    ``session.ui`` API). Each call raises :class:`InvalidConfigError` when no elicitation
    handler is registered on the server (``session.capabilities["ui"]["elicitation"]``)."""

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native

    async def elicitation(self, params: Optional[Dict[str, Any]] = None, *, message: Optional[str] = None,
                          requested_schema: Optional[Dict[str, Any]] = None) -> ElicitationResult:
        """A form: ``{"message": ..., "requestedSchema": {"type": "object", "properties": ...}}``
        (or ``message=``, ``requested_schema=``) -> ``{"action": "accept" | "decline" |
        "cancel", "content": {...}}``."""
        p = dict(params or {})
        if message is not None:
            p["message"] = message
        if requested_schema is not None:
            p["requestedSchema"] = requested_schema
        if "requested_schema" in p:
            p["requestedSchema"] = p.pop("requested_schema")
        return await self._native.ui("elicitation", p)  # type: ignore[no-any-return]

    async def confirm(self, message: str) -> bool:
        """A yes/no question: True when the user accepted and confirmed."""
        return bool(await self._native.ui("confirm", {"message": message}))

    async def select(self, message: str, options: Sequence[str]) -> Optional[str]:
        """One of ``options``, or None when the user declined or cancelled."""
        return await self._native.ui("select", {"message": message, "options": list(options)})  # type: ignore[no-any-return]

    async def input(self, message: str, options: Optional[Dict[str, Any]] = None) -> Optional[str]:
        """A text (``options``: ``title``, ``description``, ``min_length`` / ``minLength``,
        ``max_length``, ``format``, ``default``), or None when declined or cancelled."""
        p: Dict[str, Any] = {"message": message}
        if options:
            p["options"] = {_camel(k): v for k, v in options.items()}
        return await self._native.ui("input", p)  # type: ignore[no-any-return]


class _LifecycleSink:
    """Delivers lifecycle batches to the client's handlers (without referencing the client)."""

    def __init__(self, handlers: List[Callable[[LifecycleEvent], Any]]) -> None:
        self.handlers = handlers

    def __call__(self, batch: List[Dict[str, Any]]) -> None:
        for o in batch:
            ev = LifecycleEvent(o.get("type", ""), o.get("sessionId", ""), o.get("metadata"))
            for h in list(self.handlers):
                _consumer(h, "lifecycle")(ev)


class CopilotClient:
    """A client of one Copilot CLI: spawned over stdio (default), spawned on a TCP port
    (``use_stdio=False``), or an external server (``cli_url``); or, with the official SDKs'
    names, ``connection=RuntimeConnection.for_stdio(...)`` / ``.for_tcp(...)`` /
    ``.for_uri(url, connection_token=...)``. Options are a dict (snake_case
    or camelCase keys) and/or keyword arguments. ``async with CopilotClient(...)`` starts and
    stops it; any call on a never-started client starts it (unless ``auto_start=False``)."""

    def __init__(self, options: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        _sync_log_level()
        self._native = _copilot.NativeClient(_seconds(_client_options(_options(options, kwargs, "client options"))))
        _live_clients.add(self)
        self._init()

    def _init(self) -> None:
        self._lifecycle: List[Callable[[LifecycleEvent], Any]] = []
        self._lifecycle_on = False
        self._reapers: List[Reaper] = []

    @classmethod
    def _of(cls, native: Any) -> "CopilotClient":
        """A client object over a native client made elsewhere (a pool's server)."""
        c = cls.__new__(cls)
        c._native = native
        c._init()
        return c

    async def start(self) -> None:
        _sync_log_level()
        self._subscribe_lifecycle()
        await self._native.start()

    async def stop(self) -> None:
        """Stops its reapers, detaches every session, stops a CLI this client spawned;
        idempotent."""
        _stop_reapers(self._reapers)
        await self._native.stop()

    async def force_stop(self) -> None:
        await self._native.force_stop()

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

    async def ping(self, message: Optional[str] = None) -> PingResponse:
        r = await self._native.call("ping", message)
        return PingResponse(r["message"], r["timestamp"], r.get("protocolVersion"))

    async def get_status(self) -> StatusResponse:
        r = await self._native.call("get_status")
        return StatusResponse(r["version"], r.get("protocolVersion"))

    async def get_auth_status(self) -> AuthStatus:
        r = await self._native.call("get_auth_status")
        return AuthStatus(r["isAuthenticated"], r.get("authType"), r.get("host"), r.get("login"),
                          r.get("statusMessage"))

    async def list_models(self) -> "List[Model]":
        """The models (``copilot.protocol.Model``: ``id``, ``name``, ``capabilities``, ``policy``,
        ``billing``, ...; ``raw`` is the JSON object)."""
        return _rt.decode_result(("l", "Model"), await self._native.call("list_models"), "list_models")  # type: ignore[no-any-return]

    async def list_sessions(self, filter: Optional[Dict[str, Any]] = None) -> List[SessionMetadata]:
        return [SessionMetadata.from_wire(o) for o in await self._native.call("list_sessions", filter)]

    async def get_session_metadata(self, session_id: str) -> Optional[SessionMetadata]:
        """The stored session's metadata (as :meth:`list_sessions` gives it), or None when no
        session has that id."""
        r = await self._native.call("get_session_metadata", session_id)
        return None if r is None else SessionMetadata.from_wire(r)

    async def delete_session(self, session_id: str) -> None:
        await self._native.call("delete_session", session_id)

    async def get_last_session_id(self) -> Optional[str]:
        return await self._native.call("get_last_session_id")

    async def get_foreground_session_id(self) -> Optional[str]:
        return await self._native.call("get_foreground_session_id")

    async def set_foreground_session_id(self, session_id: str) -> None:
        await self._native.call("set_foreground_session_id", session_id)

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, *,
                   timeout: Union[float, timedelta, None] = REQUEST_TIMEOUT) -> Any:
        """Any server method by name, raw JSON in and out (for methods newer than the typed
        :attr:`rpc`). ``timeout`` (seconds or a ``timedelta``) replaces the client's
        ``request_timeout`` for this call; ``None`` or 0: no deadline."""
        return await self._native.rpc(method, params, _call_timeout(timeout))

    async def _typed_call(self, method: str, params: Any, timeout: Any, result: Any) -> Any:
        r = await self._native.rpc(method, params, _call_timeout(timeout))
        return r if result is None else _rt.decode_result(result, r, method)

    @property
    def rpc(self) -> "ServerRpc":
        """The typed server API, generated from the CLI's schema: ``await client.rpc.tools.list()``,
        ``await client.rpc.sessions.fork(session_id=...)``. Calling it,
        ``await client.rpc(method, params)``, is :meth:`call`."""
        from .protocol import ServerRpc
        return ServerRpc(self._typed_call)

    def on_lifecycle(self, handler: Callable[[LifecycleEvent], Any]) -> Callable[[], None]:
        """Lifecycle notifications (:class:`LifecycleEvent`), on the event loop running now (or,
        when none runs, the one of ``start()``): the sessions' (``session.created``,
        ``session.deleted``, ...) and the connection's (``connection.lost``,
        ``connection.reconnecting``, ``connection.restored``, ``connection.gave_up``; details
        in ``metadata``)."""
        self._lifecycle.append(handler)
        self._subscribe_lifecycle()

        def unsubscribe() -> None:
            if handler in self._lifecycle:
                self._lifecycle.remove(handler)
        return unsubscribe

    def on(self, event_type: Union[str, Sequence[str], Callable[[LifecycleEvent], Any]],
           handler: Optional[Callable[[LifecycleEvent], Any]] = None) -> Callable[[], None]:
        """:meth:`on_lifecycle` under the official SDKs' name: ``client.on(fn)`` for every
        lifecycle event, ``client.on("session.created", fn)`` for one type or
        ``client.on(["a", "b"], fn)`` for several. Returns a function that unsubscribes."""
        if handler is None:
            if not callable(event_type):
                raise InvalidConfigError("on() needs a handler")
            return self.on_lifecycle(event_type)
        types = {event_type} if isinstance(event_type, str) else set(event_type)  # type: ignore[arg-type]
        if not all(isinstance(t, str) for t in types):
            raise InvalidConfigError("on(types, handler): the types must be strings")
        fn = handler

        def filtered(ev: LifecycleEvent) -> Any:
            return fn(ev) if ev.type in types else None
        return self.on_lifecycle(filtered)

    def _subscribe_lifecycle(self) -> None:
        if self._lifecycle_on or not self._lifecycle:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # subscribed by start()
        self._native.subscribe_lifecycle(_LifecycleSink(self._lifecycle))
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
        self._subscribe_lifecycle()
        return await _open_session(self._native, resume_id, cfg)

    # ----------------------------------------------------------------- operations

    def metrics(self) -> Dict[str, Any]:
        """This client's counters: ``{calls, errors: {code: n}, reconnects, connectionLosses,
        failoversIn, failoversOut, openSessions, turns: {count, sumSeconds, buckets: [{le,
        count}]}}`` (buckets cumulative, ``le`` in seconds, the last ``"+Inf"``)."""
        return self._native.metrics()

    def metrics_prometheus(self) -> str:
        """:meth:`metrics` in the Prometheus text format (``copilot_calls_total{server="..."}``,
        ..., the label is the server URL, or ``local`` for a spawned CLI)."""
        return self._native.metrics_prometheus()

    async def cleanup_sessions(self, *, max_age: Optional[Seconds] = None, max_idle: Optional[Seconds] = None,
                               include_open: bool = False) -> List[SessionMetadata]:
        """Deletes stored sessions started longer than ``max_age`` ago or not modified for
        ``max_idle`` (seconds or ``timedelta``; at least one), and returns them. A session open
        on this client is kept unless ``include_open`` (then it is disconnected first)."""
        return [SessionMetadata.from_wire(o)
                for o in await self._native.cleanup_sessions(_cleanup(max_age, max_idle, include_open))]

    def start_reaper(self, interval: Seconds, *, max_age: Optional[Seconds] = None,
                     max_idle: Optional[Seconds] = None, include_open: bool = False) -> "Reaper":
        """Runs :meth:`cleanup_sessions` every ``interval`` in the background until the returned
        :class:`Reaper` is stopped (or the client is). Each sweep that deleted something, or
        failed, is a lifecycle event ``reaper.swept`` (``metadata``: ``{deleted: [ids]}`` or
        ``{error, code}``; see :meth:`on_lifecycle`)."""
        native = self._native.start_reaper(_interval(interval), _cleanup(max_age, max_idle, include_open))
        return Reaper(native, self._reapers)
