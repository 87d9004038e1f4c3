"""The exception hierarchy. Every class derives from :class:`CopilotError` and carries a stable
``.code`` (the same string in every language of this SDK) and ``.number``.

Some classes also derive from the builtin that fits, so ordinary ``except`` clauses work:
timeouts are :class:`TimeoutError`, transport failures :class:`ConnectionError` (a lost
connection's ``reconnecting``, ``reconnect_failed`` and ``turn_outcome_unknown`` too, and a
pool's ``no_server``), a missing CLI :class:`FileNotFoundError`, invalid options
:class:`ValueError`. A pool's lease errors derive from :class:`LeaseError`.

``.is_retriable`` is the core's verdict: the same call may succeed if made again (the
connection failed or is being re-established, or the call timed out). A turn that failed with
:class:`TurnOutcomeUnknownError` may have run: read the session's messages before resending.

Each class's ``(code, number)`` comes from ``_error_codes`` (generated from the core's table).
The Rust-side error is chained as ``__cause__`` (a :class:`NativeCause` with its full detail).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

from . import _error_codes as _codes


class NativeCause(Exception):
    """The core's own description of an error (chained as ``__cause__``)."""


class CopilotError(Exception):
    """Base class of every error raised by this SDK."""

    code: str = "copilot_error"
    number: int = 0

    def __init__(self, message: str = "", *, rpc: Optional[Dict[str, Any]] = None,
                 stderr_tail: Optional[str] = None, retriable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: The JSON-RPC error object (``code``, ``message``, ``data``) when the server refused.
        self.rpc_error = rpc
        #: The last lines the spawned CLI wrote to stderr, for transport failures.
        self.stderr_tail = stderr_tail
        #: The same call may succeed if made again (the core's verdict; see the module doc).
        self.is_retriable = retriable

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
    code, number = _codes.TRANSPORT_CLOSED


class ConnectError(TransportError):
    code, number = _codes.CONNECT


class ReconnectingError(TransportError):
    """The connection is being re-established; the call was not sent (retry it)."""

    code, number = _codes.RECONNECTING


class ReconnectFailedError(TransportError):
    """The client gave up reconnecting to (or restarting) the CLI; ``start()`` tries again."""

    code, number = _codes.RECONNECT_FAILED


class TurnOutcomeUnknownError(TransportError):
    """The connection was lost during a turn (the message names the session): whether the CLI
    finished it is unknown."""

    code, number = _codes.TURN_OUTCOME_UNKNOWN


class NoServerError(TransportError):
    """No server of a pool is reachable now (each server's error is in the message); the pool
    keeps trying them in the background, so a later call may succeed."""

    code, number = _codes.NO_SERVER


class LeaseError(CopilotError):
    """Base of the session-lease errors of a pool."""


class LeaseHeldError(LeaseError):
    """Another instance holds the session's lease and kept it beyond the pool's ``lease.wait``
    (retriable: try again later)."""

    code, number = _codes.LEASE_HELD


class LeaseLostError(LeaseError):
    """The session's lease expired or was taken over while held: stop driving this session
    object; open the session again to take a new lease (with a higher fencing token)."""

    code, number = _codes.LEASE_LOST


class CliNotFoundError(CopilotError, FileNotFoundError):
    code, number = _codes.CLI_NOT_FOUND


class CopilotTimeoutError(CopilotError, TimeoutError):
    code, number = _codes.TIMEOUT


class CopilotCancelledError(CopilotError):
    code, number = _codes.CANCELLED


class ProtocolError(CopilotError):
    """The peer broke the wire protocol."""

    code, number = _codes.PROTOCOL


class FrameHeaderError(ProtocolError):
    code, number = _codes.FRAME_HEADER


class FrameLengthError(ProtocolError):
    code, number = _codes.FRAME_LENGTH


class MessageTooLargeError(ProtocolError):
    code, number = _codes.MESSAGE_TOO_LARGE


class InvalidJsonError(ProtocolError):
    code, number = _codes.INVALID_JSON


class VersionMismatchError(CopilotError):
    code, number = _codes.VERSION_MISMATCH


class RpcError(CopilotError):
    """The server answered with a JSON-RPC error (see ``rpc_code`` / ``rpc_error``)."""

    code, number = _codes.RPC


class AuthenticationError(CopilotError, PermissionError):
    code, number = _codes.AUTHENTICATION


class SessionNotFoundError(CopilotError, LookupError):
    code, number = _codes.SESSION_NOT_FOUND


class SessionError(CopilotError):
    """The turn failed: the CLI emitted ``session.error``."""

    code, number = _codes.SESSION_ERROR


class InvalidConfigError(CopilotError, ValueError):
    code, number = _codes.INVALID_CONFIG


class HandlerError(CopilotError):
    code, number = _codes.HANDLER_FAILED


class NotConnectedError(CopilotError):
    code, number = _codes.NOT_CONNECTED


class CopilotIOError(CopilotError, OSError):
    code, number = _codes.IO


class InternalError(CopilotError):
    code, number = _codes.INTERNAL


def _all_classes() -> Dict[str, Type[CopilotError]]:
    """The classes that define a code of their own, by code."""
    out: Dict[str, Type[CopilotError]] = {}
    stack = [CopilotError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "code" in vars(cls) and cls.number:
            out[cls.code] = cls
    return out


BY_CODE: Dict[str, Type[CopilotError]] = _all_classes()


def from_native(code: str, number: int, message: str, rpc: Optional[Dict[str, Any]],
                stderr_tail: Optional[str], debug: str, retriable: bool = False) -> CopilotError:
    cls = BY_CODE.get(code, CopilotError)
    exc = cls(message, rpc=rpc, stderr_tail=stderr_tail, retriable=retriable)
    if cls is CopilotError:
        exc.code, exc.number = code, number
    exc.__cause__ = NativeCause(debug)
    return exc
