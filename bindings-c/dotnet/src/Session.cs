// CopilotSession: one conversation on the CLI, over libcopilot's CopilotSession handle. Events
// and handler requests (tools, permissions, user input, hooks, ...) arrive through two static
// callbacks whose user_data is the session's integer id.

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
    /// <summary>
    /// A session. Event handlers (<see cref="On(Action{SessionEvent})"/>) run on the SDK's callback
    /// thread, in wire order, before SendAndWaitAsync of the same turn completes: keep them short
    /// and never block on an SDK call inside one. Tool, permission, user-input and hook handlers
    /// run on the thread pool and may take as long as they need.
    /// Dispose with <see cref="DisposeAsync"/> (<c>await using</c>) to detach from the session;
    /// it stays on disk and can be resumed.
    /// </summary>
    public sealed class CopilotSession : IDisposable, IAsyncDisposable
    {
        static long _nextId;
        static readonly ConcurrentDictionary<long, CopilotSession> Live = new ConcurrentDictionary<long, CopilotSession>();
        internal static readonly CopilotEventCallback EventCallback = OnEventNative;
        internal static readonly CopilotRequestCallback RequestCallback = OnRequestNative;

        readonly CopilotClient _client;
        readonly SessionConfig _config;
        readonly Dictionary<string, CopilotTool> _tools = new Dictionary<string, CopilotTool>();
        readonly object _subsGate = new object();
        readonly CancellationTokenSource _closing = new CancellationTokenSource();
        sealed class Sub
        {
            public string Type;
            public Action<SessionEvent> Handler;
        }

        Sub[] _subs = new Sub[0];
        NativeHandle _handle;
        volatile bool _detached;
        JsonData _info = JsonData.Null;

        internal long LocalId { get; private set; }
        internal IntPtr UserData { get { return new IntPtr(LocalId); } }

        internal CopilotSession(CopilotClient client, SessionConfig config)
        {
            _client = client;
            _config = config;
            LocalId = Interlocked.Increment(ref _nextId);
            SessionId = config != null ? config.SessionId : null;
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

        /// <summary>The client this session belongs to.</summary>
        public CopilotClient Client { get { return _client; } }

        /// <summary>The <c>session.create</c> / <c>session.resume</c> result (workspacePath, capabilities, ...).</summary>
        public JsonData Info { get { return _info; } }

        /// <summary>The session's workspace folder on the CLI's machine.</summary>
        public string WorkspacePath { get { return _info["workspacePath"].AsString(); } }

        internal JsonData ConfigJson()
        {
            var j = _config.ToJson();
            var kinds = new List<string>();
            if (_config.OnPermissionRequest != null) kinds.Add("permission");
            if (_config.OnUserInputRequest != null) kinds.Add("userInput");
            if (_config.OnHook != null) kinds.Add("hook");
            if (_config.OnSystemMessageTransform != null) kinds.Add("systemMessageTransform");
            if (_config.OnExitPlanMode != null) kinds.Add("exitPlanMode");
            if (_config.OnProviderToken != null) kinds.Add("providerToken");
            if (kinds.Count > 0) j.Set("handlers", JsonData.Array(kinds));
            return j;
        }

        /// <summary>False when nothing needs the request callback: then tools are only declared
        /// (served by another connection), as the ABI does for a NULL request callback.</summary>
        internal bool ServesRequests
        {
            get
            {
                if (_config == null) return false;
                if (_tools.Values.Any(t => t.Handler != null)) return true;
                return _config.OnPermissionRequest != null || _config.OnUserInputRequest != null || _config.OnHook != null
                    || _config.OnSystemMessageTransform != null || _config.OnExitPlanMode != null || _config.OnProviderToken != null;
            }
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

        internal void MarkDetached() { _detached = true; }

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

        /// <summary>Queues a prompt; returns the message id.</summary>
        public async Task<string> SendAsync(MessageOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var m = Native.Utf8(options.ToJson().ToJson());
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
            var m = Native.Utf8(options.ToJson().ToJson());
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
                    AbortOnTimeout = options.AbortOnTimeout,
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

        /// <summary>Switches the model (<c>session.model.switchTo</c>); returns the server's result.</summary>
        public Task<JsonData> SetModelAsync(string model, string reasoningEffort = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (model == null) throw new ArgumentNullException("model");
            var m = Native.Utf8(model);
            var r = Native.Utf8(reasoningEffort);
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_set_model(h, m, r, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>Any session-scoped method; <c>sessionId</c> is added to the parameters (an object or null).</summary>
        public Task<JsonData> RpcAsync(string method, JsonData parameters = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (method == null) throw new ArgumentNullException("method");
            var m = Native.Utf8(method);
            var p = Native.Utf8(parameters != null ? parameters.ToJson() : null);
            return Calls.Start(Handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_session_rpc(h, m, p, Calls.Completion, ud, out c), cancellationToken);
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
            _detached = true;
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
                if (!_detached && !_client.IsClosed) await DisconnectAsync().ConfigureAwait(false);
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
            _client.Forget(this);
        }

        // ------------------------------------------------------------------ events

        /// <summary>Calls <paramref name="handler"/> for every event from now on, in wire order.
        /// Dispose the result to unsubscribe.</summary>
        public IDisposable On(Action<SessionEvent> handler) { return On(null, handler); }

        /// <summary>Calls <paramref name="handler"/> for every event of one type (<c>assistant.message</c>, ...).</summary>
        public IDisposable On(string eventType, Action<SessionEvent> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            var entry = new Sub { Type = eventType, Handler = handler };
            lock (_subsGate) _subs = _subs.Concat(new[] { entry }).ToArray();
            return new Unsubscriber(() =>
            {
                lock (_subsGate) _subs = _subs.Where(x => !ReferenceEquals(x, entry)).ToArray();
            });
        }

        static void OnEventNative(IntPtr userData, IntPtr json)
        {
            try
            {
                CopilotSession s;
                if (!Live.TryGetValue(userData.ToInt64(), out s)) return;
                var ev = SessionEvent.FromJson(CopilotJson.Parse(Native.FromUtf8(json)));
                if (s._config != null) Safe.Invoke(s._config.OnEvent, ev, "OnEvent");
                foreach (var sub in s._subs)
                    if (sub.Type == null || sub.Type == ev.Type) Safe.Invoke(sub.Handler, ev, "event handler");
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: event callback failed: " + e);
            }
        }

        // ------------------------------------------------------------------ handler requests

        static void OnRequestNative(IntPtr userData, ulong requestId, IntPtr kindPtr, IntPtr payloadPtr)
        {
            string kind = null;
            try
            {
                kind = Native.FromUtf8(kindPtr);
                var payload = CopilotJson.Parse(Native.FromUtf8(payloadPtr) ?? "null");
                CopilotSession s;
                if (!Live.TryGetValue(userData.ToInt64(), out s))
                {
                    Native.copilot_request_fail(requestId, Native.Utf8("the session was disposed"));
                    return;
                }
                // Host handlers run on the thread pool, never on the library's callback thread.
                Task.Run(() => s.Serve(requestId, kind, payload));
            }
            catch (Exception e)
            {
                try { Native.copilot_request_fail(requestId, Native.Utf8("the .NET request callback failed: " + e.Message)); }
                catch (Exception) { }
            }
        }

        async Task Serve(ulong requestId, string kind, JsonData payload)
        {
            JsonData answer;
            try
            {
                answer = await HandleRequest(kind, payload).ConfigureAwait(false);
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

        static void Reply(ulong requestId, JsonData answer, string failure)
        {
            try
            {
                int st = failure != null
                    ? Native.copilot_request_fail(requestId, Native.Utf8(failure))
                    : Native.copilot_request_reply(requestId, Native.Utf8(answer.ToJson()));
                // UNKNOWN_ID: the request was already answered as failed (session or client freed).
                if (st != Native.Ok && st != Native.ErrUnknownId)
                    Trace.TraceError("copilot: answering request " + requestId + " failed: " + Calls.LastError(st).Message);
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: answering request " + requestId + " failed: " + e);
            }
        }

        async Task<JsonData> HandleRequest(string kind, JsonData p)
        {
            var c = _config ?? new SessionConfig();
            switch (kind)
            {
                case "tool":
                {
                    var name = p["toolName"].AsString("");
                    CopilotTool tool;
                    if (!_tools.TryGetValue(name, out tool) || tool.Handler == null)
                        throw new InvalidOperationException("no .NET handler for tool `" + name + "`");
                    var inv = new ToolInvocation
                    {
                        SessionId = p["sessionId"].AsString(SessionId),
                        ToolCallId = p["toolCallId"].AsString(""),
                        ToolName = name,
                        Arguments = p["arguments"],
                        WorkingDirectory = p["workingDirectory"].AsString(),
                        Json = p,
                        CancellationToken = _closing.Token,
                    };
                    var task = tool.Handler(inv);
                    if (task == null) throw new InvalidOperationException("tool `" + name + "` returned a null Task");
                    return ToolResultJson(await task.ConfigureAwait(false));
                }
                case "permission":
                {
                    if (c.OnPermissionRequest == null) throw new InvalidOperationException("no permission handler");
                    var req = new PermissionRequest
                    {
                        SessionId = p["sessionId"].AsString(SessionId),
                        Kind = p["kind"].AsString(""),
                        ToolCallId = p["toolCallId"].AsString(),
                        Request = p["request"],
                        Json = p,
                    };
                    var d = await c.OnPermissionRequest(req).ConfigureAwait(false);
                    if (d == null) throw new InvalidOperationException("the permission handler returned null");
                    return d.ToJson();
                }
                case "userInput":
                {
                    if (c.OnUserInputRequest == null) throw new InvalidOperationException("no user-input handler");
                    var req = new UserInputRequest
                    {
                        SessionId = p["sessionId"].AsString(SessionId),
                        Question = p["question"].AsString(""),
                        Choices = p["choices"].AsStringList(),
                        AllowFreeform = p["allowFreeform"].AsBool(true),
                        Json = p,
                    };
                    var r = await c.OnUserInputRequest(req).ConfigureAwait(false);
                    if (r == null) throw new InvalidOperationException("the user-input handler returned null");
                    return r.ToJson();
                }
                case "hook":
                {
                    if (c.OnHook == null) return JsonData.Null;
                    var inv = new HookInvocation { SessionId = SessionId, HookType = p["hookType"].AsString(""), Input = p["input"], Json = p };
                    return await c.OnHook(inv).ConfigureAwait(false) ?? JsonData.Null;
                }
                case "systemMessageTransform":
                    if (c.OnSystemMessageTransform == null) throw new InvalidOperationException("no system-message transform handler");
                    return await c.OnSystemMessageTransform(p).ConfigureAwait(false);
                case "exitPlanMode":
                    if (c.OnExitPlanMode == null) throw new InvalidOperationException("no exit-plan-mode handler");
                    return await c.OnExitPlanMode(p).ConfigureAwait(false);
                case "providerToken":
                    if (c.OnProviderToken == null) throw new InvalidOperationException("no provider-token handler");
                    return await c.OnProviderToken(p).ConfigureAwait(false);
                default:
                    throw new InvalidOperationException("no .NET handler for requests of kind `" + kind + "`");
            }
        }

        /// <summary>The official SDKs' conversion: strings are text, a ToolResult is sent as is,
        /// null is empty text, anything else goes as JSON (the library sends its JSON text).</summary>
        static JsonData ToolResultJson(object r)
        {
            if (r == null) return JsonData.String("");
            var tr = r as ToolResult;
            if (tr != null) return tr.ToJson();
            return CopilotJson.FromObject(r);
        }
    }
}
