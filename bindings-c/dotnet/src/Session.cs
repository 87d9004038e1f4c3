// CopilotSession: one conversation on the CLI, over libcopilot's CopilotSession handle. Events
// reach .NET through the library's subscriptions (the core filters them by type) and handler
// requests (tools, permissions, user input, hooks, ...) through one request callback; the
// user_data of each is an integer id.

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Interop;

namespace GitHub.Copilot.SDK
{
    /// <summary>What opens sessions: a <see cref="CopilotClient"/> or a <see cref="CopilotPool"/>.</summary>
    internal interface ISessionOwner
    {
        /// <summary>Keeps a session being opened (freed with the owner).</summary>
        void Track(CopilotSession s);
        /// <summary>Drops a freed session.</summary>
        void Forget(CopilotSession s);
    }

    /// <summary>
    /// A session. Event handlers (<see cref="On(Action{SessionEvent})"/>, <see cref="SessionConfig.OnEvent"/>)
    /// run on the SDK's callback thread, in wire order; the completion of SendAndWaitAsync comes
    /// through that same thread after the turn's events, so when it returns the handlers have
    /// seen them. Keep handlers short and never block on an SDK call inside one. Tool,
    /// permission, user-input and hook handlers run on the thread pool and may take as long as
    /// they need; the request's <see cref="HostRequest.CancellationToken"/> is cancelled when the
    /// answer is no longer wanted (abort, timeout with abort, disconnect, stop, lost connection).
    /// Dispose with <see cref="DisposeAsync"/> (<c>await using</c>) to detach from the session; it
    /// stays on disk and can be resumed.
    /// </summary>
    public sealed class CopilotSession : IDisposable, IAsyncDisposable
    {
        static long _nextId;
        static readonly ConcurrentDictionary<long, CopilotSession> Live = new ConcurrentDictionary<long, CopilotSession>();
        internal static readonly CopilotEventCallback EventCallback = OnEventNative;
        internal static readonly CopilotRequestCallback RequestCallback = OnRequestNative;

        readonly ISessionOwner _owner;
        readonly SessionConfig _config;
        readonly Dictionary<string, CopilotTool> _tools = new Dictionary<string, CopilotTool>();
        readonly Dictionary<string, CommandDefinition> _commands = new Dictionary<string, CommandDefinition>();
        ISessionFsProvider _fs;
        SessionUi _ui;
        readonly CancellationTokenSource _closing = new CancellationTokenSource();
        readonly EventSubscriptions _subscriptions = new EventSubscriptions(Native.copilot_session_subscribe, Native.copilot_session_unsubscribe);
        NativeHandle _handle;
        JsonData _info = JsonData.Null;

        internal long LocalId { get; private set; }
        internal IntPtr UserData { get { return new IntPtr(LocalId); } }

        internal CopilotSession(ISessionOwner owner, SessionConfig config)
        {
            _owner = owner;
            _config = config;
            LocalId = Interlocked.Increment(ref _nextId);
            SessionId = config != null ? config.SessionId : null;
            if (config != null && config.OnPermissionRequest != null && config.OnPermissionRequestWithInvocation != null)
                throw new ArgumentException("set OnPermissionRequest or OnPermissionRequestWithInvocation, not both");
            if (config != null && config.OnUserInputRequest != null && config.OnUserInputRequestWithInvocation != null)
                throw new ArgumentException("set OnUserInputRequest or OnUserInputRequestWithInvocation, not both");
            if (config != null && config.OnAutoModeSwitch != null && config.OnAutoModeSwitchRequest != null)
                throw new ArgumentException("set OnAutoModeSwitch or OnAutoModeSwitchRequest, not both");
            if (config != null && config.Commands != null)
            {
                foreach (var c in config.Commands)
                {
                    if (c == null || string.IsNullOrEmpty(c.Name)) throw new ArgumentException("every command needs a Name");
                    var n = c.Name.TrimStart('/');
                    if (_commands.ContainsKey(n)) throw new ArgumentException("command `" + n + "` is declared twice");
                    _commands[n] = c;
                }
            }
            if (config != null && config.Tools != null)
            {
                foreach (var t in config.Tools)
                {
                    if (t == null || string.IsNullOrEmpty(t.Name)) throw new ArgumentException("every tool needs a Name");
                    if (_tools.ContainsKey(t.Name)) throw new ArgumentException("tool `" + t.Name + "` is declared twice");
                    _tools[t.Name] = t;
                }
            }
            Live[LocalId] = this;
        }

