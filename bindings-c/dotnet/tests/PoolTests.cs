// The pool (ABI 5) against real CLI servers sharing one state directory (the same HOME) and a
// real redis-server (tests/install-services.sh installs it): placement by ranking, resume,
// failover after SIGKILL and the return of the preferred server, drain, leases between two pools
// (held, released with a higher token, lost behind the holder's back), the reaper (client and
// pool), metrics, typed option errors and log forwarding. Every process started here is ended in
// a finally block.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class PoolTests
    {
        public static void Register(Runner r)
        {
            r.Add("pool_typed_errors_for_bad_options_and_no_server", TypedErrors);
            r.Add("pool_placement_resume_failover_drain_and_metrics", PlacementFailoverDrainMetrics);
            r.Add("pool_leases_held_released_and_lost", Leases);
            r.Add("pool_and_client_reaper", Reaper);
            r.Add("pool_client_metrics_and_logs", ClientMetricsAndLogs);
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>CLI servers sharing one HOME.</summary>
        sealed class Servers : IDisposable
        {
            public readonly List<ExternalCli> List = new List<ExternalCli>();

            public Servers(int n)
            {
                var home = Path.Combine(Env.SandboxBase, "pool-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(home);
                try
                {
                    for (int i = 0; i < n; i++) List.Add(ExternalCli.Start(home));
                }
                catch (Exception)
                {
                    Dispose();
                    throw;
                }
            }

            public ExternalCli this[int i] { get { return List[i]; } }

            public void Dispose()
            {
                foreach (var s in List) s.Dispose();
            }
        }

        /// <summary>A redis-server of the test's own.</summary>
        sealed class Redis : IDisposable
        {
            readonly Process _p;
            public int Port { get; private set; }
            public string Url { get { return "redis://127.0.0.1:" + Port; } }

            public Redis()
            {
                Port = Signals.FreePort();
                var dir = Path.Combine(Env.SandboxBase, "redis-" + Port);
                Directory.CreateDirectory(dir);
                try
                {
                    _p = Process.Start(new ProcessStartInfo("redis-server",
                        "--port " + Port + " --bind 127.0.0.1 --save \"\" --appendonly no --dir " + dir)
                    {
                        UseShellExecute = false,
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                    });
                }
                catch (Exception e)
                {
                    throw new TestFailure("redis-server is needed (tests/install-services.sh installs it): " + e.Message);
                }
                Signals.Drain(_p.StandardOutput);
                Signals.Drain(_p.StandardError);
                var end = DateTime.UtcNow.AddSeconds(10);
                while (!Listening())
                {
                    if (DateTime.UtcNow > end) { Dispose(); throw new TestFailure("redis-server did not listen on " + Port); }
                    Thread.Sleep(20);
                }
            }

            bool Listening()
            {
                try { using (var c = new TcpClient("127.0.0.1", Port)) return true; }
                catch (SocketException) { return false; }
            }

            /// <summary>One command; the reply's first line (or a bulk string's value).</summary>
            public string Do(params string[] args)
            {
                using (var c = new TcpClient("127.0.0.1", Port))
                {
                    var s = c.GetStream();
                    s.ReadTimeout = 2000;
                    var b = new StringBuilder("*" + args.Length + "\r\n");
                    foreach (var a in args) b.Append("$" + Encoding.UTF8.GetByteCount(a) + "\r\n" + a + "\r\n");
                    var bytes = Encoding.UTF8.GetBytes(b.ToString());
                    s.Write(bytes, 0, bytes.Length);
                    var r = new StreamReader(s);
                    var line = r.ReadLine() ?? "";
                    if (line.StartsWith("$") && line != "$-1") return r.ReadLine();
                    return line;
                }
            }

            public void Dispose()
            {
                try { if (!_p.HasExited) _p.Kill(); _p.WaitForExit(5000); } catch (Exception) { }
                _p.Dispose();
            }
        }

        static CopilotPoolOptions Fast(Servers servers, LeaseOptions lease = null)
        {
            return new CopilotPoolOptions
            {
                Urls = servers.List.Select(s => s.Url).ToList(),
                HealthInterval = TimeSpan.FromMilliseconds(200),
                Lease = lease,
                Client = new CopilotClientOptions
                {
                    StartTimeout = TimeSpan.FromSeconds(5),
                    Reconnect = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(300), MaxAttempts = 5, CallWait = TimeSpan.FromSeconds(5) },
                },
            };
        }

        static SessionConfig Config(FakeModel m, string id = null)
        {
            return new SessionConfig { SessionId = id, Model = "gpt-4.1", Provider = m.Provider };
        }

        static async Task Reply(CopilotSession s, string text)
        {
            var ev = await Hang.Guard(s.SendAndWaitAsync(new MessageOptions { Prompt = "REPLY " + text, Timeout = TimeSpan.FromSeconds(60) }), 70, "REPLY " + text);
            Assert.True(ev != null, "an answer to REPLY " + text);
            Assert.Equal(text, ev.Data.Content, "REPLY " + text);
        }

        static async Task<List<string>> UserMessages(CopilotSession s)
        {
            var evs = await Hang.Guard(s.GetMessagesAsync(), 30, "GetMessagesAsync");
            return evs.Where(e => e.Type == "user.message").Select(e => e.Data.Content).ToList();
        }

        static async Task Until(string what, int seconds, Func<bool> f)
        {
            var end = DateTime.UtcNow.AddSeconds(seconds);
            while (!f())
            {
                if (DateTime.UtcNow > end) throw new TestFailure("timed out waiting for " + what);
                await Task.Delay(20);
            }
        }

        static PoolServer State(CopilotPool p, string url)
        {
            return p.Servers.First(s => s.Url == url);
        }

        static string Pid { get { return Process.GetCurrentProcess().Id.ToString(); } }

        // ------------------------------------------------------------------ tests

        static async Task TypedErrors()
        {
            var bad = new[]
            {
                new CopilotPoolOptions(),
                new CopilotPoolOptions { Urls = new List<string>() },
                new CopilotPoolOptions { Urls = new[] { "a:1", "a:1" } },
                new CopilotPoolOptions { Urls = new[] { "a:1" }, Client = new CopilotClientOptions { CliUrl = "b:2" } },
                new CopilotPoolOptions { Urls = new[] { "a:1" }, Lease = new LeaseOptions { RedisUrl = "http://x" } },
                new CopilotPoolOptions { Urls = new[] { "a:1" }, Lease = new LeaseOptions() },
                new CopilotPoolOptions { Urls = new[] { "a:1" }, Lease = new LeaseOptions { RedisUrl = "redis://127.0.0.1:1", Ttl = TimeSpan.FromMilliseconds(1) } },
                new CopilotPoolOptions { Urls = new[] { "a:1" }, Client = new CopilotClientOptions { Reconnect = ReconnectPolicy.Disabled } },
            };
            foreach (var o in bad)
            {
                var e = Assert.Throws<InvalidConfigException>(() => new CopilotPool(o), o.ToJson().ToJson());
                Assert.Equal(ErrorCodes.InvalidConfig, e.Code);
            }
            var pool = new CopilotPool(new CopilotPoolOptions { Urls = new[] { "127.0.0.1:" + Signals.FreePort() }, Client = new CopilotClientOptions { StartTimeout = TimeSpan.FromSeconds(2) } });
            try
            {
                using (var model = FakeModel.Start())
                {
                    var e = await Assert.ThrowsAsync<NoServerException>(() => pool.CreateSessionAsync(Config(model, "dotnet-pool-nowhere")));
                    Assert.True(e.IsRetriable && e.Number == 26 && e.Code == ErrorCodes.NoServer, "no_server is retriable: " + e);
                }
                Assert.Throws<InvalidConfigException>(() => pool.Drain("nope:1"));
                await Assert.ThrowsAsync<InvalidConfigException>(() => pool.CleanupSessionsAsync(new CleanupOptions()));
                Assert.Throws<InvalidConfigException>(() => pool.StartReaper(TimeSpan.Zero, new CleanupOptions { MaxAge = TimeSpan.FromSeconds(1) }));
                Assert.Equal(1, pool.Ranking("x").Count, "ranking");
                Assert.Equal(24, ErrorCodes.ToNumber(ErrorCodes.LeaseHeld));
                Assert.True(ErrorCodes.Create(ErrorCodes.LeaseLost, 25, "x") is LeaseLostException, "lease_lost is typed");
                Assert.True(ErrorCodes.Create(ErrorCodes.LeaseHeld, 24, "x") is LeaseHeldException, "lease_held is typed");
            }
            finally
            {
                await pool.DisposeAsync();
            }
            Assert.Throws<ObjectDisposedException>(() => pool.Drain("a:1"));
        }

        static async Task PlacementFailoverDrainMetrics()
        {
            using (var servers = new Servers(3))
            using (var model = FakeModel.Start())
            {
                var pool = new CopilotPool(Fast(servers));
                try
                {
                    await Hang.Guard(pool.StartAsync(), 60, "StartAsync");
                    const int n = 9;
                    var sessions = new List<CopilotSession>();
                    for (int i = 0; i < n; i++)
                    {
                        var id = "dotnet-pool-" + Pid + "-" + i;
                        var s = await Hang.Guard(pool.CreateSessionAsync(Config(model, id)), 60, "create " + id);
                        sessions.Add(s);
                        Assert.Equal(pool.Ranking(id)[0], s.Server, id + " on the first server of its ranking");
                        Assert.True(s.Pool == pool && s.Client == null && s.LeaseToken == null, "a pooled session without a lease");
                        await Reply(s, "one " + id);
                    }
                    Assert.True(sessions.Select(s => s.Server).Distinct().Count() >= 2, "sessions spread over the servers");

                    // Resume by id: its ranked server, its history.
                    var lastId = sessions[n - 1].SessionId;
                    await sessions[n - 1].DisposeAsync();
                    sessions[n - 1] = await Hang.Guard(pool.ResumeSessionAsync(lastId, Config(model)), 60, "resume");
                    Assert.Equal("REPLY one " + lastId, string.Join("|", await UserMessages(sessions[n - 1])));
                    await Assert.ThrowsAsync<SessionNotFoundException>(() => pool.ResumeSessionAsync("dotnet-never-created", Config(model)));

                    // Failover: SIGKILL the server of session 0 between turns.
                    var victim = sessions[0].Server;
                    var vi = servers.List.FindIndex(s => s.Url == victim);
                    var moved = sessions.Where(s => s.Server == victim).ToList();
                    var sw = Stopwatch.StartNew();
                    servers[vi].Kill();
                    await Until("the victim's sessions to move", 30, () => moved.All(s => s.Server != null && s.Server != victim));
                    Console.WriteLine("     failover of " + moved.Count + " session(s) took " + sw.ElapsedMilliseconds + " ms");
                    foreach (var s in moved)
                    {
                        await Reply(s, "two " + s.SessionId);
                        Assert.Equal("REPLY one " + s.SessionId + "|REPLY two " + s.SessionId, string.Join("|", await UserMessages(s)), "the whole history followed");
                    }
                    var m = pool.Metrics();
                    Assert.True(m.Failovers >= moved.Count && m.HealthyServers == 2 && !m.Servers[vi].Healthy && m.Servers[vi].FailoversOut >= moved.Count, "metrics after failover: " + m.Json);

                    // The victim comes back: its sessions return at their next prompt.
                    servers[vi].EnsureRunning();
                    await Until("the victim to be healthy", 30, () => State(pool, victim).Healthy);
                    await Reply(moved[0], "three");
                    Assert.Equal(victim, moved[0].Server, "back on its preferred server");
                    Assert.Equal(3, (await UserMessages(moved[0])).Count, "history after the return");

                    // Drain.
                    var drained = sessions[1].Server;
                    pool.Drain(drained);
                    Assert.True(State(pool, drained).Draining, "draining");
                    foreach (var s in sessions.Where(s => s.Server == drained).ToList())
                    {
                        await Reply(s, "drained");
                        Assert.True(s.Server != drained, s.SessionId + " left the drained server");
                    }
                    Assert.Equal(0, State(pool, drained).OpenSessions, "open on the drained server");
                    pool.Undrain(drained);

                    // Metrics.
                    m = pool.Metrics();
                    Assert.Equal(n, m.OpenSessions, "open sessions");
                    Assert.True(m.Servers.Sum(s => s.Calls) > 2 * n && m.Servers.Sum(s => s.TurnCount) >= n + moved.Count + 1, "calls and turns: " + m.Json);
                    Assert.True(double.IsPositiveInfinity(m.Servers[0].TurnBuckets.Last().Le), "+Inf bucket");
                    var text = pool.MetricsPrometheus();
                    Assert.Contains(text, "copilot_calls_total{server=\"" + victim + "\"}");
                    Assert.Contains(text, "copilot_pool_failovers_total ");
                    Assert.Contains(text, "# TYPE copilot_turn_seconds histogram");

                    // List and delete.
                    var listed = await pool.ListSessionsAsync();
                    Assert.Equal(1, listed.Count(x => x.SessionId == sessions[2].SessionId), "listed once");
                    var id2 = sessions[2].SessionId;
                    await sessions[2].DisposeAsync();
                    await pool.DeleteSessionAsync(id2);
                    await Assert.ThrowsAsync<SessionNotFoundException>(() => pool.DeleteSessionAsync(id2));
                    for (int i = 0; i < n; i++) if (i != 2) await sessions[i].DisposeAsync();
                    Assert.Equal(0, pool.Metrics().OpenSessions, "open after dispose");
                }
                finally
                {
                    await pool.DisposeAsync();
                }
            }
        }

        static async Task Leases()
        {
            using (var servers = new Servers(2))
            using (var redis = new Redis())
            using (var model = FakeModel.Start())
            {
                var one = new CopilotPool(Fast(servers, new LeaseOptions { RedisUrl = redis.Url, Ttl = TimeSpan.FromSeconds(3), Wait = TimeSpan.FromMilliseconds(800), Owner = "dotnet-instance-1" }));
                var two = new CopilotPool(Fast(servers, new LeaseOptions { RedisUrl = redis.Url, Ttl = TimeSpan.FromMilliseconds(600), Wait = TimeSpan.FromMilliseconds(800), Owner = "dotnet-instance-2" }));
                try
                {
                    var id = "dotnet-leased-" + Pid;
                    var s1 = await Hang.Guard(one.CreateSessionAsync(Config(model, id)), 60, "create");
                    var t1 = s1.LeaseToken;
                    Assert.True(t1.HasValue && t1.Value > 0, "a lease token");
                    await Reply(s1, "mine");

                    var sw = Stopwatch.StartNew();
                    var held = await Assert.ThrowsAsync<LeaseHeldException>(() => two.ResumeSessionAsync(id, Config(model)));
                    Assert.True(held.IsRetriable && held.Message.Contains("dotnet-instance-1"), "held: " + held.Message);
                    Assert.True(sw.ElapsedMilliseconds >= 700, "waited " + sw.ElapsedMilliseconds + " ms");
                    await Task.Delay(3500);
                    await Reply(s1, "still mine");

                    await s1.DisposeAsync();
                    CopilotSession s2 = null;
                    var end = DateTime.UtcNow.AddSeconds(10);
                    while (s2 == null)
                    {
                        try { s2 = await two.ResumeSessionAsync(id, Config(model)); }
                        catch (LeaseHeldException) { if (DateTime.UtcNow > end) throw; }
                    }
                    Assert.True(s2.LeaseToken > t1, "a higher token: " + t1 + " then " + s2.LeaseToken);
                    await Reply(s2, "yours");
                    Assert.Equal("REPLY mine|REPLY still mine|REPLY yours", string.Join("|", await UserMessages(s2)));

                    var key = "copilot:lease:" + id;
                    redis.Do("SET", key, "intruder|999", "PX", "60000");
                    Exception lost = null;
                    end = DateTime.UtcNow.AddSeconds(10);
                    while (lost == null && DateTime.UtcNow < end)
                    {
                        try { await s2.GetMessagesAsync(); await Task.Delay(50); }
                        catch (Exception e) { lost = e; }
                    }
                    Assert.True(lost is LeaseLostException, "lease_lost: " + lost);
                    await Assert.ThrowsAsync<LeaseLostException>(() => s2.SendAndWaitAsync("REPLY no"));
                    var m = two.Metrics();
                    Assert.True(m.LeasesLost >= 1 && m.LeaseWaits >= 1, "metrics: " + m.Json);
                    await s2.DisconnectAsync();
                    s2.Dispose();
                    Assert.Equal("intruder|999", redis.Do("GET", key), "the intruder's key is left alone");
                    redis.Do("DEL", key);
                    Assert.True(one.Metrics().LeasesAcquired >= 1, "acquired");
                }
                finally
                {
                    await one.DisposeAsync();
                    await two.DisposeAsync();
                }
            }
        }

        static async Task Reaper()
        {
            using (var servers = new Servers(1))
            using (var model = FakeModel.Start())
            {
                var pool = new CopilotPool(Fast(servers));
                var client = new CopilotClient(new CopilotClientOptions { CliUrl = servers[0].Url });
                try
                {
                    Func<string, string, Task> detached = async (id, text) =>
                    {
                        var s = await pool.CreateSessionAsync(Config(model, id));
                        await Reply(s, text);
                        await s.DisposeAsync();
                    };
                    var old = "dotnet-reap-old-" + Pid;
                    await detached(old, "old");
                    await Task.Delay(1300);
                    var deleted = await client.CleanupSessionsAsync(new CleanupOptions { MaxIdle = TimeSpan.FromSeconds(1) });
                    Assert.True(deleted.Any(x => x.SessionId == old), "the client deleted " + old);

                    var gone = "dotnet-reap-gone-" + Pid;
                    var openId = "dotnet-reap-open-" + Pid;
                    await detached(gone, "gone");
                    var open = await pool.CreateSessionAsync(Config(model, openId));
                    await Reply(open, "open");
                    await Task.Delay(1300);
                    deleted = await pool.CleanupSessionsAsync(new CleanupOptions { MaxIdle = TimeSpan.FromSeconds(1) });
                    Assert.True(deleted.Any(x => x.SessionId == gone) && !deleted.Any(x => x.SessionId == openId), "open sessions are kept");
                    deleted = await pool.CleanupSessionsAsync(new CleanupOptions { MaxIdle = TimeSpan.FromSeconds(1), IncludeOpen = true });
                    Assert.True(deleted.Any(x => x.SessionId == openId), "IncludeOpen deletes it");
                    await Assert.ThrowsAsync<SessionNotFoundException>(() => open.GetMessagesAsync());
                    open.Dispose();
                    Assert.True(pool.Metrics().Reaped >= 2, "reaped");

                    // The pool's background reaper.
                    var swept = "dotnet-reap-swept-" + Pid;
                    var keptId = "dotnet-reap-kept-" + Pid;
                    await detached(swept, "later");
                    var kept = await pool.CreateSessionAsync(Config(model, keptId));
                    await Reply(kept, "kept");
                    await Task.Delay(1300);
                    var sweeps = new List<ReaperSweep>();
                    var reaper = pool.StartReaper(TimeSpan.FromMilliseconds(200), new CleanupOptions { MaxIdle = TimeSpan.FromSeconds(1) }, sw => { lock (sweeps) sweeps.Add(sw); });
                    await Until("the pool reaper to delete " + swept, 20, () => { lock (sweeps) return sweeps.Any(x => x.Deleted.Contains(swept)); });
                    reaper.Dispose();
                    reaper.Dispose();
                    int after;
                    lock (sweeps)
                    {
                        after = sweeps.Count;
                        Assert.True(sweeps.All(x => x.Error == null && !x.Deleted.Contains(keptId)), "the open session is kept");
                    }
                    await Task.Delay(600);
                    lock (sweeps) Assert.Equal(after, sweeps.Count, "no sweep after Dispose");
                    await Reply(kept, "still here");
                    await kept.DisposeAsync();

                    // The client's background reaper, announced as reaper.swept.
                    var clientId = "dotnet-reap-client-" + Pid;
                    var cs = await client.CreateSessionAsync(Config(model, clientId));
                    await Reply(cs, "client");
                    await cs.DisposeAsync();
                    var announced = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    using (client.On("reaper.swept", ev => { if (ev.Metadata != null && ev.Metadata.ToJson().Contains(clientId)) announced.TrySetResult(true); }))
                    using (client.StartReaper(TimeSpan.FromMilliseconds(200), new CleanupOptions { MaxAge = TimeSpan.FromMilliseconds(1) }))
                    {
                        await Hang.Guard(announced.Task, 20, "the client reaper's reaper.swept for " + clientId);
                    }
                }
                finally
                {
                    await pool.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        static async Task ClientMetricsAndLogs()
        {
            using (var servers = new Servers(1))
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(new CopilotClientOptions { CliUrl = servers[0].Url });
                var records = new List<string>();
                try
                {
                    var s = await client.CreateSessionAsync(Config(model, "dotnet-client-metrics-" + Pid));
                    await Reply(s, "counted");
                    Assert.True(s.LeaseToken == null && s.Server == null && s.Pool == null, "a client's session has no lease and no pool server");
                    var m = client.Metrics();
                    Assert.True(m.Calls >= 2 && m.OpenSessions == 1 && m.TurnCount == 1 && m.TurnSeconds > 0, "client metrics: " + m.Json);
                    Assert.Contains(client.MetricsPrometheus(), "copilot_calls_total{server=\"" + servers[0].Url + "\"}");
                    await s.DisposeAsync();

                    // Logs: the pool's drain record, with its target.
                    CopilotLog.SetHandler(CopilotLogLevel.Information, (level, target, message) => { lock (records) records.Add(level + " " + target + " " + message); });
                    using (var pool = new CopilotPool(new CopilotPoolOptions { Urls = new[] { servers[0].Url } }))
                    {
                        pool.Drain(servers[0].Url);
                        await Until("the drain record", 10, () => { lock (records) return records.Any(x => x.StartsWith("Information copilot_core") && x.Contains("draining")); });
                        CopilotLog.SetHandler(CopilotLogLevel.Off, null);
                        int before;
                        lock (records) before = records.Count;
                        pool.Undrain(servers[0].Url);
                        pool.Drain(servers[0].Url);
                        await Task.Delay(200);
                        lock (records) Assert.Equal(before, records.Count, "records after Off");
                    }
                    var ts = new TraceSource("copilot-test", SourceLevels.All);
                    var listener = new RecordingListener();
                    ts.Listeners.Clear();
                    ts.Listeners.Add(listener);
                    CopilotLog.SetTraceSource(ts);
                    using (var pool = new CopilotPool(new CopilotPoolOptions { Urls = new[] { servers[0].Url } }))
                    {
                        pool.Drain(servers[0].Url);
                        await Until("the drain record in the TraceSource", 10, () => listener.Text.Contains("draining"));
                    }
                }
                finally
                {
                    CopilotLog.SetHandler(CopilotLogLevel.Off, null);
                    await client.DisposeAsync();
                }
            }
        }

        sealed class RecordingListener : TraceListener
        {
            readonly StringBuilder _b = new StringBuilder();
            public string Text { get { lock (_b) return _b.ToString(); } }
            public override void Write(string message) { lock (_b) _b.Append(message); }
            public override void WriteLine(string message) { lock (_b) _b.AppendLine(message); }
        }
    }
}
