//! One error type for the whole core.
//!
//! Every [`ErrorKind`] has a stable string code and a stable number. This table is the single
//! source of truth for all bindings (Python `.code`, Node `.code`, C result codes, Go and .NET):
//! numbers are never reused or renumbered; new kinds get new numbers at the end.

use std::fmt;
use std::sync::Arc;

/// What went wrong, independent of the message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection to the CLI is gone (EOF, socket reset, child exited, client stopped).
    TransportClosed,
    /// Connecting to or spawning the CLI failed (I/O, port announcement, refused socket).
    Connect,
    /// No CLI executable was found (explicit path, `COPILOT_CLI_PATH`, installed copy).
    CliNotFound,
    /// A call or a wait exceeded its deadline.
    Timeout,
    /// The call was cancelled by the caller.
    Cancelled,
    /// A frame header was malformed (not `Name: value`, not UTF-8, no `Content-Length`).
    FrameHeader,
    /// The `Content-Length` value was missing, not a number, or contradictory.
    FrameLength,
    /// A frame exceeded the configured maximum message size.
    MessageTooLarge,
    /// A frame body was not valid JSON, or not a JSON-RPC 2.0 message.
    InvalidJson,
    /// The peer broke the protocol in some other way (bad handshake reply, missing fields).
    Protocol,
    /// The server speaks a protocol version this SDK does not support.
    VersionMismatch,
    /// The server answered a request with a JSON-RPC error (see [`Error::rpc_code`]).
    Rpc,
    /// The connection token was required, wrong, or not configured on the server.
    Authentication,
    /// The session is unknown to the server or was destroyed on this client.
    SessionNotFound,
    /// The turn failed: the CLI emitted `session.error`.
    SessionError,
    /// Options or configuration were invalid (wrong types, contradictory fields).
    InvalidConfig,
    /// A user-supplied handler (tool, permission, hook, …) failed or panicked.
    HandlerFailed,
    /// The client is not started, or already stopped.
    NotConnected,
    /// An I/O error that is none of the above.
    Io,
    /// A bug in this SDK: an invariant was broken (please report it).
    Internal,
    /// The connection to the CLI was lost and the client is reconnecting (or restarting the
    /// CLI): the call was not sent. Retry it; it works once the connection is back.
    Reconnecting,
    /// The client gave up reconnecting to (or restarting) the CLI: its attempts or restart
    /// budget are spent. `start()` tries again.
    ReconnectFailed,
    /// The connection was lost during a turn: whether the CLI finished it is unknown. The
    /// message names the session; read its messages after the client reconnected.
    TurnOutcomeUnknown,
    /// Another holder (backend instance) has the session's lease and did not let it go within
    /// the wait.
    LeaseHeld,
    /// The session's lease expired or was taken over while held: stop driving the session;
    /// open it again to take a new lease.
    LeaseLost,
    /// No server of the pool is reachable (each server's error is in the message).
    NoServer,
}

impl ErrorKind {
    /// Every kind, in number order.
    pub const ALL: [ErrorKind; 26] = [
        ErrorKind::TransportClosed,
        ErrorKind::Connect,
        ErrorKind::CliNotFound,
        ErrorKind::Timeout,
        ErrorKind::Cancelled,
        ErrorKind::FrameHeader,
        ErrorKind::FrameLength,
        ErrorKind::MessageTooLarge,
        ErrorKind::InvalidJson,
        ErrorKind::Protocol,
        ErrorKind::VersionMismatch,
        ErrorKind::Rpc,
        ErrorKind::Authentication,
        ErrorKind::SessionNotFound,
        ErrorKind::SessionError,
        ErrorKind::InvalidConfig,
        ErrorKind::HandlerFailed,
        ErrorKind::NotConnected,
        ErrorKind::Io,
        ErrorKind::Internal,
        ErrorKind::Reconnecting,
        ErrorKind::ReconnectFailed,
        ErrorKind::TurnOutcomeUnknown,
        ErrorKind::LeaseHeld,
        ErrorKind::LeaseLost,
        ErrorKind::NoServer,
    ];

