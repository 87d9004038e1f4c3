// Surviving the CLI, seen from .NET (the port of core/tests/reliability.rs, issue 9): a CLI server
// killed and started again on the same port (idle and mid-turn), a hung CLI (SIGSTOP) found by
// the heartbeat, a lossy link (copilot-chaos proxy: reset, drop, refuse, blackhole, delay), a
// spawned CLI restarted within its budget, kill/restart cycles that must not leak, hostile peers,
// cancellation reaching a running handler's CancellationToken, and the new options. Every wait is
// bounded; every process started here is ended in a finally block.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class Reliability
    {
        public static void Register(Runner r)
        {
            r.Add("reliability_cli_restarted_on_the_same_port_idle_and_mid_turn", CliRestartedOnTheSamePort);
            r.Add("reliability_hung_cli_is_detected_by_the_heartbeat", HungCliDetectedByHeartbeat);
            r.Add("reliability_lossy_link_through_the_chaos_proxy", LossyLink);
            r.Add("reliability_spawned_cli_is_restarted_within_its_budget", SpawnedCliRestartedWithinBudget);
            r.Add("reliability_kill_restart_cycles_do_not_leak", KillRestartCyclesDoNotLeak);
            r.Add("reliability_hostile_peers_fail_typed_and_bounded", HostilePeers);
            r.Add("reliability_cancellation_reaches_running_handlers", CancellationReachesHandlers);
            r.Add("reliability_new_options_reach_the_core_and_are_validated", NewOptions);
        }

        static ExternalCli _cli;
        static readonly object CliGate = new object();

        /// <summary>The external CLI server these tests share (booting one takes seconds): started
        /// on first use, running again (on the same port) at the start of each test.</summary>
        static ExternalCli Cli
        {
            get
            {
                lock (CliGate)
                {
                    if (_cli == null) _cli = ExternalCli.Start();
                    else _cli.EnsureRunning();
                    return _cli;
                }
            }
        }

        /// <summary>Ends the shared CLI server (the suite's end).</summary>
        public static void Stop()
        {
            lock (CliGate)
            {
                if (_cli != null) _cli.Dispose();
                _cli = null;
            }
        }

        static SessionConfig Config(FakeModel m, params CopilotTool[] tools)
        {
            return new SessionConfig { Model = "gpt-4.1", Provider = m.Provider, Tools = tools.Length > 0 ? tools.ToList() : null };
        }

        /// <summary>Quick reconnection for tests: the server comes back within a few seconds.</summary>
        static ReconnectPolicy FastReconnect()
        {
            return new ReconnectPolicy
            {
                InitialDelay = TimeSpan.FromMilliseconds(50),
                MaxDelay = TimeSpan.FromMilliseconds(300),
                MaxAttempts = 200,
                CallWait = TimeSpan.FromSeconds(20),
            };
        }

        static CopilotClientOptions UrlOptions(string url)
        {
            return new CopilotClientOptions { CliUrl = url, Reconnect = FastReconnect(), StartTimeout = TimeSpan.FromSeconds(5) };
        }

        static CopilotTool EchoTool()
        {
            return CopilotTool.Create("echo_tool", "Echoes its argument", "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"string\"}}}",
                inv => (object)("echoed " + inv.Arguments.ToJson()));
        }

        static async Task<string> Answer(CopilotSession session, string prompt)
        {
            var ev = await Hang.Guard(session.SendAndWaitAsync(new MessageOptions { Prompt = prompt, Timeout = TimeSpan.FromSeconds(60) }), 70, prompt);
            Assert.True(ev != null, "an answer to " + prompt);
            return ev.Data.Content;
        }

        static void Report(string line) { Console.WriteLine("     " + line); }

        static async Task ForceDispose(CopilotClient client)
        {
            try { await Hang.Guard(client.ForceStopAsync(), 15, "ForceStopAsync"); }
            catch (CopilotException) { }
            client.Dispose();
        }

        // ------------------------------------------------------------------ 1

        /// <summary>The guide's deployment: the CLI runs as a service that restarts. Killed while
        /// idle and mid-turn, then started again on the same port: the client reconnects and
        /// resumes the session (its tool approved without a permission handler), a subscription
        /// made before keeps firing, and the interrupted send-and-wait fails at once with
        /// turn_outcome_unknown.</summary>
        static async Task CliRestartedOnTheSamePort()
        {
            var cli = Cli;
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(UrlOptions(cli.Url));
                try
                {
                    using (var life = new LifecycleLog(client, ConnectionEvents.All))
                    {
                        var session = await client.CreateSessionAsync(Config(model, EchoTool()));
                        using (var answers = new EventCollector(session, "assistant.message"))
                        {
                            Assert.Equal("one", await Answer(session, "REPLY one"));
                            Assert.True(answers.Snapshot().Any(e => e.Data.Content == "one"), "the subscription saw `one`");

                            // Killed while idle, restarted on the same port.
                            cli.Kill();
                            var lost = await life.Next(ConnectionEvents.Lost, 5);
                            Assert.Equal("", lost.SessionId, "connection events name no session");
                            Assert.Equal("transport_closed", lost.Metadata["code"].AsString(), lost.Json.ToJson());
                            var attempt = await life.Next(ConnectionEvents.Reconnecting, 5);
                            Assert.True(attempt.Metadata["attempt"].AsLong() >= 1, "attempt number: " + attempt.Json.ToJson());
                            // A call made while reconnecting waits for the connection (CallWait).
                            var waiting = client.PingAsync("during");
                            cli.Restart();
                            var restored = await life.Next(ConnectionEvents.Restored, 30);
                            Assert.Equal(1L, restored.Metadata["sessionsResumed"].AsLong(), restored.Json.ToJson());
                            Assert.Equal("pong: during", (await Hang.Guard(waiting, 30, "the ping made while reconnecting")).Message);
                            Assert.Equal("two", await Answer(session, "REPLY two"));
                            Assert.True(answers.Snapshot().Any(e => e.Data.Content == "two"), "the subscription survived the reconnect");
                            // The session's own tool runs without a permission handler.
                            Assert.Contains(await Answer(session, "CALL echo_tool {\"v\":\"x\"}"), "echoed");
                        }

                        // Killed mid-turn: the waiting call fails at once with turn_outcome_unknown.
                        using (var turnEvents = new EventCollector(session))
                        {
                            var turn = session.SendAndWaitAsync(new MessageOptions { Prompt = "HANG", Timeout = TimeSpan.FromSeconds(120) });
                            await turnEvents.WaitFor(e => e.Type == "assistant.turn_start", 60, "assistant.turn_start");
                            var sw = Stopwatch.StartNew();
                            cli.Kill();
                            var e1 = await Assert.ThrowsAsync<TurnOutcomeUnknownException>(() => Hang.Guard(turn, 10, "send-and-wait after the kill"));
                            var took = sw.Elapsed;
                            Report("mid-turn kill: SendAndWaitAsync failed " + took.TotalMilliseconds.ToString("F0") + " ms after the kill");
                            Assert.Equal(ErrorCodes.TurnOutcomeUnknown, e1.Code);
                            Assert.Equal(23, e1.Number);
                            Assert.Contains(e1.Message, session.SessionId, "the message names the session");
                            Assert.True(!e1.IsRetriable, "a turn whose outcome is unknown is not blindly retriable");
                            Assert.True(took < TimeSpan.FromSeconds(1), "failed within 1 s of the kill, took " + took);
                        }
                        cli.Restart();
                        await life.Next(ConnectionEvents.Restored, 30);
                        Assert.Equal("three", await Answer(session, "REPLY three"));
                        await Hang.Guard(client.StopAsync(), 30, "StopAsync");
                    }
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 2

        /// <summary>A hung CLI (SIGSTOP: the socket stays open, nothing answers) is declared dead by
        /// the heartbeat: a call without a deadline of its own fails with timeout within the bound;
        /// after SIGCONT the client is back.</summary>
        static async Task HungCliDetectedByHeartbeat()
        {
            var cli = Cli;
            var o = UrlOptions(cli.Url);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
            o.HeartbeatTimeout = TimeSpan.FromSeconds(1);
            o.StartTimeout = TimeSpan.FromSeconds(2);
            var client = new CopilotClient(o);
            try
            {
                await client.StartAsync();
                await client.PingAsync();
                await cli.Stop();
                var sw = Stopwatch.StartNew();
                // No per-call deadline: only the heartbeat can end this call.
                var e = await Assert.ThrowsAsync<CopilotTimeoutException>(() =>
                    Hang.Guard(client.RpcAsync("session.list", JsonData.Object(), Timeout.InfiniteTimeSpan), 10, "a call to a stopped CLI"));
                var took = sw.Elapsed;
                Report("SIGSTOP detected after " + took.TotalMilliseconds.ToString("F0") + " ms: " + e.Message);
                Assert.Equal(ErrorCodes.Timeout, e.Code);
                Assert.True(e.IsRetriable, "a heartbeat timeout is retriable");
                Assert.True(took < TimeSpan.FromMilliseconds(500 + 1000 + 1500), "detected within ~3 s, took " + took);
                cli.Signal(Signals.SIGCONT);
                var back = Stopwatch.StartNew();
                PingResponse pong = null;
                while (pong == null)
                {
                    if (back.Elapsed > TimeSpan.FromSeconds(30)) throw new TestFailure("the client did not recover within 30 s");
                    try { pong = await Hang.Guard(client.PingAsync("back"), 30, "ping after SIGCONT"); }
                    catch (CopilotException x)
                    {
                        Assert.True(x.IsRetriable, "errors while recovering are retriable: " + x.Code + " " + x.Message);
                        await Task.Delay(100);
                    }
                }
                Report("recovered " + back.ElapsedMilliseconds + " ms after SIGCONT");
                Assert.Equal("pong: back", pong.Message);
                await Hang.Guard(client.StopAsync(), 30, "StopAsync");
            }
            finally
            {
                cli.Signal(Signals.SIGCONT);
                await ForceDispose(client);
            }
        }

        // ------------------------------------------------------------------ 3

        /// <summary>A lossy link (copilot-chaos proxy between the client and the CLI): reset and drop
        /// during a turn give typed errors and the client recovers; a refused reconnect makes calls
        /// fail with reconnecting after CallWait; a blackhole is found by the heartbeat (timeout);
        /// a 200 ms delay only slows calls down.</summary>
        static async Task LossyLink()
        {
            using (var model = FakeModel.Start())
            using (var proxy = Chaos.Proxy(Cli.Port))
            {
                var o = UrlOptions(proxy.Url);
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                o.HeartbeatTimeout = TimeSpan.FromSeconds(1);
                o.StartTimeout = TimeSpan.FromSeconds(2);
                o.Reconnect.CallWait = TimeSpan.FromSeconds(1);
                var client = new CopilotClient(o);
                try
                {
                    using (var life = new LifecycleLog(client, ConnectionEvents.All))
                    {
                        var session = await client.CreateSessionAsync(Config(model));
                        Assert.Equal("a", await Answer(session, "REPLY a"));

                        foreach (var mode in new[] { "reset", "drop" })
                        {
                            using (var events = new EventCollector(session))
                            {
                                var turn = session.SendAndWaitAsync(new MessageOptions { Prompt = "HANG", Timeout = TimeSpan.FromSeconds(60) });
                                await events.WaitFor(e => e.Type == "assistant.turn_start", 60, "assistant.turn_start");
                                proxy.Command(mode);
                                var e1 = await Assert.ThrowsAsync<TurnOutcomeUnknownException>(() => Hang.Guard(turn, 10, "the turn after `" + mode + "`"));
                                Assert.Equal(ErrorCodes.TurnOutcomeUnknown, e1.Code, mode);
                            }
                            var lost = await life.Next(ConnectionEvents.Lost, 5);
                            Assert.Equal("transport_closed", lost.Metadata["code"].AsString(), mode + ": " + lost.Json.ToJson());
                            await life.Next(ConnectionEvents.Restored, 15);
                            // The CLI kept the interrupted turn running (only the link broke): stop it.
                            await Hang.Guard(session.AbortAsync(), 15, "abort after " + mode);
                            Assert.Equal("after " + mode, await Answer(session, "REPLY after " + mode));
                        }

                        // The server cannot be reached: calls wait CallWait, then fail with reconnecting.
                        proxy.Command("refuse");
                        proxy.Command("drop");
                        await life.Next(ConnectionEvents.Lost, 5);
                        var sw = Stopwatch.StartNew();
                        var e2 = await Assert.ThrowsAsync<CopilotConnectionException>(() => Hang.Guard(client.PingAsync("away"), 10, "a ping while reconnecting"));
                        Report("while unreachable: " + e2.Code + " after " + sw.ElapsedMilliseconds + " ms (CallWait 1 s)");
                        Assert.Equal(ErrorCodes.Reconnecting, e2.Code, e2.Message);
                        Assert.Equal(21, e2.Number);
                        Assert.True(e2.IsRetriable, "reconnecting is retriable");
                        proxy.Command("pass");
                        await life.Next(ConnectionEvents.Restored, 15);
                        Assert.Equal("pong: back", (await client.PingAsync("back")).Message);

                        // Blackhole: every byte swallowed; only the heartbeat can tell.
                        proxy.Command("blackhole");
                        sw.Restart();
                        var e3 = await Assert.ThrowsAsync<CopilotTimeoutException>(() =>
                            Hang.Guard(client.RpcAsync("session.list", JsonData.Object(), Timeout.InfiniteTimeSpan), 10, "a call into the blackhole"));
                        var took = sw.Elapsed;
                        Report("blackhole detected after " + took.TotalMilliseconds.ToString("F0") + " ms");
                        Assert.Equal(ErrorCodes.Timeout, e3.Code);
                        Assert.True(took < TimeSpan.FromMilliseconds(500 + 1000 + 1500), "detected within ~3 s, took " + took);
                        var lostByHeartbeat = await life.Next(ConnectionEvents.Lost, 5);
                        Assert.Equal("timeout", lostByHeartbeat.Metadata["code"].AsString(), lostByHeartbeat.Json.ToJson());
                        proxy.Command("pass");
                        await life.Next(ConnectionEvents.Restored, 20);
                        Assert.Equal("pong: again", (await client.PingAsync("again")).Message);

                        // A slow link: calls still succeed, slower.
                        proxy.Command("delay 200");
                        sw.Restart();
                        Assert.Equal("pong: slow", (await Hang.Guard(client.PingAsync("slow"), 10, "a ping over a slow link")).Message);
                        var slow = sw.Elapsed;
                        Assert.Equal("slowly", await Answer(session, "REPLY slowly"));
                        Report("ping over a 200 ms link: " + slow.TotalMilliseconds.ToString("F0") + " ms");
                        Assert.True(slow >= TimeSpan.FromMilliseconds(350), "the delay applies both ways, took " + slow);
                        proxy.Command("pass");
                        await Hang.Guard(client.StopAsync(), 30, "StopAsync");
                    }
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 4

        /// <summary>A spawned CLI that dies is restarted (a new pid) and the session resumed; once
        /// the restart budget is spent the client gives up with reconnect_failed and leaves no
        /// process behind; StartAsync tries again.</summary>
        static async Task SpawnedCliRestartedWithinBudget()
        {
            var before = Proc.ChildrenMatching(Env.CliPath);
            using (var model = FakeModel.Start())
            {
                var o = Env.OwnCli(true);
                o.Reconnect = FastReconnect();
                o.Reconnect.MaxRestarts = 2;
                var client = new CopilotClient(o);
                try
                {
                    using (var life = new LifecycleLog(client, null))
                    {
                        var session = await client.CreateSessionAsync(Config(model));
                        Assert.Equal("a", await Answer(session, "REPLY a"));
                        var pids = new List<int> { client.CliPid.Value };
                        for (int round = 0; round < 2; round++)
                        {
                            Signals.Send(pids.Last(), Signals.SIGKILL);
                            var restored = await life.Next(ConnectionEvents.Restored, 30);
                            Assert.True(restored.Metadata["restarted"].AsBool(), "restarted: " + restored.Json.ToJson());
                            var pid = client.CliPid.Value;
                            Assert.True(!pids.Contains(pid), "round " + round + ": a new CLI (pid " + pid + ")");
                            pids.Add(pid);
                            Assert.Equal("r" + round, await Answer(session, "REPLY r" + round));
                        }
                        Signals.Send(pids.Last(), Signals.SIGKILL);
                        var gaveUp = await life.Next(ConnectionEvents.GaveUp, 30);
                        Assert.Equal("reconnect_failed", gaveUp.Metadata["code"].AsString(), gaveUp.Json.ToJson());
                        var e = await Assert.ThrowsAsync<CopilotConnectionException>(() => client.PingAsync());
                        Assert.Equal(ErrorCodes.ReconnectFailed, e.Code, e.Message);
                        Assert.Equal(22, e.Number);
                        Assert.Contains(e.Message, "restart budget");
                        var ended = await Assert.ThrowsAsync<CopilotConnectionException>(() => session.SendAsync("x"));
                        Assert.Equal(ErrorCodes.ReconnectFailed, ended.Code, ended.Message);
                        foreach (var pid in pids)
                            Assert.True(await Proc.WaitDead(pid, 5), "CLI " + pid + " still runs");
                        var left = Proc.ChildrenMatching(Env.CliPath).Except(before).ToList();
                        Assert.True(left.Count == 0, "orphans: " + string.Join(", ", left));
                        Report("pids " + string.Join(" -> ", pids) + ", then gave up: " + gaveUp.Metadata.ToJson());
                        // StartAsync tries again.
                        await client.StartAsync();
                        await client.PingAsync();
                        await Hang.Guard(client.StopAsync(), 30, "StopAsync");
                    }
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 5

        /// <summary>100 connection kill/restart cycles through the proxy (reset, restored, ping)
        /// with a session open: descriptors, threads and memory of this process come back to their
        /// level. COPILOT_SOAK_CYCLES sets the count.</summary>
        static async Task KillRestartCyclesDoNotLeak()
        {
            int cycles;
            if (!int.TryParse(System.Environment.GetEnvironmentVariable("COPILOT_SOAK_CYCLES"), out cycles)) cycles = 100;
            using (var model = FakeModel.Start())
            using (var proxy = Chaos.Proxy(Cli.Port))
            {
                var o = UrlOptions(proxy.Url);
                o.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(10);
                var client = new CopilotClient(o);
                try
                {
                    using (var life = new LifecycleLog(client, new[] { ConnectionEvents.Restored }))
                    {
                        var session = await client.CreateSessionAsync(Config(model));
                        using (var answers = new EventCollector(session, "assistant.message"))
                        {
                            Assert.Equal("warm", await Answer(session, "REPLY warm"));
                            var start = Proc.Now();
                            var afterFirst = start;
                            var sw = Stopwatch.StartNew();
                            for (int i = 0; i < cycles; i++)
                            {
                                proxy.Command("reset");
                                await life.Next(ConnectionEvents.Restored, 30);
                                await Hang.Guard(client.PingAsync(), 30, "ping after cycle " + i);
                                if (i == 0) afterFirst = Proc.Now();
                            }
                            var elapsed = sw.Elapsed;
                            Assert.Equal("after", await Answer(session, "REPLY after"));
                            Assert.True(answers.Snapshot().Any(e => e.Data.Content == "after"), "the subscription survived " + cycles + " reconnects");
                            await Task.Delay(300);
                            var end = Proc.Now();
                            Report(cycles + " reset/restore cycles in " + elapsed.TotalSeconds.ToString("F1") + " s");
                            Report("start:   " + start);
                            Report("cycle 1: " + afterFirst);
                            Report("end:     " + end);
                            Assert.True(end.Fds <= afterFirst.Fds + 2, "descriptors leak: " + afterFirst + " -> " + end);
                            Assert.True(end.Threads <= afterFirst.Threads + 2, "threads leak: " + afterFirst + " -> " + end);
                            Assert.True(end.RssKiB < afterFirst.RssKiB + 32 * 1024, "memory grows: " + afterFirst + " -> " + end);
                        }
                        await Hang.Guard(client.StopAsync(), 30, "StopAsync");
                    }
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 6

        /// <summary>Hostile peers (copilot-chaos peer): a silent one and one that answers with
        /// unknown ids make calls fail with timeout within RequestTimeout; a malformed header is a
        /// framing error at once. Nothing hangs.</summary>
        static async Task HostilePeers()
        {
            foreach (var mode in new[] { "silent", "unknown-id" })
            {
                using (var peer = Chaos.Peer(mode))
                {
                    var client = new CopilotClient(new CopilotClientOptions
                    {
                        CliUrl = peer.Url,
                        RequestTimeout = TimeSpan.FromSeconds(1),
                        HeartbeatInterval = TimeSpan.Zero,
                        Reconnect = ReconnectPolicy.Disabled,
                        StartTimeout = TimeSpan.FromSeconds(5),
                    });
                    try
                    {
                        await Hang.Guard(client.StartAsync(), 10, mode + ": the handshake");
                        var sw = Stopwatch.StartNew();
                        var e = await Assert.ThrowsAsync<CopilotTimeoutException>(() => Hang.Guard(client.RpcAsync("session.list", JsonData.Object()), 10, mode + ": a call"), mode);
                        var took = sw.Elapsed;
                        Report(mode + ": timeout after " + took.TotalMilliseconds.ToString("F0") + " ms (RequestTimeout 1 s)");
                        Assert.Equal(ErrorCodes.Timeout, e.Code, mode);
                        Assert.True(took >= TimeSpan.FromMilliseconds(900) && took < TimeSpan.FromSeconds(3), mode + ": took " + took);
                        // The per-call deadline overrides RequestTimeout.
                        sw.Restart();
                        await Assert.ThrowsAsync<CopilotTimeoutException>(() => Hang.Guard(client.RpcAsync("session.list", JsonData.Object(), TimeSpan.FromMilliseconds(300)), 10, mode + ": a call with its own deadline"), mode);
                        Assert.True(sw.Elapsed < TimeSpan.FromMilliseconds(900), mode + ": the per-call deadline applies, took " + sw.Elapsed);
                        var count = int.Parse(peer.Command("count").Split(' ')[2]);
                        Assert.True(count >= 3, mode + ": the peer received the handshake and both calls, count " + count);
                    }
                    finally
                    {
                        await ForceDispose(client);
                    }
                }
            }
            using (var peer = Chaos.Peer("bad-header"))
            {
                var client = new CopilotClient(new CopilotClientOptions
                {
                    CliUrl = peer.Url,
                    HeartbeatInterval = TimeSpan.Zero,
                    Reconnect = ReconnectPolicy.Disabled,
                });
                try
                {
                    await Hang.Guard(client.StartAsync(), 10, "bad-header: the handshake");
                    var sw = Stopwatch.StartNew();
                    var e = await Assert.ThrowsAsync<CopilotConnectionException>(() => Hang.Guard(client.PingAsync(), 10, "bad-header: a call"));
                    Report("bad-header: " + e.Code + " after " + sw.ElapsedMilliseconds + " ms: " + e.Message);
                    Assert.Equal(ErrorCodes.FrameHeader, e.Code, e.Message);
                    Assert.True(e.IsTransportFailure, "a framing error breaks the connection");
                    Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), "at once, took " + sw.Elapsed);
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 7

        /// <summary>One call of the test tool: when it started, and the reason it saw cancelled.</summary>
        sealed class ToolCall
        {
            public readonly TaskCompletionSource<bool> Started = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            public readonly TaskCompletionSource<string> Cancelled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>AbortAsync, a send-and-wait timeout with AbortOnTimeout, and DisconnectAsync
        /// cancel the CancellationToken of a running tool handler (within 2 s), with the core's
        /// reason; the late answer is ignored.</summary>
        static async Task CancellationReachesHandlers()
        {
            using (var model = FakeModel.Start())
            {
                ToolCall current = null;
                var tool = CopilotTool.Create("wait_forever", "Waits until it is cancelled", "{\"type\":\"object\",\"properties\":{}}",
                    async (inv, ct) =>
                    {
                        var call = Volatile.Read(ref current);
                        call.Started.TrySetResult(ct.IsCancellationRequested);
                        try
                        {
                            await Task.Delay(Timeout.Infinite, ct);
                        }
                        catch (OperationCanceledException)
                        {
                            call.Cancelled.TrySetResult(inv.CancellationReason ?? "(no reason)");
                            throw;
                        }
                        return "never";
                    });
                var client = new CopilotClient(UrlOptions(Cli.Url));
                try
                {
                    var session = await client.CreateSessionAsync(Config(model, tool));
                    using (var events = new EventCollector(session, "session.idle"))
                    {
                        // AbortAsync.
                        var c1 = new ToolCall();
                        Volatile.Write(ref current, c1);
                        await session.SendAsync("CALL wait_forever {}");
                        Assert.True(!await Hang.Guard(c1.Started.Task, 30, "the tool started"), "the token is not cancelled while the call is wanted");
                        var sw = Stopwatch.StartNew();
                        await session.AbortAsync();
                        var reason = await Hang.Guard(c1.Cancelled.Task, 2, "the handler's cancellation after AbortAsync");
                        Report("AbortAsync reached the handler's token in " + sw.ElapsedMilliseconds + " ms: " + reason);
                        Assert.Contains(reason, "aborted");
                        await events.WaitFor(e => true, 30, "session.idle after the abort");
                    }

                    // A send-and-wait timeout with AbortOnTimeout.
                    var c2 = new ToolCall();
                    Volatile.Write(ref current, c2);
                    var e2 = await Assert.ThrowsAsync<CopilotTimeoutException>(() => Hang.Guard(
                        session.SendAndWaitAsync(new MessageOptions { Prompt = "CALL wait_forever {}", Timeout = TimeSpan.FromSeconds(3), AbortOnTimeout = true }), 30, "send-and-wait"));
                    Assert.Equal(ErrorCodes.Timeout, e2.Code);
                    Assert.Contains(await Hang.Guard(c2.Cancelled.Task, 2, "the handler's cancellation after the timeout"), "aborted");

                    // DisconnectAsync.
                    var c3 = new ToolCall();
                    Volatile.Write(ref current, c3);
                    await session.SendAsync("CALL wait_forever {}");
                    await Hang.Guard(c3.Started.Task, 30, "the tool started again");
                    await Hang.Guard(session.DisconnectAsync(), 15, "DisconnectAsync");
                    var r3 = await Hang.Guard(c3.Cancelled.Task, 2, "the handler's cancellation after DisconnectAsync");
                    Report("DisconnectAsync: " + r3);
                    await session.DisposeAsync();
                    // Every handler ended and its cancellation was released.
                    var end = DateTime.UtcNow.AddSeconds(5);
                    while (CopilotSession.RunningRequestCount > 0 && DateTime.UtcNow < end) await Task.Delay(20);
                    Assert.Equal(0, CopilotSession.RunningRequestCount, "running handlers");
                    await Hang.Guard(client.StopAsync(), 30, "StopAsync");
                }
                finally
                {
                    await ForceDispose(client);
                }
            }
        }

        // ------------------------------------------------------------------ 8

        /// <summary>The new options reach the core as its JSON (durations in seconds), the core
        /// accepts every key, and values it refuses are InvalidConfigException naming the option.</summary>
        static async Task NewOptions()
        {
            // ABI 4: per-call deadlines, host requests cancelled through the request callback.
            Assert.True(CopilotRuntime.AbiVersion >= 4, "libcopilot ABI >= 4, got " + CopilotRuntime.AbiVersion);
            var o = new CopilotClientOptions
            {
                CliUrl = "127.0.0.1:1",
                RequestTimeout = TimeSpan.Zero,
                Reconnect = new ReconnectPolicy
                {
                    MaxAttempts = 3,
                    InitialDelay = TimeSpan.FromMilliseconds(50),
                    MaxDelay = TimeSpan.FromSeconds(2),
                    CallWait = TimeSpan.Zero,
                    MaxRestarts = 4,
                    RestartWindow = TimeSpan.FromSeconds(30),
                },
                HeartbeatInterval = TimeSpan.FromMilliseconds(250),
                HeartbeatTimeout = TimeSpan.FromSeconds(2),
                TcpKeepalive = TimeSpan.Zero,
                TcpUserTimeout = TimeSpan.FromSeconds(5),
            };
            Assert.Equal("{\"cliUrl\":\"127.0.0.1:1\",\"requestTimeout\":0,\"reconnect\":{\"enabled\":true,\"maxAttempts\":3,\"initialDelay\":0.05,\"maxDelay\":2,\"callWait\":0,\"maxRestarts\":4,\"restartWindow\":30},\"heartbeatInterval\":0.25,\"heartbeatTimeout\":2,\"tcpKeepalive\":0,\"tcpUserTimeout\":5}",
                o.ToJson().ToJson(), "client options JSON");
            new CopilotClient(o).Dispose(); // the core knows every key
            Assert.Equal("{\"enabled\":false}", ReconnectPolicy.Disabled.ToJson().ToJson());
            new CopilotClient(new CopilotClientOptions { CliUrl = "127.0.0.1:1", Reconnect = ReconnectPolicy.Disabled }).Dispose();
            Assert.Equal("{\"prompt\":\"x\",\"timeout\":90,\"idleTimeout\":1.5}",
                new MessageOptions { Prompt = "x", Timeout = TimeSpan.FromSeconds(90), IdleTimeout = TimeSpan.FromSeconds(1.5) }.ToJson().ToJson());

            var bad = new List<KeyValuePair<string, Action<CopilotClientOptions>>>
            {
                new KeyValuePair<string, Action<CopilotClientOptions>>("maxAttempts", x => x.Reconnect = new ReconnectPolicy { MaxAttempts = -1 }),
                new KeyValuePair<string, Action<CopilotClientOptions>>("maxRestarts", x => x.Reconnect = new ReconnectPolicy { MaxRestarts = -2 }),
                new KeyValuePair<string, Action<CopilotClientOptions>>("callWait", x => x.Reconnect = new ReconnectPolicy { CallWait = TimeSpan.FromSeconds(-1) }),
                new KeyValuePair<string, Action<CopilotClientOptions>>("initialDelay", x => x.Reconnect = new ReconnectPolicy { InitialDelay = TimeSpan.MaxValue }),
                new KeyValuePair<string, Action<CopilotClientOptions>>("requestTimeout", x => x.RequestTimeout = TimeSpan.FromSeconds(-1)),
                new KeyValuePair<string, Action<CopilotClientOptions>>("heartbeatInterval", x => x.HeartbeatInterval = TimeSpan.FromSeconds(-1)),
                new KeyValuePair<string, Action<CopilotClientOptions>>("heartbeatTimeout", x => x.HeartbeatTimeout = TimeSpan.FromMilliseconds(-5)),
                new KeyValuePair<string, Action<CopilotClientOptions>>("tcpKeepalive", x => x.TcpKeepalive = TimeSpan.FromSeconds(-10)),
                new KeyValuePair<string, Action<CopilotClientOptions>>("tcpUserTimeout", x => x.TcpUserTimeout = TimeSpan.FromSeconds(-20)),
            };
            foreach (var b in bad)
            {
                var x = new CopilotClientOptions { CliUrl = "127.0.0.1:1" };
                b.Value(x);
                var e = Assert.Throws<InvalidConfigException>(() => new CopilotClient(x), b.Key);
                Assert.Equal(ErrorCodes.InvalidConfig, e.Code, b.Key);
                Assert.Contains(e.Message, b.Key, "the message names the option");
            }

            // Per call: a negative deadline is refused by the library; a bad IdleTimeout by the core.
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(UrlOptions(Cli.Url));
                try
                {
                    await Assert.ThrowsAsync<InvalidConfigException>(() => client.RpcAsync("ping", null, TimeSpan.FromSeconds(-3)), "a negative per-call timeout");
                    Assert.Equal("pong: ok", (await client.RpcAsync("ping", JsonData.Object().Set("message", "ok"), Timeout.InfiniteTimeSpan))["message"].AsString());
                    var session = await client.CreateSessionAsync(Config(model));
                    var e = await Assert.ThrowsAsync<InvalidConfigException>(() =>
                        session.SendAndWaitAsync(new MessageOptions { Prompt = "REPLY x", IdleTimeout = TimeSpan.FromSeconds(-1) }));
                    Assert.Contains(e.Message, "idleTimeout");
                    Assert.Equal("in time", (await session.SendAndWaitAsync(new MessageOptions { Prompt = "REPLY in time", IdleTimeout = TimeSpan.FromSeconds(20) })).Data.Content);
                    Assert.Equal("gpt-4.1", (await session.RpcAsync("session.model.getCurrent", null, TimeSpan.FromSeconds(10)))["modelId"].AsString(), "session rpc with a deadline");
                    await Assert.ThrowsAsync<InvalidConfigException>(() => session.RpcAsync("session.model.getCurrent", null, TimeSpan.FromSeconds(-1)), "a negative per-call timeout (session)");
                    await session.DisposeAsync();
                }
                finally
                {
                    await client.DisposeAsync();
                }
            }
        }
    }
}
