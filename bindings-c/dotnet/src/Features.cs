// Issue 12, the official features: UI elicitation (the handler, session.Ui and
// session.Capabilities), host slash commands, the official auto-mode-switch and MCP OAuth
// handlers, the session filesystem provider, the GitHub token provider, telemetry options and
// W3C trace context. Each handler is one request kind of the core (core/src/host.rs: payloads and
// the reply forms it reads); this file holds the request and answer types.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Interop;

namespace GitHub.Copilot.SDK
{
    // ---------------------------------------------------------------- elicitation

    /// <summary>The actions of an <see cref="ElicitationResult"/> (the official names).</summary>
    public static class SessionUiElicitationResultAction
    {
        public const string Accept = "accept";
        public const string Decline = "decline";
        public const string Cancel = "cancel";
    }

    /// <summary>A form the CLI (or another client, through <c>session.Ui</c>) asks the user to fill:
    /// <c>{sessionId, requestId, message, requestedSchema, mode, elicitationSource, url}</c>.</summary>
    public sealed class ElicitationContext : HostRequest
    {
        internal ElicitationContext(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string RequestId { get { return Payload["requestId"].AsString(); } }
        public string Message { get { return Payload["message"].AsString(); } }
        /// <summary>The form's JSON schema (<c>{type: "object", properties, required?}</c>); may be null.</summary>
        public JsonData RequestedSchema { get { return Payload["requestedSchema"]; } }
        /// <summary><c>form</c> or <c>url</c> (may be null).</summary>
        public string Mode { get { return Payload["mode"].AsString(); } }
        public string ElicitationSource { get { return Payload["elicitationSource"].AsString(); } }
        /// <summary>For <c>url</c> mode: the page to open.</summary>
        public string Url { get { return Payload["url"].AsString(); } }
    }

    /// <summary>The user's answer to a form: <see cref="Action"/> (one of
    /// <see cref="SessionUiElicitationResultAction"/>) and, when accepted, the field values.</summary>
    public sealed class ElicitationResult
    {
        public string Action { get; set; }
        /// <summary>The field values (string, number, bool or string list per field), or null.</summary>
        public IDictionary<string, object> Content { get; set; }

        public ElicitationResult() { }
        public ElicitationResult(string action, IDictionary<string, object> content = null) { Action = action; Content = content; }

        public JsonData ToJson()
        {
            var o = JsonData.Object().Set("action", Action ?? SessionUiElicitationResultAction.Cancel);
            if (Content != null) o.Set("content", CopilotJson.FromObject(Content));
            return o;
        }

        internal static ElicitationResult FromJson(JsonData j)
        {
            Dictionary<string, object> content = null;
            if (j["content"].IsObject)
            {
                content = new Dictionary<string, object>();
                foreach (var kv in j["content"].Properties) content[kv.Key] = Plain(kv.Value);
            }
            return new ElicitationResult(j["action"].AsString(SessionUiElicitationResultAction.Cancel), content);
        }

        static object Plain(JsonData v)
        {
            switch (v.Kind)
            {
                case JsonKind.String: return v.AsString();
                case JsonKind.Bool: return v.AsBool();
                case JsonKind.Number:
                    var l = v.AsNullableLong();
                    var d = v.AsDouble();
                    return l.HasValue && l.Value == d ? (object)l.Value : d;
                case JsonKind.Array: return v.AsStringList();
                case JsonKind.Null: return null;
                default: return v;
            }
        }
    }

    /// <summary>The options of <see cref="SessionUi.InputAsync"/>.</summary>
    public sealed class InputOptions
    {
        public string Title { get; set; }
        public string Description { get; set; }
        public int? MinLength { get; set; }
        public int? MaxLength { get; set; }
        /// <summary><c>email</c>, <c>uri</c>, <c>date</c> or <c>date-time</c>.</summary>
        public string Format { get; set; }
        public string Default { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("title", Title);
            o.SetIfNotNull("description", Description);
            if (MinLength.HasValue) o.Set("minLength", MinLength.Value);
            if (MaxLength.HasValue) o.Set("maxLength", MaxLength.Value);
            o.SetIfNotNull("format", Format);
            o.SetIfNotNull("default", Default);
            return o;
        }
    }

    /// <summary>
    /// <c>session.Ui</c>: dialogs shown by whichever client of the session answers elicitation (the
    /// CLI sends <c>elicitation.requested</c> to it; this client too when it set
    /// <see cref="SessionConfig.OnElicitationRequest"/>). Without that capability
    /// (<see cref="SessionCapabilities.Elicitation"/> false) every call fails with
    /// <see cref="InvalidConfigException"/>.
    /// </summary>
    public sealed class SessionUi
    {
        readonly CopilotSession _session;
        internal SessionUi(CopilotSession session) { _session = session; }