        /// <summary>The session id.</summary>
        public string SessionId { get; private set; }

        /// <summary>The client this session belongs to (null for a session opened by a pool).</summary>
        public CopilotClient Client { get { return _owner as CopilotClient; } }

        /// <summary>The pool this session belongs to (null for a session opened by a client).</summary>
        public CopilotPool Pool { get { return _owner as CopilotPool; } }

        /// <summary>The fencing token of a pooled session's lease (<see cref="CopilotPoolOptions.Lease"/>):
        /// it grows with every acquisition of the session's lease, by any instance, so a store the
        /// application writes to can refuse a holder whose lease has passed on. Null without a lease.</summary>
        public ulong? LeaseToken
        {
            get
            {
                var h = _handle;
                if (h == null || h.IsClosed) return null;
                ulong t = 0;
                h.UseIfOpen(p => t = Native.copilot_session_lease_token(p));
                return t == 0 ? (ulong?)null : t;
            }
        }

        /// <summary>The URL of the pool server the session is on now (null outside a pool). It
        /// changes when the session moves (failover, drain, return of its preferred server).</summary>
        public string Server
        {
            get
            {
                var h = _handle;
                if (h == null || h.IsClosed) return null;
                string u = null;
                h.UseIfOpen(p => u = Native.TakeString(Native.copilot_session_server(p)));
                return u;
            }
        }

        /// <summary>Opens (create, or resume when <paramref name="resumeId"/> is set) a session
        /// through its owner's handle: one code path for clients and pools.</summary>
        internal static async Task<CopilotSession> OpenAsync(ISessionOwner owner, NativeHandle ownerHandle,
            OpenSessionNative open, string resumeId, SessionConfig config, CancellationToken ct)
        {
            var session = new CopilotSession(owner, config ?? (resumeId == null ? new SessionConfig() : null));
            try
            {
                // The provider exists before the create call: the CLI may write session state during it.
                if (session._config != null && session._config.CreateSessionFsProvider != null)
                {
                    session._fs = session._config.CreateSessionFsProvider(session);
                    if (session._fs == null) throw new InvalidConfigException(ErrorCodes.InvalidConfig, 16, "CreateSessionFsProvider returned no provider");
                }
                var json = session._config != null ? session.ConfigJson() : null;
                var cfg = Native.Utf8(json != null ? json.ToJson() : null);
                var id = Native.Utf8(resumeId);
                var sud = session.UserData;
                var onEvent = session.OnEventCallback;
                var onRequest = session.ServesRequests ? RequestCallback : null;
                owner.Track(session);
                var info = await Calls.Start(ownerHandle, (IntPtr h, IntPtr ud, out ulong c) =>
                {
                    IntPtr sh;
                    int st = open(h, id, cfg, onEvent, onRequest, sud, Calls.Completion, ud, out sh, out c);
                    if (sh != IntPtr.Zero) session.Attach(sh);
                    return st;
                }, ct).ConfigureAwait(false);
                session.Opened(info);
                return session;
            }
            catch (Exception)
            {
                // Frees the native session (closed by the library when the open failed) and
                // forgets it in its owner.
                session.FreeNative();
                throw;
            }
        }

        /// <summary>The <c>session.create</c> / <c>session.resume</c> result (workspacePath, capabilities, ...).</summary>
        public JsonData Info { get { return _info; } }

        /// <summary>The session's workspace folder on the CLI's machine.</summary>
        public string WorkspacePath { get { return _info["workspacePath"].AsString(); } }

