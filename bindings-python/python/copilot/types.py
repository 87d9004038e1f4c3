"""Typed shapes of options (TypedDicts, snake_case or camelCase keys both accepted) and of the
values the SDK returns (dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Literal, Optional, TypedDict, Union

if TYPE_CHECKING:
    from .protocol import SessionEventType

# --------------------------------------------------------------------------------- options


class ProviderConfig(TypedDict, total=False):
    """A BYOK model provider (``type`` openai | azure | anthropic)."""
    type: str
    base_url: str
    api_key: str
    bearer_token: str
    wire_api: str
    headers: Dict[str, str]


Seconds = Union[float, timedelta]  # durations: seconds, or a datetime.timedelta


@dataclass(frozen=True)
class RuntimeConnection:
    """How a client reaches its CLI (the official SDKs' ``RuntimeConnection``), given as the
    client option ``connection``: ``RuntimeConnection.for_stdio(path=..., args=...)`` spawns the
    CLI over stdio, ``for_tcp(port=..., connection_token=..., path=..., args=...)`` spawns it on
    a TCP port, ``for_uri(url, connection_token=...)`` connects to a running server. It carries
    what ``cli_url``, ``use_stdio``, ``port``, ``cli_path``, ``cli_args`` and
    ``connection_token`` say otherwise, so it cannot be combined with them
    (:class:`InvalidConfigError`). A plain dict in the core's form (``{"kind": "uri", "url":
    ..., "connectionToken": ...}``) is accepted too."""
    kind: Literal["stdio", "tcp", "uri"]
    path: Optional[str] = None              # stdio, tcp: the CLI executable
    args: Optional[List[str]] = None        # stdio, tcp: extra CLI arguments
    port: Optional[int] = None              # tcp: the port to spawn on (0 or None = any)
    url: Optional[str] = None               # uri: "host:port", "port" or "http://host:port"
    connection_token: Optional[str] = None  # tcp, uri

    @classmethod
    def for_stdio(cls, *, path: Optional[str] = None, args: Optional[List[str]] = None) -> "RuntimeConnection":
        return cls("stdio", path=path, args=None if args is None else list(args))

    @classmethod
    def for_tcp(cls, *, port: Optional[int] = None, connection_token: Optional[str] = None,
                path: Optional[str] = None, args: Optional[List[str]] = None) -> "RuntimeConnection":
        return cls("tcp", path=path, args=None if args is None else list(args), port=port,
                   connection_token=connection_token)

    @classmethod
    def for_uri(cls, url: str, *, connection_token: Optional[str] = None) -> "RuntimeConnection":
        return cls("uri", url=url, connection_token=connection_token)

    def to_dict(self) -> Dict[str, Any]:
        """The core's form of the ``connection`` option (camelCase keys, unset fields left out)."""
        out: Dict[str, Any] = {"kind": self.kind}
        fields: Dict[str, Any] = {"path": self.path, "args": None if self.args is None else list(self.args),
                                  "port": self.port, "url": self.url, "connectionToken": self.connection_token}
        out.update((k, v) for k, v in fields.items() if v is not None)
        return out


class ReconnectOptions(TypedDict, total=False):
    """How a client survives a lost connection (``reconnect=False`` turns it off)."""
    enabled: bool                   # default True
    max_attempts: int               # per outage (default 20; 0 = no limit)
    initial_delay: Seconds          # first backoff delay (0.1; grows, with jitter, up to max_delay)
    max_delay: Seconds              # default 5
    call_wait: Seconds              # how long a call made while reconnecting waits (default 10 s)
    max_restarts: int               # restarts of a spawned CLI within restart_window (default 5)
    restart_window: Seconds         # default 60


