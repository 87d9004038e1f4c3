"""Python SDK for the GitHub Copilot CLI's server mode, over the shared Rust core.

    from copilot import CopilotClient

    async with CopilotClient({"cli_url": "localhost:4321"}) as client:
        async with await client.create_session({"model": "gpt-4.1"}) as session:
            response = await session.send_and_wait({"prompt": "Hello"})
            print(response.data.content)
"""
from ._copilot import __version__, pinned_cli_version
from .client import (DEFAULT_TIMEOUT, CopilotClient, CopilotSession, PermissionHandler, Reaper, SessionUi,
                     approve_all, refresh_log_level)
from .errors import (AuthenticationError, CliNotFoundError, ConnectError, CopilotCancelledError, CopilotError,
                     CopilotIOError, CopilotTimeoutError, FrameHeaderError, FrameLengthError, HandlerError,
                     InternalError, InvalidConfigError, InvalidJsonError, LeaseError, LeaseHeldError, LeaseLostError,
                     MessageTooLargeError, NativeCause, NoServerError, NotConnectedError, ProtocolError,
                     ReconnectFailedError, ReconnectingError, RpcError, SessionError, SessionNotFoundError,
                     TransportClosedError, TransportError, TurnOutcomeUnknownError, VersionMismatchError)
from .pool import CopilotPool
from .session_fs_provider import SessionFsDirEntry, SessionFsFileInfo, SessionFsProvider
from .tools import Tool, ToolBinaryResult, ToolResult, define_tool, tool
from .types import (AuthStatus, AutoModeSwitchRequest, ClientOptions, CommandContext, CommandDefinition,
                    ElicitationContext, ElicitationResult, EventData, GitHubTokenRequest, McpAuthRequest,
                    SessionFsConfig, TelemetryConfig, HandlerInvocation, HookInvocation, LeaseOptions,
                    LifecycleEvent, MessageOptions, PermissionRequest, PingResponse, PoolOptions, ProviderConfig,
                    ProviderTokenRequest, ReconnectOptions, RuntimeConnection, SessionConfig, SessionEvent, SessionMetadata,
                    StatusResponse, SystemMessageTransformRequest, ToolInvocation, UnknownEventType, UserInputRequest)

__all__ = [
    "CopilotClient", "CopilotSession", "CopilotPool", "Reaper", "approve_all", "PermissionHandler", "tool", "define_tool", "Tool", "DEFAULT_TIMEOUT",
    "pinned_cli_version", "refresh_log_level", "__version__",
    # errors
    "CopilotError", "TransportError", "TransportClosedError", "ConnectError", "CliNotFoundError",
    "CopilotTimeoutError", "CopilotCancelledError", "ProtocolError", "FrameHeaderError", "FrameLengthError",
    "MessageTooLargeError", "InvalidJsonError", "VersionMismatchError", "RpcError", "AuthenticationError",
    "SessionNotFoundError", "SessionError", "InvalidConfigError", "HandlerError", "NotConnectedError",
    "CopilotIOError", "InternalError", "ReconnectingError", "ReconnectFailedError", "TurnOutcomeUnknownError",
    "NoServerError", "LeaseError", "LeaseHeldError", "LeaseLostError", "NativeCause",
    # types
    "ClientOptions", "RuntimeConnection", "ReconnectOptions", "PoolOptions", "LeaseOptions", "SessionConfig", "MessageOptions", "ProviderConfig", "SessionEvent", "EventData",
    "SessionMetadata", "PingResponse", "StatusResponse", "AuthStatus", "LifecycleEvent", "ToolInvocation",
    "PermissionRequest", "UserInputRequest", "HandlerInvocation", "HookInvocation", "UnknownEventType", "SystemMessageTransformRequest",
    "ProviderTokenRequest", "AutoModeSwitchRequest",
    # the official SDKs' newer features
    "SessionUi", "ToolResult", "ToolBinaryResult", "CommandDefinition", "CommandContext", "ElicitationContext",
    "ElicitationResult", "McpAuthRequest", "GitHubTokenRequest", "SessionFsProvider", "SessionFsFileInfo",
    "SessionFsDirEntry", "SessionFsConfig", "TelemetryConfig",
]