        /// <summary>The config JSON with the ABI's <c>handlers</c> (the kinds this session answers),
        /// <c>hooks</c> (the hook types <see cref="SessionConfig.Hooks"/> names, as it spells them) and <c>toolHandlers</c>
        /// (the tools with a handler; the others are only declared).</summary>
        internal JsonData ConfigJson()
        {
            var j = _config.ToJson();
            PutTraceContext(j);
            var kinds = Kinds.Where(k => k.Handled(_config)).Select(k => k.Name).ToList();
            if (kinds.Count > 0) j.Set("handlers", JsonData.Array(kinds));
            if (_config.Hooks != null && _config.Hooks.Count > 0) j.Set("hooks", JsonData.Array(_config.Hooks.Keys));
            if (_tools.Count > 0) j.Set("toolHandlers", JsonData.Array(_tools.Values.Where(t => t.Handler != null).Select(t => t.Name)));
            return j;
        }

        /// <summary>False when nothing needs the request callback.</summary>
        internal bool ServesRequests
        {
            get
            {
                if (_config == null) return false;
                return _tools.Values.Any(t => t.Handler != null) || Kinds.Any(k => k.Handled(_config))
                    || (_config.Hooks != null && _config.Hooks.Count > 0);
            }
        }

        /// <summary>The session's own event callback: only for <see cref="SessionConfig.OnEvent"/>
        /// (it sees the events from the first one, before the create call returns).</summary>
        internal CopilotEventCallback OnEventCallback
        {
            get { return _config != null && _config.OnEvent != null ? EventCallback : null; }
        }

        internal void Attach(IntPtr h)
        {
            _handle = new NativeHandle(h, Native.copilot_session_free, "CopilotSession");
        }

        internal void Opened(JsonData info)
        {
            _info = info ?? JsonData.Null;
            var id = _info["sessionId"].AsString();
            if (id == null && _handle != null) id = _handle.Use(h => Native.TakeString(Native.copilot_session_id(h)));
            if (id != null) SessionId = id;
        }

        NativeHandle Handle
        {
            get
            {
                var h = _handle;
                if (h == null) throw new ObjectDisposedException("CopilotSession");
                return h;
            }
        }

        // ------------------------------------------------------------------ calls

        /// <summary>The message JSON with the trace context when the options carry none.</summary>
        string MessageJson(MessageOptions options)
        {
            var j = options.ToJson();
            PutTraceContext(j);
            return j.ToJson();
        }

        /// <summary>Adds <c>traceparent</c> / <c>tracestate</c> to a create, resume or send JSON that
        /// has none: from the client's OnGetTraceContext, else <see cref="TraceContext.Current"/>.</summary>
        void PutTraceContext(JsonData j)
        {
            if (!j["traceparent"].IsNull) return;
            TraceContext tc = null;
            var client = Client;
            var provider = client != null ? client.Options.OnGetTraceContext : null;
            if (provider != null)
            {
                try { tc = provider(); }
                catch (Exception e) { Trace.TraceError("copilot: OnGetTraceContext threw: " + e); }
            }
            if (tc == null || string.IsNullOrEmpty(tc.Traceparent)) tc = TraceContext.Current;
            if (tc == null || string.IsNullOrEmpty(tc.Traceparent)) return;
            j.Set("traceparent", tc.Traceparent);
            if (!string.IsNullOrEmpty(tc.Tracestate) && j["tracestate"].IsNull) j.Set("tracestate", tc.Tracestate);
        }

        /// <summary>The UI dialogs of this session (<c>session.Ui.ConfirmAsync("Deploy?")</c>).</summary>
        public SessionUi Ui { get { return _ui ?? (_ui = new SessionUi(this)); } }

        /// <summary>What the session's clients can do (the session info's <c>capabilities</c>, as
        /// the library knows it now).</summary>
        public SessionCapabilities Capabilities
        {
            get
            {
                JsonData info = _info;
                var h = _handle;
                if (h != null)
                {
                    string text = null;
                    h.UseIfOpen(p => text = Native.TakeString(Native.copilot_session_info(p)));
                    if (text != null)
                    {
                        // {sessionId, workspacePath, info, ...}: info is the create/resume result, kept current.
                        try
                        {
                            var current = CopilotJson.Parse(text)["info"];
                            if (current.IsObject) info = current;
                        }
                        catch (JsonParseException) { }
                    }
                }
                return new SessionCapabilities(info["capabilities"]);
            }
        }