class ClientOptions(TypedDict, total=False):
    connection: Union[RuntimeConnection, Dict[str, Any]]  # RuntimeConnection.for_uri(...) & co (not with cli_url & co)
    cli_url: str                    # "host:port", "port" or "http://host:port": connect, don't spawn
    use_stdio: bool                 # spawn over stdio (default) or, False, on a TCP port
    port: int                       # TCP port for a spawned CLI (0 = any)
    cli_path: str
    cli_args: List[str]
    env: Dict[str, str]
    cwd: str
    log_level: str
    github_token: str
    git_hub_token: str              # the official spelling (gitHubToken); the same option as github_token
    use_logged_in_user: bool
    session_idle_timeout_seconds: int
    connection_token: str
    copilot_home: str
    max_message_size: int
    request_timeout: Seconds        # per request (default 30; 0 = none)
    start_timeout: Seconds
    stop_grace: Seconds
    auto_start: bool                # start on first use (default True)
    reconnect: Union[bool, ReconnectOptions]  # default on
    heartbeat_interval: Seconds     # ping a quiet connection (default 15; 0 = off)
    heartbeat_timeout: Seconds      # an unanswered ping declares the CLI dead (default 10)
    tcp_keepalive: Seconds          # TCP keepalive idle time (default 10; 0 = off)
    tcp_user_timeout: Seconds       # TCP_USER_TIMEOUT (default 20; 0 = off)
    tcp_quickack: bool
    # The official SDKs' options (read by the core):
    telemetry: "TelemetryConfig"    # the CLI's OpenTelemetry export (a spawned CLI only)
    session_fs: "SessionFsConfig"   # session state in a host provider (create_session_fs_provider)
    mode: Literal["default", "empty"]  # "empty": no ambient tools, state or environment context
    base_directory: str             # the CLI's home (COPILOT_HOME); mode "empty" needs it or session_fs


class TelemetryConfig(TypedDict, total=False):
    """The CLI's OpenTelemetry export (the client option ``telemetry``)."""
    otlp_endpoint: str
    otlp_protocol: Literal["http/json", "http/protobuf"]
    file_path: str                  # spans as JSON lines in this file
    exporter_type: Literal["otlp-http", "file"]
    source_name: str
    capture_content: bool


class SessionFsConfig(TypedDict, total=False):
    """The client option ``session_fs``: sessions keep their state in a provider the host
    implements (each session's ``create_session_fs_provider``)."""
    initial_cwd: str
    session_state_path: str
    conventions: Literal["posix", "windows"]


class LeaseOptions(TypedDict, total=False):
    """Session leases in Redis: at most one backend instance drives a session at a time."""
    redis_url: str                  # "redis://[user:password@]host:port[/db]" (required)
    ttl: Seconds                    # a lease lasts this long unrenewed (default 30; renewed every third)
    wait: Seconds                   # how long opening waits for another holder (default 30; 0 = fail at once)
    owner: str                      # this instance's name in the store (default: host, pid, random)
    key_prefix: str                 # default "copilot:lease:"


class PoolOptions(ClientOptions, total=False):
    """A pool of running CLI servers; the client options apply to each server's client
    (``connection``, ``cli_url``, ``use_stdio``, ``port``, ``cli_path``, ``cli_args``, ``env`` and
    ``cwd`` do not apply)."""
    urls: Union[List[str], str]     # the servers ("host:port", ...; or one comma-separated string)
    health_interval: Seconds        # how often a server that is down is tried again (default 2)
    lease: LeaseOptions


Handler = Callable[..., Union[Any, Awaitable[Any]]]


class SessionConfig(TypedDict, total=False):
    session_id: str
    model: str
    reasoning_effort: str
    provider: ProviderConfig
    tools: List[Any]                # @tool functions or {"name", "description", "parameters", "handler"}
    system_message: Union[str, Dict[str, Any]]
    available_tools: List[str]
    excluded_tools: List[str]
    custom_agents: List[Dict[str, Any]]
    mcp_servers: Dict[str, Any]
    working_directory: str
    streaming: bool
    github_token: str
    git_hub_token: str              # the official spelling (gitHubToken); the same option as github_token
    mode: str
    infinite_sessions: Union[bool, Dict[str, Any]]
    client_name: str
    # Handlers (sync or async); what they may return is the core's reply table (README).
    on_permission_request: Handler  # (PermissionRequest) -> "approve-once" | True | {"kind": ...} | ...
    on_user_input_request: Handler  # (UserInputRequest) -> str | {"answer", "wasFreeform"?}
    hooks: Dict[str, Handler]       # {"pre_tool_use": fn(input, HookInvocation) -> dict | None, ...}
    on_system_message_transform: Handler  # (sections[, SystemMessageTransformRequest]) -> sections
    on_exit_plan_mode: Handler      # (request: dict) -> bool | action name | dict | None
    on_provider_token: Handler      # (provider_name[, ProviderTokenRequest]) -> str
    on_auto_mode_switch: Handler    # (AutoModeSwitchRequest) -> "yes" | "yes_always" | "no" | bool
    on_auto_mode_switch_request: Handler  # the official name: (AutoModeSwitchRequest, invocation) -> ...
    on_elicitation_request: Handler  # (ElicitationContext) -> ElicitationResult | "accept" | ... | None
    on_mcp_auth_request: Handler    # (McpAuthRequest, invocation) -> token str | {"accessToken", ...} | None
    github_token_provider: Handler  # (GitHubTokenRequest) -> token str | {"accessToken", "expiresIn"} | None
    commands: List[Any]             # CommandDefinition(name, description, handler) or dicts of them
    create_session_fs_provider: Callable[..., Any]  # (session) -> SessionFsProvider (client option session_fs)
    traceparent: str                # W3C trace context (default: the current OpenTelemetry span)
    tracestate: str
    on_event: Callable[["SessionEvent"], Any]


