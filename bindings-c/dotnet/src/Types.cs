// Options, configuration, events and handler types of the .NET surface. They are plain C#
// objects; each knows its JSON form (the keys the core's ClientOptions/SessionConfig/
// MessageOptions::from_json read, see core/src/config.rs).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;

namespace GitHub.Copilot.SDK
{
    /// <summary>Durations in the core's JSON.</summary>
    static class Durations
    {
        /// <summary>Seconds, exactly (50 ms is 0.05, not 0.049999...).</summary>
        public static JsonData Seconds(TimeSpan t) { return JsonData.Number((decimal)t.Ticks / TimeSpan.TicksPerSecond); }
    }

    /// <summary>How to start or reach the Copilot CLI.</summary>
    public sealed class CopilotClientOptions
    {
        /// <summary>How to reach the CLI, with the official SDK's names:
        /// <see cref="RuntimeConnection.ForStdio"/>, <see cref="RuntimeConnection.ForTcp"/> or
        /// <see cref="RuntimeConnection.ForUri"/>. It carries the path, arguments, port, URL and
        /// token itself, so setting it beside <see cref="CliUrl"/>, <see cref="UseStdio"/>,
        /// <see cref="Port"/>, <see cref="CliPath"/>, <see cref="CliArgs"/> or
        /// <see cref="ConnectionToken"/> is an <see cref="InvalidConfigException"/>.</summary>
        public RuntimeConnection Connection { get; set; }
        /// <summary>URL of a running headless server: <c>"host:port"</c>, <c>"port"</c> or
        /// <c>"http://host:port"</c> (raw TCP either way). When set, nothing is spawned.</summary>
        public string CliUrl { get; set; }
        /// <summary>Spawn the CLI over stdio (default when neither <see cref="CliUrl"/> nor
        /// <see cref="Port"/> is set). False spawns it as a TCP server on <see cref="Port"/> (0 = any).
        /// With <see cref="CliUrl"/>, false (or unset) is accepted and true is an error.</summary>
        public bool? UseStdio { get; set; }
        /// <summary>TCP port for a spawned TCP CLI (0 or unset = any free port).</summary>
        public int? Port { get; set; }
        /// <summary>CLI executable; otherwise COPILOT_CLI_PATH, the installed copy, then PATH.</summary>
        public string CliPath { get; set; }
        /// <summary>Arguments placed before the SDK's own.</summary>
        public IList<string> CliArgs { get; set; }
        /// <summary>Working directory of a spawned CLI.</summary>
        public string Cwd { get; set; }
        /// <summary>Replaces the environment of a spawned CLI when set.</summary>
        public IDictionary<string, string> Environment { get; set; }
        /// <summary><c>--log-level</c> of a spawned CLI (none, error, warning, info, debug, all).</summary>
        public string LogLevel { get; set; }
        /// <summary>The official option's name for <see cref="CopilotLog.SetLogger"/>: a client made
        /// with it installs the logger for the library's records. Those records are one stream per
        /// process, so the last logger installed receives every client's records.</summary>
        public GitHub.Copilot.SDK.Logging.ILogger Logger { get; set; }
        /// <summary>GitHub token for a spawned CLI.</summary>
        public string GitHubToken { get; set; }
        /// <summary>Let a spawned CLI use the logged-in user (default: true unless a token is given).</summary>
        public bool? UseLoggedInUser { get; set; }
        /// <summary><c>--session-idle-timeout</c> of a spawned CLI, in seconds (unset = none).</summary>
        public int? SessionIdleTimeoutSeconds { get; set; }
        /// <summary>Connection token: sent in the <c>connect</c> handshake; a spawned TCP CLI gets it
        /// (or a random one).</summary>
        public string ConnectionToken { get; set; }
        /// <summary>State directory of a spawned CLI (COPILOT_HOME).</summary>
        public string CopilotHome { get; set; }
        /// <summary>Largest accepted incoming message, in bytes.</summary>
        public long? MaxMessageSize { get; set; }
        /// <summary>Deadline for control calls: every call but a turn's wait (unset: the core's
        /// default, 30 s; <see cref="TimeSpan.Zero"/>: no deadline, the call waits as long as the
        /// connection lives). A call that exceeds it fails with <c>timeout</c>; the connection stays.
        /// The <c>RpcAsync</c> overloads with a timeout override it per call.</summary>
        public TimeSpan? RequestTimeout { get; set; }
        /// <summary>What the client does when the connection to the CLI is lost (unset: the core's
        /// default policy, reconnection on; <see cref="ReconnectPolicy.Disabled"/>: the client stops
        /// for good, as before issue 9).</summary>
        public ReconnectPolicy Reconnect { get; set; }
        /// <summary>Ping a connection that has been quiet this long (unset: 15 s;
        /// <see cref="TimeSpan.Zero"/>: no heartbeat).</summary>
        public TimeSpan? HeartbeatInterval { get; set; }
        /// <summary>A heartbeat ping unanswered for this long declares the CLI dead (unset: 10 s):
        /// the connection is closed, pending calls fail with <c>timeout</c>, the client reconnects.</summary>
        public TimeSpan? HeartbeatTimeout { get; set; }
        /// <summary>TCP keepalive on TCP connections: idle time before the first probe (unset: 10 s;
        /// <see cref="TimeSpan.Zero"/>: off).</summary>
        public TimeSpan? TcpKeepalive { get; set; }
        /// <summary><c>TCP_USER_TIMEOUT</c> on TCP connections (Linux): data unacknowledged for this
        /// long kills the connection (unset: 20 s; <see cref="TimeSpan.Zero"/>: the kernel's default).</summary>
        public TimeSpan? TcpUserTimeout { get; set; }
        /// <summary>Deadline for start (spawn, port announcement, handshake). Default 30 s.</summary>
        public TimeSpan? StartTimeout { get; set; }
        /// <summary>How long StopAsync waits for a spawned CLI before killing it. Default 5 s.</summary>
        public TimeSpan? StopGrace { get; set; }
        /// <summary>False: calls made before <see cref="CopilotClient.StartAsync"/> fail with
        /// <c>not_connected</c>. Unset (or true): a client that was never started starts on its
        /// first call (the core's rule; a stopped client stays stopped until StartAsync).</summary>
        public bool? AutoStart { get; set; }
        /// <summary>The CLI's OpenTelemetry settings (a spawned CLI only).</summary>
        public TelemetryConfig Telemetry { get; set; }
        /// <summary><see cref="CopilotClientMode.Empty"/> for the official multi-tenant mode (needs
        /// <see cref="BaseDirectory"/> or <see cref="SessionFs"/>; every session then names its
        /// AvailableTools); unset or <see cref="CopilotClientMode.Default"/> otherwise.</summary>
        public string Mode { get; set; }
        /// <summary>The official name of the CLI's state directory (<see cref="CopilotHome"/>; set one of the two).</summary>
        public string BaseDirectory { get; set; }
        /// <summary>This client is the filesystem for session state: every session needs
        /// <see cref="SessionConfig.CreateSessionFsProvider"/>.</summary>
        public SessionFsConfig SessionFs { get; set; }
        /// <summary>The host's current W3C trace context, asked on create, resume and send when
        /// the call carries none (then <see cref="TraceContext.Current"/> is used). Null or a
        /// context without Traceparent: none.</summary>
        public Func<TraceContext> OnGetTraceContext { get; set; }