    /// Stable string code (`"transport_closed"`, …), used as `.code` by every binding.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::TransportClosed => "transport_closed",
            ErrorKind::Connect => "connect_failed",
            ErrorKind::CliNotFound => "cli_not_found",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::FrameHeader => "frame_header",
            ErrorKind::FrameLength => "frame_length",
            ErrorKind::MessageTooLarge => "message_too_large",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::Protocol => "protocol",
            ErrorKind::VersionMismatch => "version_mismatch",
            ErrorKind::Rpc => "rpc_error",
            ErrorKind::Authentication => "authentication",
            ErrorKind::SessionNotFound => "session_not_found",
            ErrorKind::SessionError => "session_error",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::HandlerFailed => "handler_failed",
            ErrorKind::NotConnected => "not_connected",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
            ErrorKind::Reconnecting => "reconnecting",
            ErrorKind::ReconnectFailed => "reconnect_failed",
            ErrorKind::TurnOutcomeUnknown => "turn_outcome_unknown",
            ErrorKind::LeaseHeld => "lease_held",
            ErrorKind::LeaseLost => "lease_lost",
            ErrorKind::NoServer => "no_server",
        }
    }

    /// Stable number (C ABI result codes use it; 0 is reserved for success).
    pub const fn number(self) -> u32 {
        match self {
            ErrorKind::TransportClosed => 1,
            ErrorKind::Connect => 2,
            ErrorKind::CliNotFound => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::Cancelled => 5,
            ErrorKind::FrameHeader => 6,
            ErrorKind::FrameLength => 7,
            ErrorKind::MessageTooLarge => 8,
            ErrorKind::InvalidJson => 9,
            ErrorKind::Protocol => 10,
            ErrorKind::VersionMismatch => 11,
            ErrorKind::Rpc => 12,
            ErrorKind::Authentication => 13,
            ErrorKind::SessionNotFound => 14,
            ErrorKind::SessionError => 15,
            ErrorKind::InvalidConfig => 16,
            ErrorKind::HandlerFailed => 17,
            ErrorKind::NotConnected => 18,
            ErrorKind::Io => 19,
            ErrorKind::Internal => 20,
            ErrorKind::Reconnecting => 21,
            ErrorKind::ReconnectFailed => 22,
            ErrorKind::TurnOutcomeUnknown => 23,
            ErrorKind::LeaseHeld => 24,
            ErrorKind::LeaseLost => 25,
            ErrorKind::NoServer => 26,
        }
    }

    /// One line saying what the kind means (the generated error tables of every language carry
    /// it as documentation).
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::TransportClosed => {
                "The connection to the CLI is gone (EOF, socket reset, child exited, client stopped)."
            }
            ErrorKind::Connect => "Connecting to or spawning the CLI failed (I/O, port announcement, refused socket).",
            ErrorKind::CliNotFound => {
                "No CLI executable was found (explicit path, `COPILOT_CLI_PATH`, installed copy)."
            }
            ErrorKind::Timeout => "A call or a wait exceeded its deadline.",
            ErrorKind::Cancelled => "The call was cancelled by the caller.",
            ErrorKind::FrameHeader => {
                "A frame header was malformed (not `Name: value`, not UTF-8, no `Content-Length`)."
            }
            ErrorKind::FrameLength => "The `Content-Length` value was missing, not a number, or contradictory.",
            ErrorKind::MessageTooLarge => "A frame exceeded the configured maximum message size.",
            ErrorKind::InvalidJson => "A frame body was not valid JSON, or not a JSON-RPC 2.0 message.",
            ErrorKind::Protocol => {
                "The peer broke the protocol in some other way (bad handshake reply, missing fields)."
            }
            ErrorKind::VersionMismatch => "The server speaks a protocol version this SDK does not support.",
            ErrorKind::Rpc => "The server answered a request with a JSON-RPC error (see [`Error::rpc_code`]).",
            ErrorKind::Authentication => "The connection token was required, wrong, or not configured on the server.",
            ErrorKind::SessionNotFound => "The session is unknown to the server or was destroyed on this client.",
            ErrorKind::SessionError => "The turn failed: the CLI emitted `session.error`.",
            ErrorKind::InvalidConfig => "Options or configuration were invalid (wrong types, contradictory fields).",
            ErrorKind::HandlerFailed => "A user-supplied handler (tool, permission, hook, …) failed or panicked.",
            ErrorKind::NotConnected => "The client is not started, or already stopped.",
            ErrorKind::Io => "An I/O error that is none of the above.",
            ErrorKind::Internal => "A bug in this SDK: an invariant was broken (please report it).",
            ErrorKind::Reconnecting => {
                "The client is reconnecting to the CLI; the call was not sent. Retry it once the connection is back."
            }
            ErrorKind::ReconnectFailed => {
                "The client gave up reconnecting to or restarting the CLI (attempts or restart budget spent)."
            }
            ErrorKind::TurnOutcomeUnknown => {
                "The connection was lost during a turn; whether the CLI finished it is unknown (read the session's messages)."
            }
            ErrorKind::LeaseHeld => "Another holder has the session's lease and kept it beyond the wait.",
            ErrorKind::LeaseLost => {
                "The session's lease expired or was taken over: stop driving the session, open it again."
            }
            ErrorKind::NoServer => "No server of the pool is reachable.",
        }
    }

    /// The kind for a stable number, if any.
    pub fn from_number(n: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.number() == n)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A JSON-RPC error object received from the peer.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcErrorData {
    pub code: i64,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

/// The core's error: a kind, a human message, optional JSON-RPC details, the CLI's last stderr
/// lines (for transport failures of a spawned CLI) and an optional source error. One pointer
/// wide, so `Result`s stay small on the hot path.
#[derive(Clone)]
pub struct Error {
    inner: Box<ErrorInner>,
}

#[derive(Clone)]
struct ErrorInner {
    kind: ErrorKind,
    message: String,
    rpc: Option<RpcErrorData>,
    stderr_tail: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// The request never left this process (its connection was already closed).
    unsent: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(ErrorInner {
                kind,
                message: message.into(),
                rpc: None,
                stderr_tail: None,
                source: None,
                unsent: false,
            }),
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_stderr(mut self, tail: Option<String>) -> Self {
        if let Some(t) = tail.filter(|t| !t.trim().is_empty()) {
            self.inner.stderr_tail = Some(t);
        }
        self
    }

    /// Build the error for a JSON-RPC error reply to `method`.
    pub fn rpc(method: &str, data: RpcErrorData) -> Self {
        let kind = match data.code {
            -32003..=-32001 => ErrorKind::Authentication,
            _ if data.message.contains("Session not found") => ErrorKind::SessionNotFound,
            _ => ErrorKind::Rpc,
        };
        Error {
            inner: Box::new(ErrorInner {
                kind,
                message: format!("{method} failed ({}): {}", data.code, data.message),
                rpc: Some(data),
                stderr_tail: None,
                source: None,
                unsent: false,
            }),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True when the request never left this process (its connection was closed before it
    /// was written): sending it again cannot repeat it.
    pub fn is_unsent(&self) -> bool {
        self.inner.unsent
    }

    pub(crate) fn unsent(mut self) -> Self {
        self.inner.unsent = true;
        self
    }
    /// Stable string code of the kind.
    pub fn code(&self) -> &'static str {
        self.inner.kind.code()
    }
    /// The message without the stderr tail.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
    /// The JSON-RPC error details when the server answered with an error.
    pub fn rpc_error(&self) -> Option<&RpcErrorData> {
        self.inner.rpc.as_ref()
    }
    /// The JSON-RPC error code when the server answered with an error.
    pub fn rpc_code(&self) -> Option<i64> {
        self.inner.rpc.as_ref().map(|r| r.code)
    }
    /// The last lines the spawned CLI wrote to stderr before the failure, if any.
    pub fn stderr_tail(&self) -> Option<&str> {
        self.inner.stderr_tail.as_deref()
    }
    /// True when the connection is gone or could not be made, so reconnecting (a new client)
    /// may help. RPC errors, timeouts and handler failures are not transport failures.
    pub fn is_transport_failure(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::TransportClosed
                | ErrorKind::Connect
                | ErrorKind::FrameHeader
                | ErrorKind::FrameLength
                | ErrorKind::MessageTooLarge
                | ErrorKind::InvalidJson
                | ErrorKind::Io
                | ErrorKind::NotConnected
        )
    }

    /// True when the same call may succeed if made again: the connection failed or is being
    /// re-established, or the call timed out. (Not for turns: a `turn_outcome_unknown` turn may
    /// have run; look at the session's messages before sending the prompt again.)
    pub fn is_retriable(&self) -> bool {
        self.is_transport_failure()
            || matches!(
                self.inner.kind,
                ErrorKind::Reconnecting | ErrorKind::Timeout | ErrorKind::LeaseHeld | ErrorKind::NoServer
            )
    }

    /// A copy with another kind and message, keeping the details (source, stderr tail).
    pub(crate) fn rekind(&self, kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut e = self.clone();
        e.inner.kind = kind;
        e.inner.message = message.into();
        e
    }

    /// An I/O error; a connection reset, abort or broken pipe is `transport_closed` (the
    /// connection is gone, like an EOF), and a connection the kernel timed out (keepalive,
    /// `TCP_USER_TIMEOUT`) is `timeout`.
    pub(crate) fn io(context: &str, e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => ErrorKind::TransportClosed,
            // Keepalive probes or TCP_USER_TIMEOUT gave up on the peer.
            K::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{context}: {e}")).with_source(e)
    }
    pub(crate) fn closed(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::TransportClosed, message)
    }
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidConfig, message)
    }
    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.inner.kind.code(), self.inner.message)?;
        if let Some(t) = &self.inner.stderr_tail {
            write!(f, "\nCLI stderr (last lines):\n{t}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        if let Some(r) = &self.inner.rpc {
            d.field("rpc", r);
        }
        if let Some(t) = &self.inner.stderr_tail {
            d.field("stderr_tail", t);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_numbers_are_unique_and_stable() {
        let codes: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        let nums: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.number()).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert_eq!(nums.len(), ErrorKind::ALL.len());
        assert!(!nums.contains(&0), "0 is reserved for success");
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_number(k.number()), Some(k));
        }
        // Pinned values: changing these breaks every binding's users.
        assert_eq!(ErrorKind::TransportClosed.number(), 1);
        assert_eq!(ErrorKind::Timeout.code(), "timeout");
        assert_eq!(ErrorKind::Internal.number(), 20);
    }

    #[test]
    fn rpc_errors_are_classified() {
        let e = Error::rpc("connect", RpcErrorData { code: -32002, message: "bad token".into(), data: None });
        assert_eq!(e.kind(), ErrorKind::Authentication);
        let e = Error::rpc(
            "session.send",
            RpcErrorData {
                code: -32603,
                message: "Request session.send failed with message: Session not found for sessionId: x".into(),
                data: None,
            },
        );
        assert_eq!(e.kind(), ErrorKind::SessionNotFound);
        assert_eq!(e.rpc_code(), Some(-32603));
        assert!(!e.is_transport_failure());
        assert!(Error::closed("x").with_stderr(Some("boom".into())).to_string().contains("boom"));
    }
}