class MessageOptions(TypedDict, total=False):
    prompt: str
    attachments: List[Dict[str, Any]]
    mode: Literal["enqueue", "immediate"]
    request_headers: Dict[str, str]
    abort_on_timeout: bool
    idle_timeout: Seconds           # send_and_wait: fail when no event came for this long
    traceparent: str                # W3C trace context (default: the current OpenTelemetry span)
    tracestate: str


# --------------------------------------------------------------------------------- values


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class EventData(dict):
    """An event's ``data``: a dict that also reads as attributes, in snake_case or camelCase
    (``ev.data.content``, ``ev.data.delta_content``). Missing keys read as ``None``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return _wrap(self[name])
        return _wrap(self.get(_camel(name)))


def _wrap(v: Any) -> Any:
    if isinstance(v, dict) and not isinstance(v, EventData):
        return EventData(v)
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


class UnknownEventType(str):
    """The ``type`` of an event whose type the schema does not know: the plain string, which
    also offers ``.value`` (as a ``SessionEventType`` member does), so ``ev.type.value`` works
    for every event and ``ev.type == "x"`` stays a string comparison."""
    __slots__ = ()

    @property
    def value(self) -> str:
        return str.__str__(self)


@dataclass
class SessionEvent:
    """One session event. An event type of the schema arrives as its generated subclass
    (``copilot.protocol.AssistantMessageEvent``, ...: ``type`` a ``SessionEventType`` member,
    ``data`` the generated data class); an unknown type as this class, with ``type`` an
    :class:`UnknownEventType` (a ``str`` with ``.value``) and ``data`` an :class:`EventData`.
    ``raw`` holds the wire object."""
    type: Union["SessionEventType", UnknownEventType]
    data: Any
    id: str = ""
    timestamp: str = ""
    parent_id: Optional[str] = None
    ephemeral: bool = False
    agent_id: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, obj: Dict[str, Any]) -> "SessionEvent":
        """The typed event of a wire object (see the class docstring)."""
        from ._protocol_rt import event_from_wire
        return event_from_wire(obj)  # type: ignore[no-any-return]

    @property
    def content(self) -> Optional[str]:
        """``data.content`` (the answer text of ``assistant.message``)."""
        return self.data.get("content")


def parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class SessionMetadata:
    session_id: str
    start_time: Optional[datetime]
    modified_time: Optional[datetime]
    created_at: Optional[datetime]  # same as start_time (the backend-services guide reads it)
    summary: Optional[str] = None
    is_remote: bool = False
    context: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, o: Dict[str, Any]) -> "SessionMetadata":
        start = parse_time(o.get("startTime"))
        return cls(
            session_id=o["sessionId"],
            start_time=start,
            modified_time=parse_time(o.get("modifiedTime")),
            created_at=parse_time(o.get("createdAt")) or start,
            summary=o.get("summary"),
            is_remote=bool(o.get("isRemote", False)),
            context=o.get("context"),
            raw=o,
        )


@dataclass
class PingResponse:
    message: str
    timestamp: str
    protocol_version: Optional[int]


@dataclass
class StatusResponse:
    version: str
    protocol_version: Optional[int]


@dataclass
class AuthStatus:
    is_authenticated: bool
    auth_type: Optional[str] = None
    host: Optional[str] = None
    login: Optional[str] = None
    status_message: Optional[str] = None


@dataclass
class LifecycleEvent:
    """A client lifecycle notification: ``session.created`` / ``deleted`` / ``updated`` /
    ``foreground`` / ``background`` (``session_id`` set), or a connection event with
    ``session_id`` "" and its details in ``metadata``: ``connection.lost`` {error, code},
    ``connection.reconnecting`` {attempt, maxAttempts, delayMs, error, code},
    ``connection.restored`` {attempts, downtimeMs, restarted, sessionsResumed, sessionsLost},
    ``connection.gave_up`` {error, code, attempts}."""
    type: str
    session_id: str
    metadata: Optional[Dict[str, Any]] = None


# ------------------------------------------------------------------------- handler requests
# What handlers receive. ``raw`` is always the core's payload of the request, as it is (the
# same in every language of this SDK; see the core's host-bridge documentation).


@dataclass
class ToolInvocation:
    session_id: str
    tool_call_id: str
    tool_name: str
    arguments: Any
    working_directory: Optional[str] = None
    request_id: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    #: The W3C trace context the CLI ran the tool under (None without telemetry). With
    #: ``opentelemetry`` installed, the handler also runs inside that context.
    traceparent: Optional[str] = None
    tracestate: Optional[str] = None


class HandlerInvocation(Dict[str, Any]):
    """The second argument of a two-parameter permission or user-input handler (the official
    SDKs' ``(request, invocation)`` form): the dict ``{"session_id": ...}``, also readable as
    ``invocation.session_id``."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id=session_id)

    @property
    def session_id(self) -> str:
        return str(self["session_id"])


@dataclass
class PermissionRequest:
    kind: str                       # shell, write, read, custom-tool, mcp, url, ...
    request_id: str
    tool_call_id: Optional[str]
    request: Dict[str, Any]         # the CLI's permissionRequest
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    session_id: str = ""


@dataclass
class UserInputRequest:
    question: str
    choices: List[str]
    allow_freeform: bool
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    session_id: str = ""


@dataclass
class HookInvocation:
    hook_type: str
    session_id: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class SystemMessageTransformRequest:
    """The second argument of a two-parameter ``on_system_message_transform(sections, request)``."""
    sections: Dict[str, Any]
    session_id: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ProviderTokenRequest:
    """The second argument of a two-parameter ``on_provider_token(provider_name, request)``."""
    provider_name: str
    session_id: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class AutoModeSwitchRequest:
    error_code: Any
    retry_after_seconds: Any
    session_id: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


class ElicitationContext(EventData):
    """What an ``on_elicitation_request`` handler receives: the wire payload as a dict
    (``context["message"]``, ``context.get("requestedSchema")``, ``context.get("mode")``,
    ``context["session_id"]``), also read as attributes (``context.requested_schema``)."""


class ElicitationResult(TypedDict, total=False):
    """An elicitation answer: ``{"action": "accept" | "decline" | "cancel", "content": {...}}``."""
    action: Literal["accept", "decline", "cancel"]
    content: Dict[str, Any]


class McpAuthRequest(EventData):
    """What an ``on_mcp_auth_request`` handler receives: ``{serverName, serverUrl, reason,
    wwwAuthenticateParams?, resourceMetadata?, staticClientConfig?, requestId, sessionId}`` as a
    dict, also read as snake_case attributes (``request.server_url``)."""


class GitHubTokenRequest(EventData):
    """What a ``github_token_provider`` receives: ``{"host", "reason": "initial" | "refresh",
    "sessionId"}`` (also ``args["session_id"]``, ``args.host``)."""


@dataclass
class CommandContext:
    """What a slash command's handler receives."""
    session_id: str
    command: str                    # the full text, e.g. "/deploy production"
    command_name: str               # without the slash, e.g. "deploy"
    args: str                       # the raw text after the name
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class CommandDefinition:
    """A slash command of a session (``commands=[CommandDefinition(name=..., description=...,
    handler=...)]``); the handler (sync or async) gets a :class:`CommandContext`, and what it
    raises is the command's error."""
    name: str
    handler: Callable[[CommandContext], Any]
    description: Optional[str] = None