        /// <summary>A yes/no question: true when the user accepted with a yes.</summary>
        public async Task<bool> ConfirmAsync(string message, CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await _session.UiAsync("confirm", JsonData.Object().Set("message", message ?? ""), cancellationToken).ConfigureAwait(false);
            return r.AsBool();
        }

        /// <summary>One choice among <paramref name="options"/>; null when the user declined or cancelled.</summary>
        public async Task<string> SelectAsync(string message, IEnumerable<string> options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var p = JsonData.Object().Set("message", message ?? "").Set("options", JsonData.Array(options));
            var r = await _session.UiAsync("select", p, cancellationToken).ConfigureAwait(false);
            return r.AsString();
        }

        /// <summary>A line of text; null when the user declined or cancelled.</summary>
        public async Task<string> InputAsync(string message, InputOptions options = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var p = JsonData.Object().Set("message", message ?? "");
            if (options != null) p.Set("options", options.ToJson());
            var r = await _session.UiAsync("input", p, cancellationToken).ConfigureAwait(false);
            return r.AsString();
        }

        /// <summary>A form: <paramref name="requestedSchema"/> is <c>{type: "object", properties, required?}</c>.</summary>
        public async Task<ElicitationResult> ElicitAsync(string message, JsonData requestedSchema, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (requestedSchema == null) throw new ArgumentNullException("requestedSchema");
            var p = JsonData.Object().Set("message", message ?? "").Set("requestedSchema", requestedSchema);
            var r = await _session.UiAsync("elicitation", p, cancellationToken).ConfigureAwait(false);
            return ElicitationResult.FromJson(r);
        }

        /// <summary>Same as <see cref="ElicitAsync"/> (the operation's wire name).</summary>
        public Task<ElicitationResult> ElicitationAsync(string message, JsonData requestedSchema, CancellationToken cancellationToken = default(CancellationToken))
        {
            return ElicitAsync(message, requestedSchema, cancellationToken);
        }
    }

    /// <summary>What the session's clients can do, from the session info's <c>capabilities</c>.</summary>
    public sealed class SessionCapabilities
    {
        internal SessionCapabilities(JsonData json) { Json = json ?? JsonData.Null; }

        /// <summary>The capabilities object as the CLI sent it (null when it sent none).</summary>
        public JsonData Json { get; private set; }
        /// <summary><c>capabilities.ui.elicitation</c>: some client answers elicitation, so
        /// <c>session.Ui</c> works.</summary>
        public bool Elicitation { get { return Json["ui"]["elicitation"].AsBool(); } }
        public override string ToString() { return Json.ToJson(); }
    }

    // ---------------------------------------------------------------- slash commands

    /// <summary>A slash command the host registers: the user (or <c>session.commands.execute</c>)
    /// runs <c>/Name args</c> and <see cref="Handler"/> is called.</summary>
    public sealed class CommandDefinition
    {
        public string Name { get; set; }
        public string Description { get; set; }
        /// <summary>Runs the command; an exception is the command's error.</summary>
        public Func<CommandContext, Task> Handler { get; set; }
    }

    /// <summary>A command invocation: <c>{sessionId, requestId, command, commandName, args}</c>.</summary>
    public sealed class CommandContext : HostRequest
    {
        internal CommandContext(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string RequestId { get { return Payload["requestId"].AsString(); } }
        /// <summary>The whole command line (<c>/deploy prod now</c>).</summary>
        public string Command { get { return Payload["command"].AsString(); } }
        public string CommandName { get { return Payload["commandName"].AsString(); } }
        /// <summary>What follows the name (may be empty).</summary>
        public string Args { get { return Payload["args"].AsString(); } }
    }

    // ---------------------------------------------------------------- auto mode switch

    /// <summary>The second argument of <see cref="SessionConfig.OnAutoModeSwitchRequest"/>.</summary>
    public sealed class AutoModeSwitchInvocation
    {
        public string SessionId { get; set; }
    }

    // ---------------------------------------------------------------- MCP OAuth

