"""Python SDK for the GitHub Copilot CLI's server mode, over the shared Rust core.

    from copilot import CopilotClient

    async with CopilotClient({"cli_url": "localhost:4321"}) as client:
        async with await client.create_session({"model": "gpt-4.1"}) as session:
            response = await session.send_and_wait({"prompt": "Hello"})
            print(response.data.content)
"""
from ._copilot import __version__, pinned_cli_version
from .client import DEFAULT_TIMEOUT, CopilotClient, CopilotSession, approve_all
from .errors import (AuthenticationError, CliNotFoundError, ConnectError, CopilotCancelledError, CopilotError,
                     CopilotIOError, CopilotTimeoutError, FrameHeaderError, FrameLengthError, HandlerError,
                     InternalError, InvalidConfigError, InvalidJsonError, MessageTooLargeError, NativeCause,
                     NotConnectedError, ProtocolError, ReconnectFailedError, ReconnectingError, RpcError, SessionError,
                     SessionNotFoundError, TransportClosedError, TransportError, TurnOutcomeUnknownError,
                     VersionMismatchError)
from .tools import Tool, tool
from .types import (AuthStatus, AutoModeSwitchRequest, ClientOptions, EventData, HookInvocation, LifecycleEvent,
                    MessageOptions, PermissionRequest, PingResponse, ProviderConfig, ProviderTokenRequest,
                    ReconnectOptions, SessionConfig, SessionEvent, SessionMetadata, StatusResponse,
                    SystemMessageTransformRequest, ToolInvocation, UserInputRequest)

__all__ = [
    "CopilotClient", "CopilotSession", "approve_all", "tool", "Tool", "DEFAULT_TIMEOUT", "pinned_cli_version",
    "__version__",
    # errors
    "CopilotError", "TransportError", "TransportClosedError", "ConnectError", "CliNotFoundError",
    "CopilotTimeoutError", "CopilotCancelledError", "ProtocolError", "FrameHeaderError", "FrameLengthError",
    "MessageTooLargeError", "InvalidJsonError", "VersionMismatchError", "RpcError", "AuthenticationError",
    "SessionNotFoundError", "SessionError", "InvalidConfigError", "HandlerError", "NotConnectedError",
    "CopilotIOError", "InternalError", "ReconnectingError", "ReconnectFailedError", "TurnOutcomeUnknownError",
    "NativeCause",
    # types
    "ClientOptions", "ReconnectOptions", "SessionConfig", "MessageOptions", "ProviderConfig", "SessionEvent", "EventData",
    "SessionMetadata", "PingResponse", "StatusResponse", "AuthStatus", "LifecycleEvent", "ToolInvocation",
    "PermissionRequest", "UserInputRequest", "HookInvocation", "SystemMessageTransformRequest",
    "ProviderTokenRequest", "AutoModeSwitchRequest",
]