        /// <summary>One <c>session.ui</c> operation through the core (<c>copilot_session_ui</c>).</summary>
        internal Task<JsonData> UiAsync(string op, JsonData parameters, CancellationToken cancellationToken)
        {
            var o = Native.Utf8(op);
            var p = Native.Utf8(parameters.ToJson());
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_ui(h, o, p, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>Queues a prompt; returns the message id.</summary>
        public async Task<string> SendAsync(MessageOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var m = Native.Utf8(MessageJson(options));
            var r = await Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_send(h, m, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r["messageId"].AsString("");
        }

        /// <summary>Queues a prompt; returns the message id.</summary>
        public Task<string> SendAsync(string prompt, CancellationToken cancellationToken = default(CancellationToken))
        {
            return SendAsync(new MessageOptions { Prompt = prompt }, cancellationToken);
        }

        /// <summary>
        /// Sends a prompt and waits for the turn to end (<c>session.idle</c>). Returns the turn's last
        /// <c>assistant.message</c> event (<c>response?.Data.Content</c> is the answer), or null
        /// when the turn produced none. Throws <see cref="SessionErrorException"/> when the turn
        /// failed, <see cref="CopilotTimeoutException"/> after <see cref="MessageOptions.Timeout"/>
        /// (default 60 s; the turn keeps running unless AbortOnTimeout), and
        /// OperationCanceledException when <paramref name="cancellationToken"/> fires (the turn
        /// keeps running; call AbortAsync to stop it). Concurrent calls queue up.
        /// </summary>
        public async Task<SessionEvent> SendAndWaitAsync(MessageOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var m = Native.Utf8(MessageJson(options));
            var r = await Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_send_and_wait(h, m, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.IsObject ? SessionEvent.FromJson(r) : null;
        }

        /// <summary>SendAndWaitAsync with an explicit timeout (overrides options.Timeout).</summary>
        public Task<SessionEvent> SendAndWaitAsync(MessageOptions options, TimeSpan? timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            if (timeout.HasValue)
            {
                options = new MessageOptions
                {
                    Prompt = options.Prompt,
                    Attachments = options.Attachments,
                    Mode = options.Mode,
                    RequestHeaders = options.RequestHeaders,
                    Timeout = timeout,
                    IdleTimeout = options.IdleTimeout,
                    AbortOnTimeout = options.AbortOnTimeout,
                    Traceparent = options.Traceparent,
                    Tracestate = options.Tracestate,
                    Extra = options.Extra,
                };
            }
            return SendAndWaitAsync(options, cancellationToken);
        }

        /// <summary>SendAndWaitAsync with a plain prompt.</summary>
        public Task<SessionEvent> SendAndWaitAsync(string prompt, CancellationToken cancellationToken = default(CancellationToken))
        {
            return SendAndWaitAsync(new MessageOptions { Prompt = prompt }, cancellationToken);
        }

        /// <summary>Aborts the running turn (fine when idle too).</summary>
        public Task AbortAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_abort(h, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>The persisted events of the session (no ephemeral ones).</summary>
        public async Task<IReadOnlyList<SessionEvent>> GetMessagesAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_get_messages(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.Select(SessionEvent.FromJson).ToList();
        }

        /// <summary>The official SDKs' name of <see cref="GetMessagesAsync"/>: the persisted events
        /// of the session (no ephemeral ones).</summary>
        public Task<IReadOnlyList<SessionEvent>> GetEventsAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return GetMessagesAsync(cancellationToken);
        }

        /// <summary>Switches the model (<c>session.model.switchTo</c>); returns the server's result.</summary>
        public Task<JsonData> SetModelAsync(string model, string reasoningEffort = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (model == null) throw new ArgumentNullException("model");
            var m = Native.Utf8(model);
            var r = Native.Utf8(reasoningEffort);
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_set_model(h, m, r, Calls.Completion, ud, out c), cancellationToken);
        }

        Protocol.SessionRpc _rpc;

        /// <summary>The schema's session-level methods, typed (<c>session.Rpc.Model.SwitchToAsync(...)</c>;
        /// <c>sessionId</c> is added by the core); each goes through <see cref="CallAsync"/>.</summary>
        public Protocol.SessionRpc Rpc
        {
            get { return _rpc ?? (_rpc = new Protocol.SessionRpc((m, p, ct) => RpcAsync(m, p, ct))); }
        }

        /// <summary>Any session-scoped method by name, for methods newer than the schema (same as
        /// <see cref="RpcAsync(string, JsonData, CancellationToken)"/>).</summary>
        public Task<JsonData> CallAsync(string method, JsonData parameters = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return RpcAsync(method, parameters, cancellationToken);
        }

        /// <summary>Any session-scoped method; <c>sessionId</c> is added to the parameters (an object or null).</summary>
        public Task<JsonData> RpcAsync(string method, JsonData parameters = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (method == null) throw new ArgumentNullException("method");
            var m = Native.Utf8(method);
            var p = Native.Utf8(parameters != null ? parameters.ToJson() : null);
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_rpc(h, m, p, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>A session-scoped method with a deadline of its own instead of the client's
        /// RequestTimeout (as <see cref="CopilotClient.RpcAsync(string, JsonData, TimeSpan, CancellationToken)"/>).</summary>
        public Task<JsonData> RpcAsync(string method, JsonData parameters, TimeSpan timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (method == null) throw new ArgumentNullException("method");
            var m = Native.Utf8(method);
            var p = Native.Utf8(parameters != null ? parameters.ToJson() : null);
            var t = Native.Seconds(timeout);
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_rpc_with_timeout(h, m, p, t, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>Detaches this client from the session (<c>session.destroy</c>); the session stays
        /// on disk and can be resumed. Idempotent; later calls on this object fail with
        /// <see cref="SessionNotFoundException"/>.</summary>
        public async Task DisconnectAsync()
        {
            var handle = _handle;
            if (handle == null || handle.IsClosed) return;
            try
            {
                await Calls.Start(handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_disconnect(h, Calls.Completion, ud, out c), CancellationToken.None).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) { }
        }

        /// <summary>Same as <see cref="DisconnectAsync"/> (the official SDKs' name).</summary>
        public Task DestroyAsync() { return DisconnectAsync(); }

        /// <summary>Detaches (errors are swallowed: disposal of a session whose connection is gone
        /// does not throw) and frees the native session. This is what <c>await using</c> calls.</summary>
        public ValueTask DisposeAsync()
        {
            // Not an async ValueTask method: mcs (C# 7.2 on Mono) cannot compile those.
            return new ValueTask(DisposeCoreAsync());
        }

        async Task DisposeCoreAsync()
        {
            try
            {
                await DisconnectAsync().ConfigureAwait(false);
            }
            catch (CopilotException e)
            {
                Trace.TraceInformation("copilot: detaching session " + SessionId + " failed: " + e.Message);
            }
            FreeNative();
        }

        /// <summary>Frees the native session at once (it is detached in the background).</summary>
        public void Dispose() { FreeNative(); }

        internal void FreeNative()
        {
            CopilotSession ignored;
            _closing.Cancel();
            var h = _handle;
            if (h != null) h.Close();
            Live.TryRemove(LocalId, out ignored);
            _subscriptions.Clear();
            _owner.Forget(this);
        }

        // ------------------------------------------------------------------ events

        /// <summary>Calls <paramref name="handler"/> for every event from now on, in wire order.
        /// Dispose the result to unsubscribe.</summary>
        public IDisposable On(Action<SessionEvent> handler) { return Subscribe(null, handler); }

        /// <summary>Calls <paramref name="handler"/> for every event of one type (<c>assistant.message</c>, ...).</summary>
        public IDisposable On(string eventType, Action<SessionEvent> handler)
        {
            if (eventType == null) throw new ArgumentNullException("eventType");
            return Subscribe(new[] { eventType }, handler);
        }

        /// <summary>Calls <paramref name="handler"/> for every event of these types.</summary>
        public IDisposable On(IEnumerable<string> eventTypes, Action<SessionEvent> handler)
        {
            if (eventTypes == null) throw new ArgumentNullException("eventTypes");
            return Subscribe(eventTypes, handler);
        }

        /// <summary>Calls <paramref name="handler"/> for every event of one generated class
        /// (<c>session.On&lt;AssistantMessageEvent&gt;(m =&gt; ...)</c>); with <c>SessionEvent</c>, every event.</summary>
        public IDisposable On<T>(Action<T> handler) where T : SessionEvent
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return Subscribe(null, e => { var t = e as T; if (t != null) handler(t); });
        }

        IDisposable Subscribe(IEnumerable<string> types, Action<SessionEvent> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return _subscriptions.Subscribe(Handle, types, j => Safe.Invoke(handler, SessionEvent.FromJson(j), "event handler"));
        }

        static void OnEventNative(IntPtr userData, IntPtr json)
        {
            try
            {
                CopilotSession s;
                if (!Live.TryGetValue(userData.ToInt64(), out s)) return;
                Safe.Invoke(s._config.OnEvent, SessionEvent.FromJson(CopilotJson.Parse(Native.FromUtf8(json))), "OnEvent");
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: event callback failed: " + e);
            }
        }

        // ------------------------------------------------------------------ handler requests

        /// <summary>A request kind: whether a config answers it (the ABI's <c>handlers</c>), and
        /// how the .NET handler is called with the core's payload.</summary>
        internal sealed class RequestKind
        {
            public readonly string Name;
            public readonly Func<SessionConfig, bool> Handled;
            /// <summary>Runs the handler with the request's name (tool name or hook key), payload and cancellation.</summary>
            public readonly Func<CopilotSession, string, JsonData, RequestCancellation, Task<JsonData>> Serve;

            public RequestKind(string name, Func<SessionConfig, bool> handled, Func<CopilotSession, string, JsonData, RequestCancellation, Task<JsonData>> serve)
            {
                Name = name;
                Handled = handled;
                Serve = serve;
            }
        }

        /// <summary>One entry per kind of the core (tests/scenarios/request-kinds.json; the
        /// suite checks they agree). Tools are declared by <c>tools</c>; hook types by
        /// <c>hooks</c> (with OnHook, the other types too).</summary>
        internal static readonly RequestKind[] Kinds =
        {
            new RequestKind("tool", c => false, (s, n, p, rc) => s.RunTool(n, p, rc)),
            new RequestKind("permission", c => c.OnPermissionRequest != null || c.OnPermissionRequestWithInvocation != null, async (s, n, p, rc) =>
            {
                var req = new PermissionRequest(p, rc);
                var two = s._config.OnPermissionRequestWithInvocation;
                var d = two != null
                    ? await two(req, new PermissionInvocation { SessionId = s.RequestSessionId(p) }).ConfigureAwait(false)
                    : await s._config.OnPermissionRequest(req).ConfigureAwait(false);
                return d != null ? d.ToJson() : null;
            }),
            new RequestKind("userInput", c => c.OnUserInputRequest != null || c.OnUserInputRequestWithInvocation != null, async (s, n, p, rc) =>
            {
                var req = new UserInputRequest(p, rc);
                var two = s._config.OnUserInputRequestWithInvocation;
                var r = two != null
                    ? await two(req, new UserInputInvocation { SessionId = s.RequestSessionId(p) }).ConfigureAwait(false)
                    : await s._config.OnUserInputRequest(req).ConfigureAwait(false);
                return r != null ? r.ToJson() : null;
            }),
            new RequestKind("hook", c => c.OnHook != null, (s, n, p, rc) => s.RunHook(n, p, rc)),
            new RequestKind("systemMessageTransform", c => c.OnSystemMessageTransform != null,
                (s, n, p, rc) => s._config.OnSystemMessageTransform(new SystemMessageTransformRequest(p, rc))),
            new RequestKind("exitPlanMode", c => c.OnExitPlanMode != null, async (s, n, p, rc) =>
            {
                var r = await s._config.OnExitPlanMode(new ExitPlanModeRequest(p, rc)).ConfigureAwait(false);
                return r != null ? r.ToJson() : null;
            }),
            new RequestKind("providerToken", c => c.OnProviderToken != null, async (s, n, p, rc) =>
                (JsonData)await s._config.OnProviderToken(new ProviderTokenRequest(p, rc)).ConfigureAwait(false)),
            new RequestKind("autoModeSwitch", c => c.OnAutoModeSwitch != null || c.OnAutoModeSwitchRequest != null, async (s, n, p, rc) =>
            {
                var req = new AutoModeSwitchRequest(p, rc);
                var two = s._config.OnAutoModeSwitchRequest;
                return (JsonData)(two != null
                    ? await two(req, new AutoModeSwitchInvocation { SessionId = s.RequestSessionId(p) }).ConfigureAwait(false)
                    : await s._config.OnAutoModeSwitch(req).ConfigureAwait(false));
            }),
            new RequestKind("elicitation", c => c.OnElicitationRequest != null, async (s, n, p, rc) =>
            {
                var r = await s._config.OnElicitationRequest(new ElicitationContext(p, rc)).ConfigureAwait(false);
                return r != null ? r.ToJson() : null;
            }),
            new RequestKind("command", c => c.Commands != null && c.Commands.Count > 0, async (s, n, p, rc) =>
            {
                CommandDefinition cmd;
                var name = (n ?? p["commandName"].AsString() ?? "").TrimStart('/');
                if (!s._commands.TryGetValue(name, out cmd)) throw new InvalidOperationException("Unknown command: " + name);
                if (cmd.Handler != null)
                {
                    var pending = cmd.Handler(new CommandContext(p, rc));
                    if (pending != null) await pending.ConfigureAwait(false);
                }
                return JsonData.Null;
            }),
            new RequestKind("mcpAuth", c => c.OnMcpAuthRequest != null, async (s, n, p, rc) =>
            {
                var r = await s._config.OnMcpAuthRequest(new McpAuthRequest(p, rc)).ConfigureAwait(false);
                return r != null ? r.ToJson() : null;
            }),
            new RequestKind("sessionFs", c => c.CreateSessionFsProvider != null, (s, n, p, rc) => SessionFsDispatch.Serve(s._fs, n, p)),
            new RequestKind("gitHubToken", c => c.GitHubTokenProvider != null, async (s, n, p, rc) =>
            {
                var r = await s._config.GitHubTokenProvider(new GitHubTokenProviderArgs(p, rc)).ConfigureAwait(false);
                return r != null ? r.ToJson() : null;
            }),
        };

        /// <summary>The session id a handler's invocation carries: this session's, else the payload's.</summary>
        string RequestSessionId(JsonData payload)
        {
            return SessionId ?? payload["sessionId"].AsString();
        }

        /// <summary>The library's second call for a pending request: its answer is no longer wanted.</summary>
        internal const string CancelKind = "cancel";

        /// <summary>The cancellation of every request whose handler is running, by request id (the
        /// library's ids are unique in the process).</summary>
        static readonly ConcurrentDictionary<ulong, RequestCancellation> Running = new ConcurrentDictionary<ulong, RequestCancellation>();

        /// <summary>Number of requests whose handler has not finished (for tests).</summary>
        internal static int RunningRequestCount { get { return Running.Count; } }

        static void OnRequestNative(IntPtr userData, ulong requestId, IntPtr kindPtr, IntPtr payloadPtr)
        {
            try
            {
                var kind = Native.FromUtf8(kindPtr);
                var payload = CopilotJson.Parse(Native.FromUtf8(payloadPtr) ?? "null");
                if (kind == CancelKind)
                {
                    // Same request id, after the request, in order: cancel the running handler. The
                    // token fires on the thread pool, so no user callback runs on this thread.
                    RequestCancellation rc;
                    if (Running.TryGetValue(requestId, out rc))
                    {
                        var reason = payload["reason"].AsString("cancelled");
                        Task.Run(() => rc.Cancel(reason));
                    }
                    return;
                }
                IntPtr namePtr;
                Native.copilot_request_name(requestId, out namePtr);
                var name = Native.TakeString(namePtr);
                CopilotSession s;
                if (!Live.TryGetValue(userData.ToInt64(), out s))
                {
                    Native.copilot_request_fail(requestId, Native.Utf8("the session was disposed"));
                    return;
                }
                // Registered before the handler starts, so that a "cancel" that follows finds it.
                var cancellation = new RequestCancellation(s._closing.Token);
                Running[requestId] = cancellation;
                // Host handlers run on the thread pool, never on the library's callback thread.
                Task.Run(() => s.Serve(requestId, kind, name, payload, cancellation));
            }
            catch (Exception e)
            {
                try { Native.copilot_request_fail(requestId, Native.Utf8("the .NET request callback failed: " + e.Message)); }
                catch (Exception) { }
            }
        }

        async Task Serve(ulong requestId, string kind, string name, JsonData payload, RequestCancellation cancellation)
        {
            try
            {
                JsonData answer;
                try
                {
                    var k = Kinds.FirstOrDefault(x => x.Name == kind);
                    if (k == null) throw new InvalidOperationException("no .NET handler for requests of kind `" + kind + "`");
                    answer = await k.Serve(this, name, payload, cancellation).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    var inner = e;
                    while (inner is AggregateException && inner.InnerException != null) inner = inner.InnerException;
                    Reply(requestId, null, inner.Message ?? inner.GetType().Name);
                    return;
                }
                Reply(requestId, answer ?? JsonData.Null, null);
            }
            finally
            {
                // A reply after cancellation is refused with UNKNOWN_ID (ignored in Reply).
                RequestCancellation ignored;
                Running.TryRemove(requestId, out ignored);
                cancellation.Dispose();
            }
        }

        static void Reply(ulong requestId, JsonData answer, string failure)
        {
            try
            {
                int st = failure != null
                    ? Native.copilot_request_fail(requestId, Native.Utf8(failure))
                    : Native.copilot_request_reply(requestId, Native.Utf8(answer.ToJson()));
                // UNKNOWN_ID: the request is no longer pending: cancelled by the core (which
                // answered the CLI itself), or answered as failed (session or client freed).
                if (st != Native.Ok && st != Native.ErrUnknownId)
                    Trace.TraceError("copilot: answering request " + requestId + " failed: " + Calls.LastError(st).Message);
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: answering request " + requestId + " failed: " + e);
            }
        }

        async Task<JsonData> RunTool(string name, JsonData payload, RequestCancellation cancellation)
        {
            CopilotTool tool;
            if (!_tools.TryGetValue(name ?? "", out tool) || tool.Handler == null)
                throw new InvalidOperationException("no .NET handler for tool `" + name + "`");
            var inv = new ToolInvocation(payload, cancellation);
            object result;
            // The handler runs in the call's trace context (the CLI's span is its parent).
            using (inv.Traceparent != null ? TraceContext.Use(new TraceContext(inv.Traceparent, inv.Tracestate)) : null)
            {
                result = await tool.Handler(inv).ConfigureAwait(false);
            }
            var full = result as ToolResult;
            return full != null ? full.ToJson() : CopilotJson.FromObject(result);
        }

        /// <summary>Picks the hook handler by the request's name: the <see cref="SessionConfig.Hooks"/>
        /// key it was registered under, or the CLI's spelling for a type only OnHook takes.</summary>
        Task<JsonData> RunHook(string name, JsonData payload, RequestCancellation cancellation)
        {
            Func<HookInvocation, Task<JsonData>> handler = null;
            if (_config.Hooks == null || !_config.Hooks.TryGetValue(name ?? "", out handler)) handler = _config.OnHook;
            if (handler == null) throw new InvalidOperationException("no .NET handler for hook `" + name + "`");
            return handler(new HookInvocation(payload, cancellation));
        }
    }
}
