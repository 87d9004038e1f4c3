// CopilotPool: several running CLI servers used as one (libcopilot's CopilotPool handle, ABI 5):
// rendezvous placement, failover by resume on the next server, drain, session leases in Redis,
// the reaper and metrics. Its sessions are ordinary CopilotSession objects.

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
    /// <summary>Which running CLI servers a <see cref="CopilotPool"/> uses, and how.</summary>
    public sealed class CopilotPoolOptions
    {
        /// <summary>The servers (<c>"host:port"</c>). Every backend instance must list the same
        /// servers, spelled the same way: the spelling is what places sessions.</summary>
        public IList<string> Urls { get; set; }
        /// <summary>How often a server that is down is tried again (unset: 2 s).</summary>
        public TimeSpan? HealthInterval { get; set; }
        /// <summary>Session leases in Redis (unset: none).</summary>
        public LeaseOptions Lease { get; set; }
        /// <summary>The options of every server's client: ConnectionToken, RequestTimeout,
        /// Reconnect, HeartbeatInterval, StartTimeout, ... (CliUrl, CliPath, Port, UseStdio,
        /// Environment and Cwd are refused: a pool connects to running servers).</summary>
        public CopilotClientOptions Client { get; set; }

        /// <summary>The JSON form read by the core (PoolOptions::from_json).</summary>
        public JsonData ToJson()
        {
            var o = Client != null ? Client.ToJson() : JsonData.Object();
            if (Urls != null) o.Set("urls", JsonData.Array(Urls));
            if (HealthInterval.HasValue) o.Set("healthInterval", Durations.Seconds(HealthInterval.Value));
            if (Lease != null) o.Set("lease", Lease.ToJson());
            return o;
        }
    }

    /// <summary>Session leases: at most one instance drives a session at a time.</summary>
    public sealed class LeaseOptions
    {
        /// <summary><c>redis://[user:password@]host:port[/db]</c> (required).</summary>
        public string RedisUrl { get; set; }
        /// <summary>How long a lease lasts without renewal (unset: 30 s; at least 300 ms); renewed
        /// every third of it while the session is open.</summary>
        public TimeSpan? Ttl { get; set; }
        /// <summary>How long opening a session waits for another holder to let go before
        /// <see cref="LeaseHeldException"/> (unset: 30 s; <see cref="TimeSpan.Zero"/>: fail at once).</summary>
        public TimeSpan? Wait { get; set; }
        /// <summary>This instance's name in the store (unset: host name, pid and a random part).</summary>
        public string Owner { get; set; }
        /// <summary>Prefix of the Redis keys (unset: <c>copilot:lease:</c>).</summary>
        public string KeyPrefix { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            o.SetIfNotNull("redisUrl", RedisUrl);
            if (Ttl.HasValue) o.Set("ttl", Durations.Seconds(Ttl.Value));
            if (Wait.HasValue) o.Set("wait", Durations.Seconds(Wait.Value));
            o.SetIfNotNull("owner", Owner);
            o.SetIfNotNull("keyPrefix", KeyPrefix);
            return o;
        }
    }

    /// <summary>Which stored sessions a cleanup or a reaper deletes: started longer ago than
    /// <see cref="MaxAge"/>, or unchanged for longer than <see cref="MaxIdle"/> (at least one).</summary>
    public sealed class CleanupOptions
    {
        public TimeSpan? MaxAge { get; set; }
        public TimeSpan? MaxIdle { get; set; }
        /// <summary>Also delete sessions open on this client or pool (they are disconnected first).</summary>
        public bool IncludeOpen { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (MaxAge.HasValue) o.Set("maxAge", Durations.Seconds(MaxAge.Value));
            if (MaxIdle.HasValue) o.Set("maxIdle", Durations.Seconds(MaxIdle.Value));
            if (IncludeOpen) o.Set("includeOpen", true);
            return o;
        }
    }

    /// <summary>One server of a pool, as <see cref="CopilotPool.Servers"/> reports it.</summary>
    public sealed class PoolServer
    {
        public string Url { get; private set; }
        public bool Healthy { get; private set; }
        public bool Draining { get; private set; }
        public int OpenSessions { get; private set; }

        internal static PoolServer FromJson(JsonData j)
        {
            return new PoolServer
            {
                Url = j["url"].AsString(""),
                Healthy = j["healthy"].AsBool(),
                Draining = j["draining"].AsBool(),
                OpenSessions = (int)j["openSessions"].AsLong(),
            };
        }
    }

    /// <summary>A bucket of the turn-latency histogram: turns that took at most <see cref="Le"/>
    /// seconds (cumulative; the last one's Le is +Infinity).</summary>
    public struct HistogramBucket
    {
        public readonly double Le;
        public readonly long Count;
        public HistogramBucket(double le, long count) { Le = le; Count = count; }
    }

    /// <summary>The counters of one client (one CLI server).</summary>
    public class ClientMetrics
    {
        public long Calls { get; private set; }
        public IReadOnlyDictionary<string, long> Errors { get; private set; }
        public long Reconnects { get; private set; }
        public long ConnectionLosses { get; private set; }
        public long FailoversIn { get; private set; }
        public long FailoversOut { get; private set; }
        public int OpenSessions { get; private set; }
        /// <summary>Answered send-and-wait turns.</summary>
        public long TurnCount { get; private set; }
        public double TurnSeconds { get; private set; }
        public IReadOnlyList<HistogramBucket> TurnBuckets { get; private set; }
        /// <summary>The snapshot as the core wrote it.</summary>
        public JsonData Json { get; private set; }

        internal void Read(JsonData j)
        {
            Json = j;
            Calls = j["calls"].AsLong();
            var errors = new Dictionary<string, long>();
            var e = j["errors"];
            if (e.IsObject) foreach (var kv in e.Properties) errors[kv.Key] = kv.Value.AsLong();
            Errors = errors;
            Reconnects = j["reconnects"].AsLong();
            ConnectionLosses = j["connectionLosses"].AsLong();
            FailoversIn = j["failoversIn"].AsLong();
            FailoversOut = j["failoversOut"].AsLong();
            OpenSessions = (int)j["openSessions"].AsLong();
            var t = j["turns"];
            TurnCount = t["count"].AsLong();
            TurnSeconds = t["sumSeconds"].AsDouble();
            var buckets = new List<HistogramBucket>();
            foreach (var b in t["buckets"])
            {
                var le = b["le"].AsString() == "+Inf" ? double.PositiveInfinity : b["le"].AsDouble();
                buckets.Add(new HistogramBucket(le, b["count"].AsLong()));
            }
            TurnBuckets = buckets;
        }

        internal static ClientMetrics FromJson(JsonData j)
        {
            var m = new ClientMetrics();
            m.Read(j);
            return m;
        }
    }

    /// <summary>One pool server's state and client counters.</summary>
    public sealed class PoolServerMetrics : ClientMetrics
    {
        public string Url { get; private set; }
        public bool Healthy { get; private set; }
        public bool Draining { get; private set; }

        internal static PoolServerMetrics FromServer(JsonData j)
        {
            var m = new PoolServerMetrics { Url = j["url"].AsString(""), Healthy = j["healthy"].AsBool(), Draining = j["draining"].AsBool() };
            m.Read(j);
            return m;
        }
    }

    /// <summary>A pool's counters: per server, and for the pool.</summary>
    public sealed class PoolMetrics
    {
        public IReadOnlyList<PoolServerMetrics> Servers { get; private set; }
        public long Failovers { get; private set; }
        public long LeasesAcquired { get; private set; }
        public long LeasesLost { get; private set; }
        public long LeaseWaits { get; private set; }
        public long Reaped { get; private set; }
        public long PlacementErrors { get; private set; }
        public int OpenSessions { get; private set; }
        public int HealthyServers { get; private set; }
        public JsonData Json { get; private set; }

        internal static PoolMetrics FromJson(JsonData j)
        {
            return new PoolMetrics
            {
                Json = j,
                Servers = j["servers"].Select(PoolServerMetrics.FromServer).ToList(),
                Failovers = j["failovers"].AsLong(),
                LeasesAcquired = j["leasesAcquired"].AsLong(),
                LeasesLost = j["leasesLost"].AsLong(),
                LeaseWaits = j["leaseWaits"].AsLong(),
                Reaped = j["reaped"].AsLong(),
                PlacementErrors = j["placementErrors"].AsLong(),
                OpenSessions = (int)j["openSessions"].AsLong(),
                HealthyServers = (int)j["healthyServers"].AsLong(),
            };
        }
    }

    /// <summary>The outcome of one background sweep of a pool's reaper.</summary>
    public sealed class ReaperSweep
    {
        /// <summary>The ids it deleted (empty on failure).</summary>
        public IReadOnlyList<string> Deleted { get; private set; }
        /// <summary>Why it failed (null when it succeeded).</summary>
        public CopilotException Error { get; private set; }

        internal static ReaperSweep FromJson(JsonData j)
        {
            var error = j["error"].AsString();
            return new ReaperSweep
            {
                Deleted = j["deleted"].IsArray ? j["deleted"].AsStringList() : new List<string>(),
                Error = error == null ? null : ErrorCodes.Create(j["code"].AsString("internal"), (int)j["status"].AsLong(), error),
            };
        }
    }

    /// <summary>
    /// Several running CLI servers used as one. Each session is placed on the first healthy,
    /// undrained server of its rendezvous ranking (every instance with the same
    /// <see cref="CopilotPoolOptions.Urls"/> places alike); when its server is lost it continues on
    /// the next one (the servers share their state directory); a drained server, or a preferred
    /// server that came back, gets or loses its sessions at their next prompt. With
    /// <see cref="CopilotPoolOptions.Lease"/>, a session is leased in Redis while open. Dispose it
    /// (or <see cref="StopAsync"/> then Dispose) when done.
    /// </summary>
    public sealed class CopilotPool : IDisposable, IAsyncDisposable, ISessionOwner
    {
        readonly NativeHandle _handle;
        readonly ConcurrentDictionary<long, CopilotSession> _sessions = new ConcurrentDictionary<long, CopilotSession>();

        /// <summary>Creates a pool (nothing connects until it starts, or the first call). Invalid
        /// options throw <see cref="InvalidConfigException"/>.</summary>
        public CopilotPool(CopilotPoolOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            var json = Native.Utf8(options.ToJson().ToJson());
            IntPtr h;
            var st = Native.copilot_pool_new(json, out h);
            if (st != Native.Ok || h == IntPtr.Zero) throw Calls.LastError(st);
            _handle = new NativeHandle(h, Native.copilot_pool_free, "CopilotPool");
        }

        /// <summary>Connects to every server and starts watching them. Succeeds when at least one
        /// answers (<see cref="NoServerException"/> otherwise); the others are tried again in the
        /// background. Idempotent.</summary>
        public Task StartAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_pool_start(h, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary>Releases every lease, detaches every session (their objects stop working) and
        /// disconnects from every server. The pool can be started again.</summary>
        public async Task StopAsync()
        {
            if (_handle.IsClosed) return;
            try
            {
                await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_pool_stop(h, Calls.Completion, ud, out c), CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                foreach (var s in _sessions.Values.ToList()) s.FreeNative();
            }
        }

        /// <summary>Frees the native pool: pending calls end as cancelled, its reapers stop, no
        /// callback of it or its sessions runs afterwards; the pool stops in the background.</summary>
        public void Dispose()
        {
            if (_handle.IsClosed) return;
            foreach (var s in _sessions.Values.ToList()) s.FreeNative();
            _handle.Close();
        }

        /// <summary>Stops (errors are swallowed), then frees the native pool.</summary>
        public ValueTask DisposeAsync()
        {
            // Not an async ValueTask method: mcs (C# 7.2 on Mono) cannot compile those.
            return new ValueTask(DisposeCoreAsync());
        }

        async Task DisposeCoreAsync()
        {
            if (_handle.IsClosed) return;
            try { await StopAsync().ConfigureAwait(false); }
            catch (CopilotException) { }
            Dispose();
        }

        // ------------------------------------------------------------------ sessions

        /// <summary>Creates a session on its server (taking its lease first with
        /// <see cref="CopilotPoolOptions.Lease"/>: <see cref="LeaseHeldException"/> when another
        /// instance holds it beyond the wait; <see cref="NoServerException"/> when no server is
        /// reachable). The session works like a client's; a prompt first moves it to the server it
        /// belongs on now; every call throws <see cref="LeaseLostException"/> once its lease was
        /// lost. Disposing (or disconnecting) it releases the lease.</summary>
        public Task<CopilotSession> CreateSessionAsync(SessionConfig config = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CopilotSession.OpenAsync(this, _handle, CreateNative, null, config ?? new SessionConfig(), cancellationToken);
        }

        /// <summary>Opens a stored session on its server (taking its lease first); give the
        /// provider again in the config. <see cref="SessionNotFoundException"/> when no server has it.</summary>
        public Task<CopilotSession> ResumeSessionAsync(string sessionId, SessionConfig config = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (string.IsNullOrEmpty(sessionId)) throw new ArgumentException("ResumeSessionAsync needs a session id", "sessionId");
            return CopilotSession.OpenAsync(this, _handle, ResumeNative, sessionId, config, cancellationToken);
        }

        static readonly OpenSessionNative CreateNative =
            (IntPtr h, byte[] id, byte[] cfg, CopilotEventCallback e, CopilotRequestCallback r, IntPtr sud, CopilotCallback cb, IntPtr ud, out IntPtr sh, out ulong c) =>
                Native.copilot_pool_create_session(h, cfg, e, r, sud, cb, ud, out sh, out c);

        static readonly OpenSessionNative ResumeNative =
            (IntPtr h, byte[] id, byte[] cfg, CopilotEventCallback e, CopilotRequestCallback r, IntPtr sud, CopilotCallback cb, IntPtr ud, out IntPtr sh, out ulong c) =>
                Native.copilot_pool_resume_session(h, id, cfg, e, r, sud, cb, ud, out sh, out c);

        void ISessionOwner.Track(CopilotSession s) { _sessions[s.LocalId] = s; }

        void ISessionOwner.Forget(CopilotSession s)
        {
            CopilotSession ignored;
            _sessions.TryRemove(s.LocalId, out ignored);
        }

        /// <summary>The sessions stored by the servers, each once.</summary>
        public async Task<IReadOnlyList<SessionMetadata>> ListSessionsAsync(SessionListFilter filter = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var f = Native.Utf8(filter != null ? filter.ToJson().ToJson() : null);
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_pool_list_sessions(h, f, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.Select(SessionMetadata.FromJson).ToList();
        }

        /// <summary>Deletes a stored session (<see cref="SessionNotFoundException"/> when it does not
        /// exist); this pool's lease on it is released first.</summary>
        public Task DeleteSessionAsync(string sessionId, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            var id = Native.Utf8(sessionId);
            return Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_pool_delete_session(h, id, Calls.Completion, ud, out c), cancellationToken);
        }

        /// <summary><see cref="CopilotClient.CleanupSessionsAsync"/> across the pool: never a session
        /// open on this pool unless IncludeOpen, never one whose lease another instance holds.</summary>
        public async Task<IReadOnlyList<SessionMetadata>> CleanupSessionsAsync(CleanupOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            var o = Native.Utf8(options.ToJson().ToJson());
            var r = await Calls.Start(_handle, (IntPtr h, IntPtr ud, out ulong c) => Native.copilot_pool_cleanup_sessions(h, o, Calls.Completion, ud, out c), cancellationToken).ConfigureAwait(false);
            return r.Select(SessionMetadata.FromJson).ToList();
        }

        // ------------------------------------------------------------------ servers

        /// <summary>Stops placing sessions on the server <paramref name="url"/>; its open sessions
        /// move at their next prompt. A rolling restart: Drain, wait until <see cref="Servers"/>
        /// shows no open session there, restart the server, Undrain.</summary>
        public void Drain(string url)
        {
            if (url == null) throw new ArgumentNullException("url");
            var u = Native.Utf8(url);
            var st = _handle.Use(h => Native.copilot_pool_drain(h, u));
            if (st != Native.Ok) throw Calls.LastError(st);
        }

        /// <summary>Places sessions on the server <paramref name="url"/> again.</summary>
        public void Undrain(string url)
        {
            if (url == null) throw new ArgumentNullException("url");
            var u = Native.Utf8(url);
            var st = _handle.Use(h => Native.copilot_pool_undrain(h, u));
            if (st != Native.Ok) throw Calls.LastError(st);
        }

        /// <summary>Every server's state, in the order of <see cref="CopilotPoolOptions.Urls"/>.</summary>
        public IReadOnlyList<PoolServer> Servers
        {
            get { return Read(Native.copilot_pool_servers).Select(PoolServer.FromJson).ToList(); }
        }

        /// <summary>The servers ranked for a session id: the first is where it is placed while it
        /// is healthy and not drained.</summary>
        public IReadOnlyList<string> Ranking(string sessionId)
        {
            if (sessionId == null) throw new ArgumentNullException("sessionId");
            var id = Native.Utf8(sessionId);
            return Read(h => Native.copilot_pool_ranking(h, id)).AsStringList();
        }

        /// <summary>The pool's counters (per server and pool-wide).</summary>
        public PoolMetrics Metrics() { return PoolMetrics.FromJson(Read(Native.copilot_pool_metrics)); }

        /// <summary>The pool's counters in the Prometheus text format (per server, labelled
        /// <c>server="url"</c>, and pool-wide).</summary>
        public string MetricsPrometheus()
        {
            return _handle.Use(h => Native.TakeString(Native.copilot_pool_metrics_prometheus(h)));
        }

        JsonData Read(Func<IntPtr, IntPtr> f)
        {
            return CopilotJson.Parse(_handle.Use(h => Native.TakeString(f(h))) ?? "null");
        }

        /// <summary>Runs <see cref="CleanupSessionsAsync"/> every <paramref name="interval"/> (the
        /// first sweep at once) until the reaper is disposed or the pool disposed.
        /// <paramref name="onSweep"/> (may be null) hears every sweep, in order, on the SDK's
        /// callback thread: keep it short.</summary>
        public CopilotReaper StartReaper(TimeSpan interval, CleanupOptions options, Action<ReaperSweep> onSweep = null)
        {
            if (options == null) throw new ArgumentNullException("options");
            var o = Native.Utf8(options.ToJson().ToJson());
            long key = onSweep != null ? CopilotReaper.Register(onSweep) : 0;
            IntPtr r = IntPtr.Zero;
            int st;
            try
            {
                st = _handle.Use(h => Native.copilot_pool_start_reaper(h, interval.TotalSeconds, o,
                    onSweep != null ? CopilotReaper.SweepCallback : null, new IntPtr(key), out r));
            }
            catch (Exception)
            {
                CopilotReaper.Unregister(key);
                throw;
            }
            if (st != Native.Ok)
            {
                CopilotReaper.Unregister(key);
                throw Calls.LastError(st);
            }
            return new CopilotReaper(r, key);
        }
    }

    /// <summary>A background reaper (<see cref="CopilotPool.StartReaper"/>,
    /// <see cref="CopilotClient.StartReaper"/>). Dispose it to stop it: no sweep starts, and no
    /// sweep callback runs, after Dispose returns.</summary>
    public sealed class CopilotReaper : IDisposable
    {
        static long _next;
        static readonly ConcurrentDictionary<long, Action<ReaperSweep>> Handlers = new ConcurrentDictionary<long, Action<ReaperSweep>>();
        internal static readonly CopilotEventCallback SweepCallback = OnSweep;

        readonly NativeHandle _handle;
        readonly long _key;

        internal CopilotReaper(IntPtr h, long key)
        {
            _handle = new NativeHandle(h, Native.copilot_reaper_free, "CopilotReaper");
            _key = key;
        }

        internal static long Register(Action<ReaperSweep> f)
        {
            var k = Interlocked.Increment(ref _next);
            Handlers[k] = f;
            return k;
        }

        internal static void Unregister(long key)
        {
            Action<ReaperSweep> ignored;
            if (key != 0) Handlers.TryRemove(key, out ignored);
        }

        /// <summary>Stops and frees the reaper (a sweep in progress is abandoned). Idempotent.</summary>
        public void Dispose()
        {
            _handle.Close();
            Unregister(_key);
        }

        /// <summary>Same as <see cref="Dispose"/>.</summary>
        public void Stop() { Dispose(); }

        static void OnSweep(IntPtr userData, IntPtr json)
        {
            try
            {
                Action<ReaperSweep> f;
                if (Handlers.TryGetValue(userData.ToInt64(), out f))
                    Safe.Invoke(f, ReaperSweep.FromJson(CopilotJson.Parse(Native.FromUtf8(json))), "reaper sweep handler");
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: sweep callback failed: " + e);
            }
        }
    }

    /// <summary>The levels of the library's log records.</summary>
    public enum CopilotLogLevel
    {
        /// <summary>Nothing is forwarded.</summary>
        Off = 0,
        Error = 1,
        Warning = 2,
        /// <summary>A server lost, a session moved, a drain, reconnects, ...</summary>
        Information = 3,
        Debug = 4,
        Trace = 5,
    }

    /// <summary>The library's log records (the core's: connections, failovers, leases, the
    /// reaper, ...).</summary>
    public static partial class CopilotLog
    {
        static readonly CopilotLogCallback Callback = OnLog;
        static readonly object Gate = new object();
        static Action<CopilotLogLevel, string, string> _handler;

        /// <summary>Sends the records of <paramref name="minimum"/> and above to
        /// <paramref name="handler"/> (level, target — the module that wrote it — and the message
        /// with the record's fields), in order, on the SDK's callback thread: keep it short.
        /// A null handler or <see cref="CopilotLogLevel.Off"/> stops forwarding; once this
        /// returns, the previous handler is not called again. <see cref="CopilotRuntime.Shutdown"/>
        /// ends forwarding too.</summary>
        public static void SetHandler(CopilotLogLevel minimum, Action<CopilotLogLevel, string, string> handler)
        {
            lock (Gate)
            {
                var level = handler == null ? CopilotLogLevel.Off : minimum;
                _handler = level == CopilotLogLevel.Off ? null : handler;
                var st = level == CopilotLogLevel.Off
                    ? Native.copilot_set_log_callback(0, null, IntPtr.Zero)
                    : Native.copilot_set_log_callback((int)level, Callback, IntPtr.Zero);
                if (st != Native.Ok)
                {
                    _handler = null;
                    throw Calls.LastError(st);
                }
            }
        }

        /// <summary>Sends the records to a TraceSource (Error, Warning, Information, Verbose for
        /// Debug and Trace), with the target as a prefix.</summary>
        public static void SetTraceSource(TraceSource source, CopilotLogLevel minimum = CopilotLogLevel.Information)
        {
            if (source == null)
            {
                SetHandler(CopilotLogLevel.Off, null);
                return;
            }
            SetHandler(minimum, (level, target, message) =>
            {
                TraceEventType t;
                switch (level)
                {
                    case CopilotLogLevel.Error: t = TraceEventType.Error; break;
                    case CopilotLogLevel.Warning: t = TraceEventType.Warning; break;
                    case CopilotLogLevel.Information: t = TraceEventType.Information; break;
                    default: t = TraceEventType.Verbose; break;
                }
                // TraceSource.TraceEvent is [Conditional("TRACE")]: call the listeners directly, so the
                // records arrive however this library was compiled.
                if (!source.Switch.ShouldTrace(t)) return;
                var text = target + ": " + message;
                foreach (TraceListener l in source.Listeners)
                {
                    if (l.IsThreadSafe) l.TraceEvent(new TraceEventCache(), source.Name, t, 0, text);
                    else lock (l) l.TraceEvent(new TraceEventCache(), source.Name, t, 0, text);
                    l.Flush();
                }
            });
        }

        static void OnLog(IntPtr userData, int level, IntPtr target, IntPtr message)
        {
            try
            {
                var h = _handler;
                if (h != null) h((CopilotLogLevel)level, Native.FromUtf8(target), Native.FromUtf8(message));
            }
            catch (Exception)
            {
                // A log handler must never throw into native code; nothing else to report to.
            }
        }
    }
}