    /// <summary>An MCP server needs OAuth (<c>mcp.oauth_required</c>): <c>{sessionId, requestId,
    /// serverName, serverUrl, reason, wwwAuthenticateParams?, resourceMetadata?, staticClientConfig?}</c>.</summary>
    public sealed class McpAuthRequest : HostRequest
    {
        internal McpAuthRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string RequestId { get { return Payload["requestId"].AsString(); } }
        public string ServerName { get { return Payload["serverName"].AsString(); } }
        public string ServerUrl { get { return Payload["serverUrl"].AsString(); } }
        /// <summary><c>initial</c>, <c>refresh</c>, <c>reauth</c> or <c>upscope</c>.</summary>
        public string Reason { get { return Payload["reason"].AsString(); } }
        /// <summary><c>{resourceMetadataUrl?, scope?, error?}</c> or null.</summary>
        public JsonData WwwAuthenticateParams { get { return Payload["wwwAuthenticateParams"]; } }
        public string ResourceMetadata { get { return Payload["resourceMetadata"].AsString(); } }
        /// <summary><c>{clientId, clientSecret?, grantType?, publicClient?}</c> or null.</summary>
        public JsonData StaticClientConfig { get { return Payload["staticClientConfig"]; } }
    }

    /// <summary>The answer to an <see cref="McpAuthRequest"/>: a token, or cancelled (null is cancelled too).</summary>
    public sealed class McpAuthResult
    {
        McpAuthResult() { }
        public bool IsCancelled { get; private set; }
        public string AccessToken { get; private set; }
        public string TokenType { get; private set; }
        public long? ExpiresIn { get; private set; }

        public static McpAuthResult Token(string accessToken, string tokenType = null, long? expiresIn = null)
        {
            if (string.IsNullOrEmpty(accessToken)) throw new ArgumentException("an access token is required", "accessToken");
            return new McpAuthResult { AccessToken = accessToken, TokenType = tokenType, ExpiresIn = expiresIn };
        }

        public static McpAuthResult Cancel() { return new McpAuthResult { IsCancelled = true }; }

        public JsonData ToJson()
        {
            if (IsCancelled) return JsonData.Object().Set("kind", "cancelled");
            var o = JsonData.Object().Set("kind", "token").Set("accessToken", AccessToken);
            o.SetIfNotNull("tokenType", TokenType);
            if (ExpiresIn.HasValue) o.Set("expiresIn", ExpiresIn.Value);
            return o;
        }
    }

    // ---------------------------------------------------------------- GitHub token provider

    /// <summary>What the token provider is asked with: <c>{sessionId, host, reason}</c>.</summary>
    public sealed class GitHubTokenProviderArgs : HostRequest
    {
        internal GitHubTokenProviderArgs(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        /// <summary>The GitHub host (<c>https://github.com</c>).</summary>
        public string Host { get { return Payload["host"].AsString(); } }
        /// <summary><c>initial</c> (creation or resume) or <c>refresh</c> (the CLI reported an
        /// authentication failure, or the token is about to expire).</summary>
        public string Reason { get { return Payload["reason"].AsString(); } }
    }

    /// <summary>The reasons of <see cref="GitHubTokenProviderArgs.Reason"/>.</summary>
    public static class GitHubTokenRequestReason
    {
        public const string Initial = "initial";
        public const string Refresh = "refresh";
    }

    /// <summary>A GitHub token with its lifetime (unset: 8 h).</summary>
    public sealed class GitHubToken
    {
        public string AccessToken { get; set; }
        /// <summary>Seconds the token stays valid (more than 3600).</summary>
        public long? ExpiresIn { get; set; }
        public string TokenType { get; set; }
    }

    /// <summary>The provider's answer: a token, or cancelled (creation is refused; null too).</summary>
    public sealed class GitHubTokenProviderResult
    {
        GitHubTokenProviderResult() { }
        public GitHubToken Token { get; private set; }
        public bool IsCancelled { get { return Token == null; } }

        public static GitHubTokenProviderResult FromToken(GitHubToken token)
        {
            if (token == null || string.IsNullOrEmpty(token.AccessToken)) throw new ArgumentException("a token with an AccessToken is required", "token");
            return new GitHubTokenProviderResult { Token = token };
        }

        public static GitHubTokenProviderResult Cancel() { return new GitHubTokenProviderResult(); }

        public JsonData ToJson()
        {
            if (Token == null) return JsonData.Object().Set("kind", "cancelled");
            var o = JsonData.Object().Set("kind", "token").Set("accessToken", Token.AccessToken);
            if (Token.ExpiresIn.HasValue) o.Set("expiresIn", Token.ExpiresIn.Value);
            o.SetIfNotNull("tokenType", Token.TokenType);
            return o;
        }
    }

    // ---------------------------------------------------------------- session filesystem

