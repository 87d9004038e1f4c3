// Typed exceptions. Every failure the SDK reports is a CopilotException (or, when the caller's
// CancellationToken fired, an OperationCanceledException). The Code string and Number are the
// core's stable error table (core/src/error.rs, bindings-c/README.md): they never change.

using System;

namespace GitHub.Copilot.SDK
{
    /// <summary>Base class of every error the Copilot SDK raises.</summary>
    public class CopilotException : Exception
    {
        /// <summary>Stable string code (<c>"transport_closed"</c>, <c>"timeout"</c>, <c>"rpc_error"</c>, ...).</summary>
        public string Code { get; private set; }
        /// <summary>Stable number of the code (the C ABI result code; never reused).</summary>
        public int Number { get; private set; }
        /// <summary>The JSON-RPC error code when the CLI answered with an error.</summary>
        public long? RpcCode { get; internal set; }
        /// <summary>The JSON-RPC error message when the CLI answered with an error.</summary>
        public string RpcMessage { get; internal set; }
        /// <summary>The JSON-RPC error data, if any.</summary>
        public JsonData RpcData { get; internal set; }
        /// <summary>The last lines a spawned CLI wrote to stderr before a transport failure.</summary>
        public string StderrTail { get; internal set; }

        public CopilotException(string code, int number, string message, Exception inner = null)
            : base(message, inner)
        {
            Code = code;
            Number = number;
        }

        /// <summary>True when the connection is gone or could not be made (the core's verdict,
        /// <c>transportFailure</c> of the error JSON).</summary>
        public bool IsTransportFailure { get; internal set; }

        /// <summary>True when the same call may succeed if made again (the core's verdict,
        /// <c>retriable</c> of the error JSON): the connection failed or is being re-established
        /// (<c>reconnecting</c>), or the call timed out. Never for
        /// <see cref="TurnOutcomeUnknownException"/>: that turn may have run.</summary>
        public bool IsRetriable { get; internal set; }

        public override string ToString()
        {
            var s = GetType().FullName + " [" + Code + "]: " + Message;
            if (!string.IsNullOrEmpty(StderrTail)) s += "\nCLI stderr (last lines):\n" + StderrTail;
            if (InnerException != null) s += "\n ---> " + InnerException;
            return s + "\n" + StackTrace;
        }
    }