        /// <summary>The JSON form read by the core (ClientOptions::from_json).</summary>
        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (Connection != null) o.Set("connection", Connection.ToJson());
            o.SetIfNotNull("cliUrl", CliUrl);
            if (UseStdio.HasValue) o.Set("useStdio", UseStdio.Value);
            if (Port.HasValue) o.Set("port", Port.Value);
            o.SetIfNotNull("cliPath", CliPath);
            if (CliArgs != null) o.Set("cliArgs", JsonData.Array(CliArgs));
            o.SetIfNotNull("cwd", Cwd);
            if (Environment != null)
            {
                var env = JsonData.Object();
                foreach (var kv in Environment) env.Set(kv.Key, kv.Value ?? "");
                o.Set("env", env);
            }
            o.SetIfNotNull("logLevel", LogLevel);
            o.SetIfNotNull("githubToken", GitHubToken);
            if (UseLoggedInUser.HasValue) o.Set("useLoggedInUser", UseLoggedInUser.Value);
            if (SessionIdleTimeoutSeconds.HasValue) o.Set("sessionIdleTimeoutSeconds", SessionIdleTimeoutSeconds.Value);
            o.SetIfNotNull("connectionToken", ConnectionToken);
            o.SetIfNotNull("copilotHome", CopilotHome);
            if (MaxMessageSize.HasValue) o.Set("maxMessageSize", MaxMessageSize.Value);
            if (RequestTimeout.HasValue) o.Set("requestTimeout", Durations.Seconds(RequestTimeout.Value));
            if (Reconnect != null) o.Set("reconnect", Reconnect.ToJson());
            if (HeartbeatInterval.HasValue) o.Set("heartbeatInterval", Durations.Seconds(HeartbeatInterval.Value));
            if (HeartbeatTimeout.HasValue) o.Set("heartbeatTimeout", Durations.Seconds(HeartbeatTimeout.Value));
            if (TcpKeepalive.HasValue) o.Set("tcpKeepalive", Durations.Seconds(TcpKeepalive.Value));
            if (TcpUserTimeout.HasValue) o.Set("tcpUserTimeout", Durations.Seconds(TcpUserTimeout.Value));
            if (StartTimeout.HasValue) o.Set("startTimeout", Durations.Seconds(StartTimeout.Value));
            if (StopGrace.HasValue) o.Set("stopGrace", Durations.Seconds(StopGrace.Value));
            if (AutoStart.HasValue) o.Set("autoStart", AutoStart.Value);
            if (Telemetry != null) o.Set("telemetry", Telemetry.ToJson());
            o.SetIfNotNull("mode", Mode);
            o.SetIfNotNull("baseDirectory", BaseDirectory);
            if (SessionFs != null) o.Set("sessionFs", SessionFs.ToJson());
            return o;
        }
    }

    /// <summary>
    /// Reconnection (a client given <see cref="CopilotClientOptions.CliUrl"/>) and restart (a
    /// spawned CLI) after the connection is lost, with exponential backoff and ±25 % jitter; every
    /// open session is then resumed with its original config. A property left unset keeps the
    /// core's default. The core validates the values (a negative one is <c>invalid_config</c>).
    /// </summary>
    public sealed class ReconnectPolicy
    {
        /// <summary>Reconnect at all (default true).</summary>
        public bool Enabled { get; set; }
        /// <summary>Attempts per outage before giving up (default 20).</summary>
        public int? MaxAttempts { get; set; }
        /// <summary>Delay before the first attempt (default 100 ms).</summary>
        public TimeSpan? InitialDelay { get; set; }
        /// <summary>Longest delay between attempts (default 5 s).</summary>
        public TimeSpan? MaxDelay { get; set; }
        /// <summary>How long a call made while reconnecting waits for the connection (default 10 s;
        /// <see cref="TimeSpan.Zero"/>: fail at once with <c>reconnecting</c>).</summary>
        public TimeSpan? CallWait { get; set; }
        /// <summary>Spawned CLI: at most this many restarts within <see cref="RestartWindow"/>
        /// (default 5), then the client gives up (<c>reconnect_failed</c>).</summary>
        public int? MaxRestarts { get; set; }
        /// <summary>The window of <see cref="MaxRestarts"/> (default 60 s).</summary>
        public TimeSpan? RestartWindow { get; set; }

        public ReconnectPolicy() { Enabled = true; }

        /// <summary>No reconnection: a lost connection stops the client for good (calls fail with
        /// the connection's error until <see cref="CopilotClient.StartAsync"/>).</summary>
        public static ReconnectPolicy Disabled { get { return new ReconnectPolicy { Enabled = false }; } }

        /// <summary><c>{enabled, maxAttempts, initialDelay, maxDelay, callWait, maxRestarts,
        /// restartWindow}</c> with the durations in seconds (the fields that are set).</summary>
        public JsonData ToJson()
        {
            var o = JsonData.Object().Set("enabled", Enabled);
            if (MaxAttempts.HasValue) o.Set("maxAttempts", MaxAttempts.Value);
            if (InitialDelay.HasValue) o.Set("initialDelay", Durations.Seconds(InitialDelay.Value));
            if (MaxDelay.HasValue) o.Set("maxDelay", Durations.Seconds(MaxDelay.Value));
            if (CallWait.HasValue) o.Set("callWait", Durations.Seconds(CallWait.Value));
            if (MaxRestarts.HasValue) o.Set("maxRestarts", MaxRestarts.Value);
            if (RestartWindow.HasValue) o.Set("restartWindow", Durations.Seconds(RestartWindow.Value));
            return o;
        }
    }

    /// <summary>A BYOK model provider (<c>{type, baseUrl, apiKey, ...}</c>).</summary>
    public sealed class ProviderConfig
    {
        /// <summary><c>openai</c>, <c>azure</c>, <c>anthropic</c>, ...</summary>
        public string Type { get; set; }
        public string BaseUrl { get; set; }
        public string ApiKey { get; set; }
        public string BearerToken { get; set; }
        /// <summary><c>completions</c> or <c>responses</c> (OpenAI).</summary>
        public string WireApi { get; set; }
        /// <summary>Other provider fields, sent as is.</summary>
        public JsonData Extra { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (Extra != null) foreach (var kv in Extra.Properties) o.Set(kv.Key, kv.Value);
            o.SetIfNotNull("type", Type);
            o.SetIfNotNull("baseUrl", BaseUrl);
            o.SetIfNotNull("apiKey", ApiKey);
            o.SetIfNotNull("bearerToken", BearerToken);
            o.SetIfNotNull("wireApi", WireApi);
            return o;
        }
    }

    /// <summary>How the system prompt is changed: <c>append</c>, <c>replace</c> or <c>customize</c>.</summary>
    public sealed class SystemMessageConfig
    {
        public string Mode { get; set; }
        public string Content { get; set; }
        /// <summary>For <c>customize</c>: <c>{sectionName: {action, content?}}</c>.</summary>
        public JsonData Sections { get; set; }

        /// <summary>The content alone when neither Mode nor Sections is set (the core reads it as
        /// <c>append</c>); otherwise the object with the fields that are set.</summary>
        public JsonData ToJson()
        {
            if (Mode == null && Sections == null) return Content;
            var o = JsonData.Object();
            o.SetIfNotNull("mode", Mode);
            o.SetIfNotNull("content", Content);
            o.SetIfNotNull("sections", Sections);
            return o;
        }
    }

    /// <summary>Everything a session is created or resumed with.</summary>
    public sealed class SessionConfig
    {
        /// <summary>Client-chosen id (a UUID is generated when unset).</summary>
        public string SessionId { get; set; }
        public string Model { get; set; }
        /// <summary><c>low</c>, <c>medium</c>, <c>high</c>, <c>xhigh</c>, ...</summary>
        public string ReasoningEffort { get; set; }
        /// <summary>A BYOK provider.</summary>
        public ProviderConfig Provider { get; set; }
        /// <summary>Client-side tools the model may call.</summary>
        public IList<CopilotTool> Tools { get; set; }
        public SystemMessageConfig SystemMessage { get; set; }
        public IList<string> AvailableTools { get; set; }
        public IList<string> ExcludedTools { get; set; }
        /// <summary><c>{name: serverConfig}</c>.</summary>
        public JsonData McpServers { get; set; }
        /// <summary>An array of agent objects.</summary>
        public JsonData CustomAgents { get; set; }
        public string WorkingDirectory { get; set; }
        /// <summary>Stream <c>assistant.message_delta</c> events.</summary>
        public bool? Streaming { get; set; }
        /// <summary>Per-session GitHub identity.</summary>
        public string GitHubToken { get; set; }
        /// <summary><c>interactive</c>, <c>plan</c> or <c>autopilot</c>.</summary>
        public string Mode { get; set; }
        /// <summary>Infinite sessions: <c>{enabled, ...}</c>.</summary>
        public JsonData InfiniteSessions { get; set; }
        public string ClientName { get; set; }
        /// <summary>Answers permission prompts. Without it the CLI's default policy applies.</summary>
        public Func<PermissionRequest, Task<PermissionDecision>> OnPermissionRequest { get; set; }
        /// <summary>Answers questions for the user (the <c>ask_user</c> tool).</summary>
        public Func<UserInputRequest, Task<UserInputResponse>> OnUserInputRequest { get; set; }
        /// <summary>The official two-argument form of <see cref="OnPermissionRequest"/>:
        /// <c>(request, invocation)</c>, where <see cref="PermissionInvocation.SessionId"/> is this
        /// session's id. Set one of the two, not both (the session refuses that with an
        /// ArgumentException).</summary>
        public Func<PermissionRequest, PermissionInvocation, Task<PermissionDecision>> OnPermissionRequestWithInvocation { get; set; }
        /// <summary>The official two-argument form of <see cref="OnUserInputRequest"/>:
        /// <c>(request, invocation)</c>, where <see cref="UserInputInvocation.SessionId"/> is this
        /// session's id. Set one of the two, not both.</summary>
        public Func<UserInputRequest, UserInputInvocation, Task<UserInputResponse>> OnUserInputRequestWithInvocation { get; set; }
        /// <summary>Hook handlers by hook type (<c>preToolUse</c>, <c>postToolUse</c>,
        /// <c>userPromptSubmitted</c>, <c>sessionStart</c>, <c>sessionEnd</c>, <c>agentStop</c>, ...), in
        /// any spelling (<c>PreToolUse</c>, <c>on_pre_tool_use</c>): the library names each hook
        /// request by the key it was registered under. Only these hook types reach this client
        /// (unless <see cref="OnHook"/> is set: it takes the other types). A handler returns the
        /// hook output, or null. The official typed form, <see cref="SessionHooks"/>
        /// (<c>new SessionHooks { OnPreToolUse = ... }</c>), is such a dictionary.</summary>
        public IDictionary<string, Func<HookInvocation, Task<JsonData>>> Hooks { get; set; }
        /// <summary>Every hook type that <see cref="Hooks"/> does not name: return the hook output, or null.</summary>
        public Func<HookInvocation, Task<JsonData>> OnHook { get; set; }
        /// <summary><c>systemMessage.transform</c> (sections configured with action <c>transform</c>):
        /// return <c>{sections: {id: {content}}}</c> or the sections object itself (a section as
        /// <c>{content}</c> or a string); sections left out, or null, stay unchanged.</summary>
        public Func<SystemMessageTransformRequest, Task<JsonData>> OnSystemMessageTransform { get; set; }
        /// <summary><c>exitPlanMode.request</c>. Null approves.</summary>
        public Func<ExitPlanModeRequest, Task<ExitPlanModeResponse>> OnExitPlanMode { get; set; }
        /// <summary>Provider bearer token, asked before each model request: return the token.</summary>
        public Func<ProviderTokenRequest, Task<string>> OnProviderToken { get; set; }
        /// <summary><c>autoModeSwitch.request</c>: one of <see cref="AutoModeSwitchResponse"/>'s answers.</summary>
        public Func<AutoModeSwitchRequest, Task<string>> OnAutoModeSwitch { get; set; }
        /// <summary>The official two-argument form of <see cref="OnAutoModeSwitch"/>: <c>(request,
        /// invocation)</c>. Set one of the two, not both.</summary>
        public Func<AutoModeSwitchRequest, AutoModeSwitchInvocation, Task<string>> OnAutoModeSwitchRequest { get; set; }
        /// <summary>UI elicitation (<c>elicitation.requested</c>): show the form, return the user's
        /// answer (null or an exception: cancel). Setting it gives the session the elicitation
        /// capability, so <see cref="CopilotSession.Ui"/> works.</summary>
        public Func<ElicitationContext, Task<ElicitationResult>> OnElicitationRequest { get; set; }
        /// <summary>Slash commands this host registers (each with its handler).</summary>
        public IList<CommandDefinition> Commands { get; set; }
        /// <summary>MCP OAuth (<c>mcp.oauth_required</c>): return a token, or
        /// <see cref="McpAuthResult.Cancel"/> / null.</summary>
        public Func<McpAuthRequest, Task<McpAuthResult>> OnMcpAuthRequest { get; set; }
        /// <summary>The session's filesystem provider, made once per session before it is created
        /// (required when the client has <see cref="CopilotClientOptions.SessionFs"/>).</summary>
        public Func<CopilotSession, ISessionFsProvider> CreateSessionFsProvider { get; set; }
        /// <summary>Supplies the session's GitHub token: asked on create / resume (reason
        /// <c>initial</c>) and again when the CLI reports an authentication error (<c>refresh</c>).
        /// Not together with <see cref="GitHubToken"/> or a BYOK <see cref="Provider"/>.</summary>
        public Func<GitHubTokenProviderArgs, Task<GitHubTokenProviderResult>> GitHubTokenProvider { get; set; }
        /// <summary>W3C trace context sent with create / resume (else the client's
        /// OnGetTraceContext, then <see cref="TraceContext.Current"/>).</summary>
        public string Traceparent { get; set; }
        public string Tracestate { get; set; }
        /// <summary>Receives every event from the very first one (registered before the session
        /// exists on the server, so <c>session.start</c> is seen).</summary>
        public Action<SessionEvent> OnEvent { get; set; }
        /// <summary>Any other <c>session.create</c> field, sent as is (wins on conflict).</summary>
        public JsonData Extra { get; set; }

        /// <summary>The JSON form read by the core (SessionConfig::from_json); handlers are not JSON.</summary>
        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("sessionId", SessionId);
            o.SetIfNotNull("model", Model);
            o.SetIfNotNull("reasoningEffort", ReasoningEffort);
            if (Provider != null) o.Set("provider", Provider.ToJson());
            if (Tools != null && Tools.Count > 0)
            {
                var a = JsonData.Array();
                foreach (var t in Tools) a.Add(t.ToJson());
                o.Set("tools", a);
            }
            if (SystemMessage != null) o.Set("systemMessage", SystemMessage.ToJson());
            if (AvailableTools != null) o.Set("availableTools", JsonData.Array(AvailableTools));
            if (ExcludedTools != null) o.Set("excludedTools", JsonData.Array(ExcludedTools));
            o.SetIfNotNull("mcpServers", McpServers);
            o.SetIfNotNull("customAgents", CustomAgents);
            o.SetIfNotNull("workingDirectory", WorkingDirectory);
            if (Streaming.HasValue) o.Set("streaming", Streaming.Value);
            o.SetIfNotNull("githubToken", GitHubToken);
            o.SetIfNotNull("mode", Mode);
            o.SetIfNotNull("infiniteSessions", InfiniteSessions);
            o.SetIfNotNull("clientName", ClientName);
            if (Commands != null && Commands.Count > 0)
            {
                var a = JsonData.Array();
                foreach (var c in Commands)
                {
                    if (c == null || string.IsNullOrEmpty(c.Name)) throw new ArgumentException("every command needs a Name");
                    a.Add(JsonData.Object().Set("name", c.Name).SetIfNotNull("description", c.Description));
                }
                o.Set("commands", a);
            }
            o.SetIfNotNull("traceparent", Traceparent);
            o.SetIfNotNull("tracestate", Tracestate);
            if (Extra != null) foreach (var kv in Extra.Properties) o.Set(kv.Key, kv.Value);
            return o;
        }
    }

    /// <summary>A prompt and how to send it.</summary>
    public sealed class MessageOptions
    {
        public string Prompt { get; set; }
        /// <summary><c>{type: "file"|"directory"|"selection"|"blob", ...}</c> objects.</summary>
        public IList<JsonData> Attachments { get; set; }
        /// <summary><c>enqueue</c> (default) or <c>immediate</c>.</summary>
        public string Mode { get; set; }
        /// <summary>Per-turn HTTP headers for the model provider.</summary>
        public IDictionary<string, string> RequestHeaders { get; set; }
        /// <summary>How long SendAndWaitAsync waits for <c>session.idle</c> (default 60 s).</summary>
        public TimeSpan? Timeout { get; set; }
        /// <summary>SendAndWaitAsync fails with <c>timeout</c> when the session sends no event for
        /// this long (unset or <see cref="TimeSpan.Zero"/>: off). Every event restarts it, so a long
        /// turn that streams never hits it; pair it with a long <see cref="Timeout"/>.</summary>
        public TimeSpan? IdleTimeout { get; set; }
        /// <summary>Abort the turn when SendAndWaitAsync times out (default: leave it running).</summary>
        public bool AbortOnTimeout { get; set; }
        /// <summary>W3C trace context of this turn (else the client's OnGetTraceContext, then
        /// <see cref="TraceContext.Current"/>).</summary>
        public string Traceparent { get; set; }
        public string Tracestate { get; set; }
        /// <summary>Any other <c>session.send</c> field.</summary>
        public JsonData Extra { get; set; }

        public MessageOptions() { }
        public MessageOptions(string prompt) { Prompt = prompt; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (Extra != null) foreach (var kv in Extra.Properties) o.Set(kv.Key, kv.Value);
            o.Set("prompt", Prompt ?? "");
            if (Attachments != null && Attachments.Count > 0)
            {
                var a = JsonData.Array();
                foreach (var x in Attachments) a.Add(x);
                o.Set("attachments", a);
            }
            o.SetIfNotNull("mode", Mode);
            if (RequestHeaders != null)
            {
                var h = JsonData.Object();
                foreach (var kv in RequestHeaders) h.Set(kv.Key, kv.Value);
                o.Set("requestHeaders", h);
            }
            if (Timeout.HasValue) o.Set("timeout", Durations.Seconds(Timeout.Value));
            if (IdleTimeout.HasValue) o.Set("idleTimeout", Durations.Seconds(IdleTimeout.Value));
            if (AbortOnTimeout) o.Set("abortOnTimeout", true);
            o.SetIfNotNull("traceparent", Traceparent);
            o.SetIfNotNull("tracestate", Tracestate);
            return o;
        }
    }

    /// <summary>One session event as the CLI sent it. Nothing is dropped: <see cref="Json"/> is
    /// the whole envelope, <see cref="Data"/> the payload. An event of a type the schema knows is an
    /// instance of its generated class (<c>switch (evt) { case AssistantMessageEvent m: ... m.Data.Content }</c>,
    /// whose <c>Data</c> is typed); a type newer than the schema stays a plain SessionEvent.</summary>
    public class SessionEvent
    {
        internal SessionEvent() { }
        public string Id { get; private set; }
        public string Timestamp { get; private set; }
        /// <summary><see cref="Timestamp"/> parsed (null when absent or unreadable).</summary>
        public DateTimeOffset? Time
        {
            get
            {
                DateTimeOffset t;
                return DateTimeOffset.TryParse(Timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t) ? (DateTimeOffset?)t : null;
            }
        }
        public string ParentId { get; private set; }
        /// <summary>The event type (<c>assistant.message</c>, <c>session.idle</c>, ...; see <see cref="SessionEventTypes"/>).</summary>
        public string Type { get; private set; }
        /// <summary>The untyped payload (the generated subclasses hide it with a typed <c>Data</c>).</summary>
        public SessionEventData Data { get; private set; }
        /// <summary>Transient events are never returned by GetMessagesAsync.</summary>
        public bool Ephemeral { get; private set; }
        /// <summary>Set on sub-agent events.</summary>
        public string AgentId { get; private set; }
        /// <summary>The whole wire envelope.</summary>
        public JsonData Json { get; private set; }
        /// <summary>False for an event type the schema does not know (a plain SessionEvent).</summary>
        public bool IsKnownType { get { return GetType() != typeof(SessionEvent); } }

        /// <summary>Decodes the typed data (strict mode; nothing for an unknown type).</summary>
        internal virtual void DecodeData() { }

        public static SessionEvent FromJson(JsonData j)
        {
            var type = j["type"].AsString("");
            var e = SessionEventTypes.Create(type) ?? new SessionEvent();
            e.Id = j["id"].AsString("");
            e.Timestamp = j["timestamp"].AsString("");
            e.ParentId = j["parentId"].AsString();
            e.Type = type;
            e.Data = new SessionEventData(j["data"]);
            e.Ephemeral = j["ephemeral"].AsBool();
            e.AgentId = j["agentId"].AsString();
            e.Json = j;
            if (Protocol.StrictTypes.Enabled) Protocol.StrictTypes.Event(e);
            return e;
        }

        public override string ToString() { return Json.ToJson(); }
    }

    /// <summary>The payload of an event, with the common fields typed; anything else through the
    /// indexer or <see cref="Json"/>.</summary>
    public sealed class SessionEventData
    {
        public JsonData Json { get; private set; }
        public SessionEventData(JsonData json) { Json = json ?? JsonData.Null; }

        public JsonData this[string key] { get { return Json[key]; } }
        /// <summary><c>assistant.message</c> / <c>user.message</c> text.</summary>
        public string Content { get { return Json["content"].AsString(); } }
        public string MessageId { get { return Json["messageId"].AsString(); } }
        /// <summary><c>assistant.message_delta</c> text.</summary>
        public string DeltaContent { get { return Json["deltaContent"].AsString(); } }
        public string ToolName { get { return Json["toolName"].AsString(); } }
        public string ToolCallId { get { return Json["toolCallId"].AsString(); } }
        /// <summary><c>tool.execution_complete</c>: whether the tool succeeded.</summary>
        public bool? Success { get { return Json["success"].AsNullableBool(); } }
        /// <summary><c>session.idle</c>: whether the turn was aborted.</summary>
        public bool Aborted { get { return Json["aborted"].AsBool(); } }
        /// <summary><c>session.error</c> message.</summary>
        public string Message { get { return Json["message"].AsString(); } }
        public string ErrorType { get { return Json["errorType"].AsString(); } }
        public override string ToString() { return Json.ToJson(); }
    }

    /// <summary>A <c>session.lifecycle</c> notification (created, deleted, updated, ...), or one
    /// of the client's connection events (<see cref="ConnectionEvents"/>).</summary>
    public sealed class SessionLifecycleEvent
    {
        /// <summary><c>session.created</c>, <c>session.deleted</c>, <c>session.updated</c>, ...,
        /// or <c>connection.lost</c>, <c>connection.reconnecting</c>, <c>connection.restored</c>,
        /// <c>connection.gave_up</c>.</summary>
        public string Type { get; private set; }
        /// <summary>The session concerned ("" for the connection events).</summary>
        public string SessionId { get; private set; }
        /// <summary>The details: for the connection events, the fields listed in
        /// <see cref="ConnectionEvents"/> (JSON null when the notification has none).</summary>
        public JsonData Metadata { get; private set; }
        public JsonData Json { get; private set; }

        public static SessionLifecycleEvent FromJson(JsonData j)
        {
            return new SessionLifecycleEvent { Type = j["type"].AsString(""), SessionId = j["sessionId"].AsString(""), Metadata = j["metadata"], Json = j };
        }
    }

    /// <summary>The lifecycle event types of the client's connection (delivered to
    /// <see cref="CopilotClient.On(System.Action{SessionLifecycleEvent})"/> like the session
    /// lifecycle events, with <c>SessionId</c> "" and the details in <c>Metadata</c>).</summary>
    public static class ConnectionEvents
    {
        /// <summary>The connection was lost: <c>{error, code}</c> (<c>transport_closed</c>, or
        /// <c>timeout</c> when the heartbeat declared the CLI dead).</summary>
        public const string Lost = "connection.lost";
        /// <summary>One attempt is about to be made: <c>{attempt, maxAttempts, delayMs, error, code}</c>.</summary>
        public const string Reconnecting = "connection.reconnecting";
        /// <summary>Connected again and sessions resumed: <c>{attempts, downtimeMs, restarted,
        /// sessionsResumed, sessionsLost}</c>.</summary>
        public const string Restored = "connection.restored";
        /// <summary>The client gave up: <c>{error, code, attempts}</c>; calls fail with
        /// <c>reconnect_failed</c> (or the connection's error when reconnection is off) until
        /// StartAsync.</summary>
        public const string GaveUp = "connection.gave_up";

        /// <summary>The four types, for <see cref="CopilotClient.On(System.Collections.Generic.IEnumerable{string}, System.Action{SessionLifecycleEvent})"/>.</summary>
        public static readonly string[] All = { Lost, Reconnecting, Restored, GaveUp };
    }

    /// <summary>One stored session (<c>session.list</c>, <c>sessions.getMetadata</c>).</summary>
    public sealed class SessionMetadata
    {
        public string SessionId { get; private set; }
        /// <summary>ISO-8601 start time.</summary>
        public string StartTime { get; private set; }
        public string ModifiedTime { get; private set; }
        /// <summary>Same as <see cref="StartTime"/> (the backend-services guide reads createdAt).</summary>
        public string CreatedAt { get; private set; }
        public string Summary { get; private set; }
        public bool IsRemote { get; private set; }
        public JsonData Context { get; private set; }
        public JsonData Json { get; private set; }

        /// <summary><see cref="CreatedAt"/> parsed (DateTimeOffset.MinValue when absent).</summary>
        public DateTimeOffset CreatedAtTime
        {
            get
            {
                DateTimeOffset t;
                return DateTimeOffset.TryParse(CreatedAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t) ? t : DateTimeOffset.MinValue;
            }
        }

        /// <summary><see cref="StartTime"/> parsed (null when absent or unreadable).</summary>
        public DateTimeOffset? StartedAt { get { return Parse(StartTime); } }
        /// <summary><see cref="ModifiedTime"/> parsed (null when absent or unreadable).</summary>
        public DateTimeOffset? ModifiedAt { get { return Parse(ModifiedTime); } }

        static DateTimeOffset? Parse(string s)
        {
            DateTimeOffset t;
            return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t) ? (DateTimeOffset?)t : null;
        }

        public static SessionMetadata FromJson(JsonData j)
        {
            var start = j["startTime"].AsString("");
            return new SessionMetadata
            {
                SessionId = j["sessionId"].AsString(""),
                StartTime = start,
                ModifiedTime = j["modifiedTime"].AsString(""),
                CreatedAt = j["createdAt"].AsString(start),
                Summary = j["summary"].AsString(),
                IsRemote = j["isRemote"].AsBool(),
                Context = j["context"],
                Json = j,
            };
        }
    }

    /// <summary>Filter for ListSessionsAsync.</summary>
    public sealed class SessionListFilter
    {
        public string Cwd { get; set; }
        public string GitRoot { get; set; }
        public string Repository { get; set; }
        public string Branch { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("cwd", Cwd);
            o.SetIfNotNull("gitRoot", GitRoot);
            o.SetIfNotNull("repository", Repository);
            o.SetIfNotNull("branch", Branch);
            return o;
        }
    }

    /// <summary><c>ping</c> result.</summary>
    public sealed class PingResponse
    {
        public string Message { get; private set; }
        public string Timestamp { get; private set; }
        public int? ProtocolVersion { get; private set; }
        public JsonData Json { get; private set; }

        public static PingResponse FromJson(JsonData j)
        {
            var pv = j["protocolVersion"].AsNullableLong();
            return new PingResponse { Message = j["message"].AsString(""), Timestamp = j["timestamp"].AsString(""), ProtocolVersion = pv.HasValue ? (int?)pv.Value : null, Json = j };
        }
    }

    /// <summary><c>status.get</c> result.</summary>
    public sealed class GetStatusResponse
    {
        /// <summary>The CLI version.</summary>
        public string Version { get; private set; }
        public int? ProtocolVersion { get; private set; }
        public JsonData Json { get; private set; }

        public static GetStatusResponse FromJson(JsonData j)
        {
            var pv = j["protocolVersion"].AsNullableLong();
            return new GetStatusResponse { Version = j["version"].AsString(""), ProtocolVersion = pv.HasValue ? (int?)pv.Value : null, Json = j };
        }
    }

    /// <summary><c>auth.getStatus</c> result.</summary>
    public sealed class GetAuthStatusResponse
    {
        public bool IsAuthenticated { get; private set; }
        public string AuthType { get; private set; }
        public string Host { get; private set; }
        public string Login { get; private set; }
        public string StatusMessage { get; private set; }
        public JsonData Json { get; private set; }

        public static GetAuthStatusResponse FromJson(JsonData j)
        {
            return new GetAuthStatusResponse
            {
                IsAuthenticated = j["isAuthenticated"].AsBool(),
                AuthType = j["authType"].AsString(),
                Host = j["host"].AsString(),
                Login = j["login"].AsString(),
                StatusMessage = j["statusMessage"].AsString(),
                Json = j,
            };
        }
    }
}