    /// <summary>The client option <see cref="CopilotClientOptions.SessionFs"/>: this client is the
    /// filesystem for session state (<c>sessionFs.setProvider</c> on every connection), and every
    /// session it opens needs <see cref="SessionConfig.CreateSessionFsProvider"/>.</summary>
    public sealed class SessionFsConfig
    {
        /// <summary>The working directory sessions start in (in the provider's namespace).</summary>
        public string InitialCwd { get; set; }
        /// <summary>Where session state lives in the provider's namespace (e.g. <c>/session-state</c>).</summary>
        public string SessionStatePath { get; set; }
        /// <summary><c>posix</c> (default) or <c>windows</c>.</summary>
        public string Conventions { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("initialCwd", InitialCwd);
            o.SetIfNotNull("sessionStatePath", SessionStatePath);
            o.SetIfNotNull("conventions", Conventions);
            return o;
        }
    }

    /// <summary>What <see cref="ISessionFsProvider.StatAsync"/> answers.</summary>
    public sealed class SessionFsFileInfo
    {
        public bool IsFile { get; set; }
        public bool IsDirectory { get; set; }
        public long Size { get; set; }
        public DateTimeOffset Mtime { get; set; }
        public DateTimeOffset Birthtime { get; set; }

        public JsonData ToJson()
        {
            return JsonData.Object().Set("isFile", IsFile).Set("isDirectory", IsDirectory).Set("size", Size)
                .Set("mtime", Mtime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
                .Set("birthtime", Birthtime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>One entry of <see cref="ISessionFsProvider.ReaddirWithTypesAsync"/>.</summary>
    public sealed class SessionFsDirEntry
    {
        public string Name { get; set; }
        /// <summary><c>file</c> or <c>directory</c>.</summary>
        public string Type { get; set; }

        public SessionFsDirEntry() { }
        public SessionFsDirEntry(string name, string type) { Name = name; Type = type; }
    }

    /// <summary>
    /// A host-implemented filesystem for one session's state. Paths are in the provider's
    /// namespace (under <see cref="SessionFsConfig.SessionStatePath"/> and
    /// <see cref="SessionFsConfig.InitialCwd"/>). Throw <see cref="FileNotFoundException"/> or
    /// <see cref="DirectoryNotFoundException"/> for a missing path (the CLI gets <c>ENOENT</c>);
    /// any other exception is an <c>UNKNOWN</c> error.
    /// </summary>
    public interface ISessionFsProvider
    {
        Task<string> ReadFileAsync(string path);
        Task WriteFileAsync(string path, string content, int? mode);
        Task AppendFileAsync(string path, string content, int? mode);
        Task<bool> ExistsAsync(string path);
        Task<SessionFsFileInfo> StatAsync(string path);
        Task MkdirAsync(string path, bool recursive, int? mode);
        Task<IList<string>> ReaddirAsync(string path);
        Task<IList<SessionFsDirEntry>> ReaddirWithTypesAsync(string path);
        Task RmAsync(string path, bool recursive, bool force);
        Task RenameAsync(string src, string dest);
    }

    /// <summary>Dispatches a <c>sessionFs</c> request (the request name is the operation) to a provider.</summary>
    internal static class SessionFsDispatch
    {
        static int? Mode(JsonData p)
        {
            var m = p["mode"].AsNullableLong();
            return m.HasValue ? (int?)m.Value : null;
        }

        internal static async Task<JsonData> Serve(ISessionFsProvider fs, string op, JsonData p)
        {
            if (fs == null) throw new InvalidOperationException("CreateSessionFsProvider returned no provider");
            var path = p["path"].AsString();
            try
            {
                switch (op ?? p["operation"].AsString())
                {
                    case "readFile": return await fs.ReadFileAsync(path).ConfigureAwait(false);
                    case "writeFile": await fs.WriteFileAsync(path, p["content"].AsString(""), Mode(p)).ConfigureAwait(false); return JsonData.Null;
                    case "appendFile": await fs.AppendFileAsync(path, p["content"].AsString(""), Mode(p)).ConfigureAwait(false); return JsonData.Null;
                    case "exists": return await fs.ExistsAsync(path).ConfigureAwait(false);
                    case "stat":
                        var info = await fs.StatAsync(path).ConfigureAwait(false);
                        if (info == null) throw new FileNotFoundException("ENOENT: no such file or directory, stat '" + path + "'");
                        return info.ToJson();
                    case "mkdir": await fs.MkdirAsync(path, p["recursive"].AsBool(), Mode(p)).ConfigureAwait(false); return JsonData.Null;
                    case "readdir":
                        var names = await fs.ReaddirAsync(path).ConfigureAwait(false);
                        return JsonData.Array(names ?? new List<string>());
                    case "readdirWithTypes":
                        var entries = await fs.ReaddirWithTypesAsync(path).ConfigureAwait(false);
                        var a = JsonData.Array();
                        if (entries != null) foreach (var e in entries) a.Add(JsonData.Object().Set("name", e.Name).Set("type", e.Type ?? "file"));
                        return a;
                    case "rm": await fs.RmAsync(path, p["recursive"].AsBool(), p["force"].AsBool()).ConfigureAwait(false); return JsonData.Null;
                    case "rename": await fs.RenameAsync(p["src"].AsString(), p["dest"].AsString()).ConfigureAwait(false); return JsonData.Null;
                    default: throw new NotSupportedException("sessionFs operation `" + op + "` is not supported by this provider");
                }
            }
            catch (FileNotFoundException e) { return NotFound(e); }
            catch (DirectoryNotFoundException e) { return NotFound(e); }
        }

        static JsonData NotFound(Exception e)
        {
            return JsonData.Object().Set("error", JsonData.Object().Set("code", "ENOENT").Set("message", e.Message));
        }
    }

    // ---------------------------------------------------------------- telemetry and trace context

    /// <summary>The CLI's OpenTelemetry settings (a spawned CLI only; with a URL connection the
    /// client refuses them as <c>invalid_config</c>).</summary>
    public sealed class TelemetryConfig
    {
        /// <summary>OTLP endpoint (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>).</summary>
        public string OtlpEndpoint { get; set; }
        /// <summary><c>http/json</c> or <c>http/protobuf</c>.</summary>
        public string OtlpProtocol { get; set; }
        /// <summary>The file of the <c>file</c> exporter (JSON lines).</summary>
        public string FilePath { get; set; }
        /// <summary><c>otlp-http</c> or <c>file</c>.</summary>
        public string ExporterType { get; set; }
        public string SourceName { get; set; }
        /// <summary>Record message contents in spans.</summary>
        public bool? CaptureContent { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("otlpEndpoint", OtlpEndpoint);
            o.SetIfNotNull("otlpProtocol", OtlpProtocol);
            o.SetIfNotNull("filePath", FilePath);
            o.SetIfNotNull("exporterType", ExporterType);
            o.SetIfNotNull("sourceName", SourceName);
            if (CaptureContent.HasValue) o.Set("captureContent", CaptureContent.Value);
            return o;
        }
    }

    /// <summary>The values of <see cref="CopilotClientOptions.Mode"/>.</summary>
    public static class CopilotClientMode
    {
        public const string Default = "default";
        /// <summary>Multi-tenant hardening: every session names its AvailableTools, gets the
        /// official hardened defaults, and the client needs BaseDirectory or SessionFs.</summary>
        public const string Empty = "empty";
    }

    /// <summary>
    /// A W3C trace context (<c>traceparent</c>, <c>tracestate</c>). Mono has no
    /// System.Diagnostics.Activity, so the ambient context is this class's
    /// <see cref="Current"/> (flows with async calls like Activity.Current): the SDK sets it
    /// around tool handlers to the call's context (so the CLI's span is the parent of what the
    /// handler does), and create, resume and send take it when neither the call nor
    /// <see cref="CopilotClientOptions.OnGetTraceContext"/> gives one.
    /// </summary>
    public sealed class TraceContext
    {
        static readonly AsyncLocal<TraceContext> Ambient = new AsyncLocal<TraceContext>();

        public string Traceparent { get; set; }
        public string Tracestate { get; set; }

        public TraceContext() { }
        public TraceContext(string traceparent, string tracestate = null) { Traceparent = traceparent; Tracestate = tracestate; }

        /// <summary>The ambient context of this async flow (null when none).</summary>
        public static TraceContext Current { get { return Ambient.Value; } }

        /// <summary>Makes <paramref name="context"/> the ambient one until the result is disposed.</summary>
        public static IDisposable Use(TraceContext context)
        {
            var before = Ambient.Value;
            Ambient.Value = context;
            return new Unsubscriber(() => Ambient.Value = before);
        }

        /// <summary>The trace id (32 hex digits) of a well-formed traceparent, else null.</summary>
        public string TraceId
        {
            get
            {
                var p = Traceparent == null ? null : Traceparent.Split('-');
                return p != null && p.Length == 4 && p[1].Length == 32 ? p[1] : null;
            }
        }

        /// <summary>The parent span id (16 hex digits) of a well-formed traceparent, else null.</summary>
        public string SpanId
        {
            get
            {
                var p = Traceparent == null ? null : Traceparent.Split('-');
                return p != null && p.Length == 4 && p[2].Length == 16 ? p[2] : null;
            }
        }
    }
}