    /// <summary>The connection to the CLI is gone or could not be made (transport_closed,
    /// connect_failed, not_connected, io, framing errors), is being re-established
    /// (reconnecting: the call was not sent; retry it), or the client gave up re-establishing it
    /// (reconnect_failed: until StartAsync).</summary>
    public class CopilotConnectionException : CopilotException
    {
        public CopilotConnectionException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The connection was lost during a turn (turn_outcome_unknown): whether the CLI
    /// finished it is unknown. The message names the session; once the client has reconnected
    /// (the session is resumed), read its messages before sending the prompt again.</summary>
    public class TurnOutcomeUnknownException : CopilotConnectionException
    {
        public TurnOutcomeUnknownException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>No CLI executable was found (cli_not_found).</summary>
    public class CliNotFoundException : CopilotException
    {
        public CliNotFoundException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>A call or a wait exceeded its deadline (timeout).</summary>
    public class CopilotTimeoutException : CopilotException
    {
        public CopilotTimeoutException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The CLI answered a request with a JSON-RPC error (rpc_error); see <see cref="CopilotException.RpcCode"/>.</summary>
    public class CopilotRpcException : CopilotException
    {
        public CopilotRpcException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The connection token was required, wrong, or not configured (authentication).</summary>
    public class CopilotAuthenticationException : CopilotRpcException
    {
        public CopilotAuthenticationException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The session is unknown to the CLI or was disconnected on this client (session_not_found).</summary>
    public class SessionNotFoundException : CopilotException
    {
        public SessionNotFoundException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The turn failed: the CLI emitted <c>session.error</c> (session_error).</summary>
    public class SessionErrorException : CopilotException
    {
        public SessionErrorException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>Options or configuration were invalid (invalid_config, or a bad argument at the C ABI:
    /// null_pointer, invalid_utf8, invalid_argument).</summary>
    public class InvalidConfigException : CopilotException
    {
        public InvalidConfigException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The peer broke the protocol (protocol, version_mismatch, invalid_json replies).</summary>
    public class CopilotProtocolException : CopilotException
    {
        public CopilotProtocolException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>A host handler (tool, permission, hook, ...) failed (handler_failed).</summary>
    public class HandlerFailedException : CopilotException
    {
        public HandlerFailedException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The operation was cancelled inside the SDK (cancelled) without the caller's token.</summary>
    public class CopilotCancelledException : CopilotException
    {
        public CopilotCancelledException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>Another instance holds the session's lease and kept it beyond
    /// <see cref="LeaseOptions.Wait"/> (lease_held, retriable: try again later).</summary>
    public class LeaseHeldException : CopilotException
    {
        public LeaseHeldException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>The session's lease expired or was taken over while held (lease_lost): stop
    /// driving the session; open it again to take a new lease.</summary>
    public class LeaseLostException : CopilotException
    {
        public LeaseLostException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>No server of the pool is reachable (no_server, retriable).</summary>
    public class NoServerException : CopilotConnectionException
    {
        public NoServerException(string code, int number, string message) : base(code, number, message) { }
    }

    /// <summary>Lookups over the generated table (ErrorCodes.g.cs).</summary>
    public static partial class ErrorCodes
    {
        /// <summary>Former name of <see cref="RpcError"/>.</summary>
        public const string Rpc = RpcError;

        /// <summary>The code of a stable number (null when unknown).</summary>
        public static string FromNumber(int number)
        {
            foreach (var c in All) if (c.Number == number) return c.Code;
            return null;
        }

        /// <summary>The number of a stable code (0 when unknown).</summary>
        public static int ToNumber(string code)
        {
            foreach (var c in All) if (c.Code == code) return c.Number;
            return 0;
        }

        /// <summary>Builds the typed exception for a code.</summary>
        public static CopilotException Create(string code, int number, string message)
        {
            switch (code)
            {
                case TransportClosed:
                case ConnectFailed:
                case NotConnected:
                case Io:
                case FrameHeader:
                case FrameLength:
                case MessageTooLarge:
                case InvalidJson:
                case Reconnecting:
                case ReconnectFailed:
                    return new CopilotConnectionException(code, number, message);
                case TurnOutcomeUnknown: return new TurnOutcomeUnknownException(code, number, message);
                case CliNotFound: return new CliNotFoundException(code, number, message);
                case Timeout: return new CopilotTimeoutException(code, number, message);
                case Cancelled: return new CopilotCancelledException(code, number, message);
                case Protocol:
                case VersionMismatch:
                    return new CopilotProtocolException(code, number, message);
                case RpcError: return new CopilotRpcException(code, number, message);
                case Authentication: return new CopilotAuthenticationException(code, number, message);
                case SessionNotFound: return new SessionNotFoundException(code, number, message);
                case SessionError: return new SessionErrorException(code, number, message);
                case InvalidConfig: return new InvalidConfigException(code, number, message);
                case HandlerFailed: return new HandlerFailedException(code, number, message);
                case LeaseHeld: return new LeaseHeldException(code, number, message);
                case LeaseLost: return new LeaseLostException(code, number, message);
                case NoServer: return new NoServerException(code, number, message);
                case NullPointer:
                case InvalidUtf8:
                case InvalidArgument:
                    return new InvalidConfigException(code, number, message);
                default: return new CopilotException(code ?? "internal", number, message);
            }
        }
    }

    /// <summary>A stable error code and its number.</summary>
    public struct CodeNumber
    {
        /// <summary>The stable code.</summary>
        public readonly string Code;
        /// <summary>Its stable number.</summary>
        public readonly int Number;
        /// <summary>A row of the table.</summary>
        public CodeNumber(string code, int number) { Code = code; Number = number; }
    }
}
