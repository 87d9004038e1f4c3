// CopilotClient: one connection to a Copilot CLI (spawned over stdio or TCP, or an external
// server by URL), over libcopilot's CopilotClient handle.

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Interop;

namespace GitHub.Copilot.SDK
{
    /// <summary>The client's connection state.</summary>
    public enum ConnectionState { Disconnected, Connected, Stopped, Disposed }

    /// <summary>
    /// A client of the Copilot CLI's server mode. A client that was never started starts on its
    /// first call (unless <see cref="CopilotClientOptions.AutoStart"/> is false); after
    /// <see cref="StopAsync"/> calls fail with <c>not_connected</c> until <see cref="StartAsync"/>.
    /// Dispose it (or <see cref="StopAsync"/> then Dispose) when done.
    /// </summary>
    public sealed class CopilotClient : IDisposable, IAsyncDisposable, ISessionOwner
    {
        readonly CopilotClientOptions _options;
        readonly NativeHandle _handle;
        readonly ConcurrentDictionary<long, CopilotSession> _sessions = new ConcurrentDictionary<long, CopilotSession>();
        readonly EventSubscriptions _lifecycle = new EventSubscriptions(Native.copilot_client_subscribe_lifecycle, Native.copilot_client_unsubscribe_lifecycle);
        volatile bool _stopped;

        /// <summary>Creates a client (nothing is spawned or connected until it starts).
        /// Invalid options throw <see cref="InvalidConfigException"/>.</summary>
        public CopilotClient(CopilotClientOptions options = null)
        {
            _options = options ?? new CopilotClientOptions();
            var json = Native.Utf8(_options.ToJson().ToJson());
            IntPtr h;
            var st = Native.copilot_client_new(json, null, IntPtr.Zero, out h);
            if (st != Native.Ok || h == IntPtr.Zero) throw Calls.LastError(st);
            _handle = new NativeHandle(h, Native.copilot_client_free, "CopilotClient");
            if (_options.Logger != null) CopilotLog.SetLogger(_options.Logger);
        }

        /// <summary>The options this client was made with.</summary>
        public CopilotClientOptions Options { get { return _options; } }

        /// <summary>The state of the connection: Connected once started (by StartAsync or by a
        /// first call), Stopped after StopAsync / ForceStopAsync.</summary>
        public ConnectionState State
        {
            get
            {
                if (_handle.IsClosed) return ConnectionState.Disposed;
                if (Info()["running"].AsBool()) return ConnectionState.Connected;
                return _stopped ? ConnectionState.Stopped : ConnectionState.Disconnected;
            }
        }

        // ------------------------------------------------------------------ lifecycle

        /// <summary>Spawns or connects to the CLI and performs the handshake. Idempotent.</summary>
        public async Task StartAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_start(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            _stopped = false;
        }

        /// <summary>Stops gracefully: detaches the sessions this client opened, shuts a spawned CLI
        /// down (killing it after the grace period) and closes the connection. Idempotent. Throws
        /// the first error met; the client is stopped either way.</summary>
        public async Task StopAsync()
        {
            if (_handle.IsClosed) return;
            _stopped = true;
            await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_stop(h, Calls.Completion, ud, out c), CancellationToken.None).ConfigureAwait(false);
        }

