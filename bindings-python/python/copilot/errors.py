"""The exception hierarchy. Every class derives from :class:`CopilotError` and carries a stable
``.code`` (the same string in every language of this SDK) and ``.number``.

Some classes also derive from the builtin that fits, so ordinary ``except`` clauses work:
timeouts are :class:`TimeoutError`, transport failures :class:`ConnectionError`, a missing CLI
:class:`FileNotFoundError`, invalid options :class:`ValueError`.

The Rust-side error is chained as ``__cause__`` (a :class:`NativeCause` with its full detail).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type


class NativeCause(Exception):
    """The core's own description of an error (chained as ``__cause__``)."""


class CopilotError(Exception):
    """Base class of every error raised by this SDK."""

    code: str = "copilot_error"
    number: int = 0

    def __init__(self, message: str = "", *, rpc: Optional[Dict[str, Any]] = None,
                 stderr_tail: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        #: The JSON-RPC error object (``code``, ``message``, ``data``) when the server refused.
        self.rpc_error = rpc
        #: The last lines the spawned CLI wrote to stderr, for transport failures.
        self.stderr_tail = stderr_tail

    @property
    def rpc_code(self) -> Optional[int]:
        return self.rpc_error.get("code") if self.rpc_error else None

    @property
    def is_transport_failure(self) -> bool:
        """True when the connection is gone or could not be made (a new client may help)."""
        return isinstance(self, (TransportError, ProtocolError, NotConnectedError))

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.stderr_tail:
            text += "\nCLI stderr (last lines):\n" + self.stderr_tail
        return text


class TransportError(CopilotError, ConnectionError):
    """The connection to the CLI failed."""


class TransportClosedError(TransportError):
    code, number = "transport_closed", 1


class ConnectError(TransportError):
    code, number = "connect_failed", 2


class CliNotFoundError(CopilotError, FileNotFoundError):
    code, number = "cli_not_found", 3


class CopilotTimeoutError(CopilotError, TimeoutError):
    code, number = "timeout", 4


class CopilotCancelledError(CopilotError):
    code, number = "cancelled", 5


class ProtocolError(CopilotError):
    """The peer broke the wire protocol."""

    code, number = "protocol", 10


class FrameHeaderError(ProtocolError):
    code, number = "frame_header", 6


class FrameLengthError(ProtocolError):
    code, number = "frame_length", 7


class MessageTooLargeError(ProtocolError):
    code, number = "message_too_large", 8


class InvalidJsonError(ProtocolError):
    code, number = "invalid_json", 9


class VersionMismatchError(CopilotError):
    code, number = "version_mismatch", 11


class RpcError(CopilotError):
    """The server answered with a JSON-RPC error (see ``rpc_code`` / ``rpc_error``)."""

    code, number = "rpc_error", 12


class AuthenticationError(CopilotError, PermissionError):
    code, number = "authentication", 13


class SessionNotFoundError(CopilotError, LookupError):
    code, number = "session_not_found", 14


class SessionError(CopilotError):
    """The turn failed: the CLI emitted ``session.error``."""

    code, number = "session_error", 15


class InvalidConfigError(CopilotError, ValueError):
    code, number = "invalid_config", 16


class HandlerError(CopilotError):
    code, number = "handler_failed", 17


class NotConnectedError(CopilotError):
    code, number = "not_connected", 18


class CopilotIOError(CopilotError, OSError):
    code, number = "io", 19


class InternalError(CopilotError):
    code, number = "internal", 20


def _all_classes() -> Dict[str, Type[CopilotError]]:
    out: Dict[str, Type[CopilotError]] = {}
    stack = [CopilotError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.number:
            out[cls.code] = cls
    return out


BY_CODE: Dict[str, Type[CopilotError]] = _all_classes()


def from_native(code: str, number: int, message: str, rpc: Optional[Dict[str, Any]],
                stderr_tail: Optional[str], debug: str) -> CopilotError:
    cls = BY_CODE.get(code, CopilotError)
    exc = cls(message, rpc=rpc, stderr_tail=stderr_tail)
    if cls is CopilotError:
        exc.code, exc.number = code, number
    exc.__cause__ = NativeCause(debug)
    return exc