        /// <summary>Stops at once: no RPCs; the connection is dropped and a spawned CLI killed.</summary>
        public async Task ForceStopAsync()
        {
            if (_handle.IsClosed) return;
            _stopped = true;
            await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_force_stop(h, Calls.Completion, ud, out c), CancellationToken.None).ConfigureAwait(false);
        }

        /// <summary>Frees the native client: pending calls end as cancelled, a running CLI is
        /// force-stopped, and no callback of this client or its sessions runs afterwards.</summary>
        public void Dispose()
        {
            if (_handle.IsClosed) return;
            foreach (var s in _sessions.Values.ToList()) s.FreeNative();
            _handle.Close();
            _lifecycle.Clear();
        }

        /// <summary>Stops gracefully (errors are swallowed: disposal never throws for a broken
        /// connection), then frees the native client.</summary>
        public ValueTask DisposeAsync()
        {
            // Not an async ValueTask method: mcs (C# 7.2 on Mono) cannot compile those.
            return new ValueTask(DisposeCoreAsync());
        }

        async Task DisposeCoreAsync()
        {
            if (_handle.IsClosed) return;
            try
            {
                await StopAsync().ConfigureAwait(false);
            }
            catch (CopilotException) { }
            Dispose();
        }

        // ------------------------------------------------------------------ information

        JsonData Info()
        {
            return CopilotJson.Parse(_handle.Use(h => Native.TakeString(Native.copilot_client_info(h))) ?? "{}");
        }

        /// <summary>The TCP port of the server (spawned over TCP, or connected by URL).</summary>
        public int? Port { get { var p = Info()["port"].AsNullableLong(); return p.HasValue ? (int?)p.Value : null; } }
        /// <summary>The process id of a spawned CLI.</summary>
        public int? CliPid { get { var p = Info()["cliPid"].AsNullableLong(); return p.HasValue ? (int?)p.Value : null; } }
        /// <summary>The protocol version the server reported.</summary>
        public int? ProtocolVersion { get { var p = Info()["protocolVersion"].AsNullableLong(); return p.HasValue ? (int?)p.Value : null; } }
        /// <summary>The CLI version the server reported in the handshake.</summary>
        public string ServerVersion { get { return Info()["serverVersion"].AsString(); } }

        // ------------------------------------------------------------------ client-level calls

        /// <summary><c>ping</c>: a round trip to the server.</summary>
        public async Task<PingResponse> PingAsync(string message = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var m = Native.Utf8(message);
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_ping(h, m, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return PingResponse.FromJson(r);
        }

        /// <summary><c>status.get</c>: the CLI version and protocol version.</summary>
        public async Task<GetStatusResponse> GetStatusAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_get_status(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return GetStatusResponse.FromJson(r);
        }

        /// <summary><c>auth.getStatus</c>.</summary>
        public async Task<GetAuthStatusResponse> GetAuthStatusAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_get_auth_status(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return GetAuthStatusResponse.FromJson(r);
        }

        /// <summary><c>models.list</c> (needs GitHub authentication on the CLI): the generated
        /// <see cref="Protocol.Model"/> (Capabilities, Policy, Billing typed; <c>Json</c> is the raw entry).</summary>
        public async Task<IReadOnlyList<Protocol.Model>> ListModelsAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_list_models(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            Protocol.Wire.Result("models.list");
            return r.Select(m => Protocol.Model.FromJson(m, "models.list")).ToList();
        }

        /// <summary>Creates a session. Handlers and <see cref="SessionConfig.OnEvent"/> are bound
        /// before the request goes out, so no early event is missed.</summary>
        public Task<CopilotSession> CreateSessionAsync(SessionConfig config = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return OpenSession(null, config ?? new SessionConfig(), cancellationToken);
        }

        /// <summary>Resumes a session by id: joins it while live on the server, or loads it from
        /// disk. The config is optional (give the provider and handlers again after a cold load).</summary>
        public Task<CopilotSession> ResumeSessionAsync(string sessionId, SessionConfig config = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (string.IsNullOrEmpty(sessionId)) throw new ArgumentException("ResumeSessionAsync needs a session id", "sessionId");
            return OpenSession(sessionId, config, cancellationToken);
        }

        Task<CopilotSession> OpenSession(string resumeId, SessionConfig config, CancellationToken ct)
        {
            return CopilotSession.OpenAsync(this, _handle, resumeId == null ? CreateNative : ResumeNative, resumeId, config, ct);
        }

        static readonly OpenSessionNative CreateNative =
            (IntPtr h, byte[] id, byte[] cfg, CopilotEventCallback e, CopilotRequestCallback r, IntPtr sud, CopilotCallback cb, IntPtr ud, out IntPtr sh, out ulong c) =>
                Native.copilot_client_create_session(h, cfg, e, r, sud, cb, ud, out sh, out c);

        static readonly OpenSessionNative ResumeNative =
            (IntPtr h, byte[] id, byte[] cfg, CopilotEventCallback e, CopilotRequestCallback r, IntPtr sud, CopilotCallback cb, IntPtr ud, out IntPtr sh, out ulong c) =>
                Native.copilot_client_resume_session(h, id, cfg, e, r, sud, cb, ud, out sh, out c);

        void ISessionOwner.Track(CopilotSession s) { _sessions[s.LocalId] = s; }

        void ISessionOwner.Forget(CopilotSession s) { Forget(s); }

        internal void Forget(CopilotSession s)
        {
            CopilotSession ignored;
            _sessions.TryRemove(s.LocalId, out ignored);
        }

        /// <summary><c>session.list</c>: stored sessions (with StartTime, ModifiedTime, CreatedAt).</summary>
        public async Task<IReadOnlyList<SessionMetadata>> ListSessionsAsync(SessionListFilter filter = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var f = Native.Utf8(filter != null ? filter.ToJson().ToJson() : null);
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_list_sessions(h, f, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.Select(SessionMetadata.FromJson).ToList();
        }

        /// <summary><c>sessions.getMetadata</c>: one stored session's metadata (the shape of a
        /// <see cref="ListSessionsAsync"/> entry, times readable as <see cref="DateTimeOffset"/>), or
        /// null when there is no such session.</summary>
        public async Task<SessionMetadata> GetSessionMetadataAsync(string sessionId, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            var id = Native.Utf8(sessionId);
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_get_session_metadata(h, id, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r == null || r.IsNull ? null : SessionMetadata.FromJson(r);
        }

        /// <summary><c>session.delete</c>: removes a session from disk (fails when it does not exist).</summary>
        public async Task DeleteSessionAsync(string sessionId, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            var id = Native.Utf8(sessionId);
            await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_delete_session(h, id, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
        }

        /// <summary><c>session.getLastId</c>: the most recently modified session (null when none).</summary>
        public async Task<string> GetLastSessionIdAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_get_last_session_id(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.AsString();
        }

        /// <summary><c>session.getForeground</c> (TUI+server mode only; null otherwise).</summary>
        public async Task<string> GetForegroundSessionIdAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_get_foreground_session_id(h, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.AsString();
        }

        /// <summary><c>session.setForeground</c> (TUI+server mode only; an error otherwise).</summary>
        public async Task SetForegroundSessionIdAsync(string sessionId, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            var id = Native.Utf8(sessionId);
            await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_set_foreground_session_id(h, id, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
        }

        Protocol.ServerRpc _rpc;

        /// <summary>The schema's client-level methods, typed (<c>client.Rpc.Models.ListAsync()</c>);
        /// each goes through <see cref="CallAsync"/>.</summary>
        public Protocol.ServerRpc Rpc
        {
            get { return _rpc ?? (_rpc = new Protocol.ServerRpc((m, p, ct) => RpcAsync(m, p, ct))); }
        }

        /// <summary>Any server method by name, for methods newer than the schema (same as
        /// <see cref="RpcAsync(string, JsonData, CancellationToken)"/>).</summary>
        public Task<JsonData> CallAsync(string method, JsonData parameters = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return RpcAsync(method, parameters, cancellationToken);
        }

        /// <summary>Any server method by name (the escape hatch); <paramref name="parameters"/> may
        /// be null. The client's <see cref="CopilotClientOptions.RequestTimeout"/> applies.</summary>
        public Task<JsonData> RpcAsync(string method, JsonData parameters = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (method == null) throw new ArgumentNullException("method");
            var m = Native.Utf8(method);
            var p = Native.Utf8(parameters != null ? parameters.ToJson() : null);
            return Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_rpc(h, m, p, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>Any server method by name with a deadline of its own instead of the client's
        /// RequestTimeout: <paramref name="timeout"/> &gt; 0 fails the call with <c>timeout</c> after
        /// it; <see cref="Timeout.InfiniteTimeSpan"/> (or <see cref="TimeSpan.Zero"/>) waits as long
        /// as the connection lives. Another negative value is <see cref="InvalidConfigException"/>.</summary>
        public Task<JsonData> RpcAsync(string method, JsonData parameters, TimeSpan timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (method == null) throw new ArgumentNullException("method");
            var m = Native.Utf8(method);
            var p = Native.Utf8(parameters != null ? parameters.ToJson() : null);
            var t = Native.Seconds(timeout);
            return Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_rpc_with_timeout(h, m, p, t, Calls.Completion, ud, out c), cancellationToken);
        }

        // ------------------------------------------------------------------ metrics and the reaper

        /// <summary>The client's counters: calls, errors by code, reconnects, open sessions and a
        /// histogram of answered turns.</summary>
        public ClientMetrics Metrics()
        {
            return ClientMetrics.FromJson(CopilotJson.Parse(_handle.Use(h => Native.TakeString(Native.copilot_client_metrics(h))) ?? "{}"));
        }

        /// <summary>The client's counters in the Prometheus text format, labelled with the server
        /// URL (<c>server="local"</c> for a spawned CLI).</summary>
        public string MetricsPrometheus()
        {
            return _handle.Use(h => Native.TakeString(Native.copilot_client_metrics_prometheus(h)));
        }

        /// <summary>Deletes the stored sessions older than <see cref="CleanupOptions.MaxAge"/> or idle
        /// longer than <see cref="CleanupOptions.MaxIdle"/>; a session open on this client is kept
        /// unless <see cref="CleanupOptions.IncludeOpen"/>. Returns what it deleted.</summary>
        public async Task<IReadOnlyList<SessionMetadata>> CleanupSessionsAsync(CleanupOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var o = Native.Utf8(options.ToJson().ToJson());
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_client_cleanup_sessions(h, o, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.Select(SessionMetadata.FromJson).ToList();
        }

        /// <summary>Runs <see cref="CleanupSessionsAsync"/> every <paramref name="interval"/> (the first
        /// sweep at once) until the reaper is disposed or the client disposed. Each sweep that
        /// deleted something, or failed, is announced to the lifecycle handlers as a
        /// <c>reaper.swept</c> event (metadata <c>{"deleted":[ids]}</c> or <c>{"error","code"}</c>).</summary>
        public CopilotReaper StartReaper(TimeSpan interval, CleanupOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            var o = Native.Utf8(options.ToJson().ToJson());
            IntPtr r = IntPtr.Zero;
            var st = _handle.Use(h => Native.copilot_client_start_reaper(h, interval.TotalSeconds, o, out r));
            if (st != Native.Ok) throw Calls.LastError(st);
            return new CopilotReaper(r, 0);
        }

        // ------------------------------------------------------------------ lifecycle events

        /// <summary>Calls <paramref name="handler"/> for every <c>session.lifecycle</c> notification
        /// (created, deleted, updated, ...) from now on, also before the client starts. Dispose the
        /// result to unsubscribe. Handlers run on the SDK's callback thread, in wire order: keep them
        /// short and never block on an SDK call inside.</summary>
        public IDisposable On(Action<SessionLifecycleEvent> handler)
        {
            return Subscribe(null, handler);
        }

        /// <summary>Lifecycle notifications of one type (<c>session.deleted</c>, ...; null: every
        /// type). The library filters them.</summary>
        public IDisposable On(string eventType, Action<SessionLifecycleEvent> handler)
        {
            return Subscribe(eventType == null ? null : new[] { eventType }, handler);
        }

        /// <summary>Lifecycle notifications of these types (e.g. <see cref="ConnectionEvents.All"/>).
        /// The library filters them.</summary>
        public IDisposable On(IEnumerable<string> eventTypes, Action<SessionLifecycleEvent> handler)
        {
            if (eventTypes == null) throw new ArgumentNullException("eventTypes");
            return Subscribe(eventTypes, handler);
        }

        /// <summary>The official SDKs' name of <see cref="On(System.Action{SessionLifecycleEvent})"/>:
        /// every lifecycle notification; dispose the result to unsubscribe.</summary>
        public IDisposable OnLifecycle(Action<SessionLifecycleEvent> handler)
        {
            return On(handler);
        }

        /// <summary>As <see cref="On(string, System.Action{SessionLifecycleEvent})"/>: notifications
        /// of one type (null: every type).</summary>
        public IDisposable OnLifecycle(string eventType, Action<SessionLifecycleEvent> handler)
        {
            return On(eventType, handler);
        }

        /// <summary>As <see cref="On(System.Collections.Generic.IEnumerable{string}, System.Action{SessionLifecycleEvent})"/>:
        /// notifications of these types.</summary>
        public IDisposable OnLifecycle(IEnumerable<string> eventTypes, Action<SessionLifecycleEvent> handler)
        {
            return On(eventTypes, handler);
        }

        IDisposable Subscribe(IEnumerable<string> types, Action<SessionLifecycleEvent> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return _lifecycle.Subscribe(_handle, types,
                j => Safe.Invoke(handler, SessionLifecycleEvent.FromJson(j), "lifecycle handler"));
        }
    }

    /// <summary>Disposes by running an action once.</summary>
    internal sealed class Unsubscriber : IDisposable
    {
        Action _a;
        public Unsubscriber(Action a) { _a = a; }
        public void Dispose() { Interlocked.Exchange(ref _a, null)?.Invoke(); }
    }

    /// <summary>
    /// A native handle that is freed exactly once and never while a call is being started on it
    /// (the ABI forbids racing _free with other calls on the same handle). Starting a call is
    /// quick (the native function returns at once), so Close waits only briefly.
    /// </summary>
    internal sealed class NativeHandle
    {
        readonly object _gate = new object();
        readonly Action<IntPtr> _free;
        readonly string _what;
        IntPtr _h;
        int _users;
        bool _closed;

        public NativeHandle(IntPtr h, Action<IntPtr> free, string what)
        {
            _h = h;
            _free = free;
            _what = what;
        }

        public bool IsClosed { get { lock (_gate) return _closed; } }

        /// <summary>Marks the handle in use and returns it; pair with <see cref="Release"/>.</summary>
        public IntPtr Acquire()
        {
            lock (_gate)
            {
                if (_closed) throw new ObjectDisposedException(_what);
                _users++;
                return _h;
            }
        }

        public void Release()
        {
            lock (_gate)
            {
                _users--;
                if (_users == 0) Monitor.PulseAll(_gate);
            }
        }

        public T Use<T>(Func<IntPtr, T> f)
        {
            var h = Acquire();
            try { return f(h); }
            finally { Release(); }
        }

        /// <summary>Runs <paramref name="f"/> with the handle unless it is closed.</summary>
        public void UseIfOpen(Action<IntPtr> f)
        {
            IntPtr h;
            lock (_gate)
            {
                if (_closed) return;
                _users++;
                h = _h;
            }
            try { f(h); }
            finally { Release(); }
        }

        public void Close()
        {
            IntPtr h;
            lock (_gate)
            {
                if (_closed) return;
                _closed = true;
                while (_users > 0) Monitor.Wait(_gate);
                h = _h;
                _h = IntPtr.Zero;
            }
            _free(h);
        }
    }
}
