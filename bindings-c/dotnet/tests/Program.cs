// The .NET suite: every shared scenario, the named code-level tests (abort_mid_stream,
// resume_from_second_client, list_and_delete, connection_token, cli_killed_mid_turn,
// ping_before_start), the C#
// sample of BACKEND-SERVICES.md, and the rest of the surface, all against the real CLI.
//
// mcs (C# 7.2) has no `await using` and no `async Task Main`: the tests call DisposeAsync()
// explicitly where a .NET user would write `await using`, and Main blocks on Run().

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class Program
    {
        static int Main(string[] args)
        {
            string filter = args.Length > 0 ? args[0] : null;
            var runner = new Runner();
            var files = Scenarios.Files();
            foreach (var f in files)
            {
                var name = f;
                runner.Add("scenario:" + name, () => Scenarios.Run(name));
            }
            Tests.Register(runner);
            Reliability.Register(runner);
            PoolTests.Register(runner);
            Sample.Register(runner);
            TypedTests.Register(runner);
            TypedHookTests.Register(runner);
            ConnectionTests.Register(runner);
            OfficialHandlerTests.Register(runner);
            OfficialQuickstartTests.Register(runner);
            OfficialFeatureTests.Register(runner);
            // Last: every native call of the tests above completed exactly once (none left pending).
            runner.Add("every_native_call_completed", () =>
            {
                Assert.Equal(0, Calls.PendingCount, "calls whose completion never ran");
                return Task.FromResult(0);
            });
            int failed;
            try
            {
                // Every scenario file is registered above; check anyway (against the folder, read
                // again) so that a change to the registration can never skip one silently.
                var registered = string.Join(",", runner.Names.Where(n => n.StartsWith("scenario:")).Select(n => n.Substring("scenario:".Length)));
                var onDisk = string.Join(",", Scenarios.Files());
                if (registered != onDisk || files.Count == 0)
                {
                    Console.WriteLine("FAIL every_scenario_file_is_run: registered [" + registered + "], files [" + onDisk + "]");
                    return 1;
                }
                failed = runner.Run(filter, 240);
                if (GitHub.Copilot.SDK.Protocol.StrictTypes.Enabled)
                {
                    // Every event delivered and every typed result was read through the generated types.
                    Console.WriteLine(GitHub.Copilot.SDK.Protocol.StrictTypes.Summary());
                    var strictFailures = GitHub.Copilot.SDK.Protocol.StrictTypes.Failures;
                    foreach (var f in strictFailures.Take(50)) Console.WriteLine("  strict failure: " + f);
                    if (strictFailures.Count > 0) failed++;
                }
            }
            finally
            {
                try { Shared.Stop(); } catch (Exception e) { Console.WriteLine("stopping the shared CLI failed: " + e.Message); }
                try { Reliability.Stop(); } catch (Exception e) { Console.WriteLine("stopping the reliability tests' CLI failed: " + e.Message); }
                // Mono 6.8 waits at exit for the library's callback thread unless it has ended.
                CopilotRuntime.Shutdown();
                Env.Cleanup();
            }
            return failed == 0 ? 0 : 1;
        }
    }

    static class Tests
    {
        static SessionConfig Config(FakeModel m)
        {
            return new SessionConfig { Model = "gpt-4.1", Provider = m.Provider };
        }

        public static void Register(Runner r)
        {
            r.Add("abort_mid_stream", AbortMidStream);
            r.Add("resume_from_second_client", ResumeFromSecondClient);
            r.Add("list_and_delete", ListAndDelete);
            r.Add("connection_token", ConnectionToken);
            r.Add("cli_killed_mid_turn", CliKilledMidTurn);
            r.Add("ping_before_start", PingBeforeStart);
            r.Add("request_kinds_match_the_core", RequestKindsMatchTheCore);
            r.Add("scenario_payload_patterns", PayloadPatterns);
            r.Add("client_level_methods", ClientLevelMethods);
            r.Add("typed_errors_for_bad_options_and_unreachable_servers", TypedErrors);
            r.Add("cancellation_token_cancels_a_wait_and_the_turn_goes_on", CancellationTokenCancels);
            r.Add("send_and_wait_timeout_and_abort_on_timeout", SendAndWaitTimeout);
            r.Add("events_in_wire_order_with_on_event_and_lifecycle", EventsInOrder);
            r.Add("tool_results_of_every_shape_and_invocation_fields", ToolResultShapes);
            r.Add("hook_denies_a_tool_and_exit_plan_mode", HookDeniesAndExitPlanMode);
            r.Add("lifecycle_type_filter_before_start", LifecycleTypeFilter);
            r.Add("hook_under_another_spelling", HookUnderAnotherSpelling);
            r.Add("tool_without_handler_is_left_alone", ToolWithoutHandler);
            r.Add("system_message_transform_and_provider_token", TransformAndProviderToken);
            r.Add("set_model_and_session_rpc", SetModelAndSessionRpc);
            r.Add("concurrent_sessions_and_queued_turns", ConcurrentSessions);
            r.Add("stdio_child_lifecycle_and_dispose", StdioLifecycle);
            r.Add("force_stop_kills_at_once", ForceStop);
            r.Add("failing_handlers_and_throwing_event_handlers", FailingHandlers);
            r.Add("json_model_round_trip", JsonRoundTrip);
        }

        // ------------------------------------------------------------------ named tests

        static async Task AbortMidStream()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var cfg = Config(model);
                cfg.Streaming = true;
                var session = await client.CreateSessionAsync(cfg);
                using (var events = new EventCollector(session))
                {
                    await session.SendAsync("SLOW 40 250");
                    await events.WaitFor(e => e.Type == "assistant.message_delta", 60, "a delta");
                    await session.AbortAsync();
                    var idle = await events.WaitFor(e => e.Type == "session.idle", 60, "session.idle");
                    Assert.True(idle.Data.Aborted, "the idle after abort says aborted: " + idle);
                }
                var answer = await session.SendAndWaitAsync(new MessageOptions { Prompt = "REPLY after abort" });
                Assert.Equal("after abort", answer.Data.Content);
                await session.DisposeAsync();
                await client.StopAsync();
                client.Dispose();
            }
        }

        static async Task ResumeFromSecondClient()
        {
            using (var model = FakeModel.Start())
            {
                var a = await Shared.ConnectAsync();
                var b = await Shared.ConnectAsync();
                var sa = await a.CreateSessionAsync(Config(model));
                await sa.SendAndWaitAsync("REPLY first from A");
                // B joins the live session with no config (the guide's resumeSession(id)).
                var sb = await b.ResumeSessionAsync(sa.SessionId);
                Assert.Equal(sa.SessionId, sb.SessionId);
                var history = await sb.GetMessagesAsync();
                Assert.True(history.Any(e => e.Type == "user.message" && e.Data.Content == "REPLY first from A"), "B sees A's prompt in the history");
                // Both connections see a turn that B starts.
                using (var onA = new EventCollector(sa, "assistant.message"))
                {
                    var answer = await sb.SendAndWaitAsync("REPLY second from B");
                    Assert.Equal("second from B", answer.Data.Content);
                    var seenByA = await onA.WaitFor(e => true, 60, "A sees B's answer");
                    Assert.Equal("second from B", seenByA.Data.Content);
                }
                // A detaching leaves the session usable from B.
                await sa.DisposeAsync();
                Assert.Equal("still here", (await sb.SendAndWaitAsync("REPLY still here")).Data.Content);
                await sb.DisconnectAsync();
                await Assert.ThrowsAsync<SessionNotFoundException>(() => sb.SendAsync("after detach"), "a detached session");
                await sb.DisposeAsync();
                await Assert.ThrowsAsync<ObjectDisposedException>(() => sb.SendAsync("after dispose"), "a disposed session");
                // Cold resume from disk, with the provider again.
                var sc = await b.ResumeSessionAsync(sa.SessionId, Config(model));
                Assert.Equal("cold", (await sc.SendAndWaitAsync("REPLY cold")).Data.Content);
                await sc.DisposeAsync();
                await a.DisposeAsync();
                await b.DisposeAsync();
            }
        }

        static async Task ListAndDelete()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var deleted = new TaskCompletionSource<SessionLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                var id = "list-delete-dotnet-" + Process.GetCurrentProcess().Id;
                using (client.On("session.deleted", e => { if (e.SessionId == id) deleted.TrySetResult(e); }))
                {
                    var cfg = Config(model);
                    cfg.SessionId = id;
                    var s = await client.CreateSessionAsync(cfg);
                    Assert.Equal(id, s.SessionId);
                    await s.SendAndWaitAsync("Say hello");
                    await s.DisposeAsync();
                    var list = await client.ListSessionsAsync();
                    var me = list.FirstOrDefault(m => m.SessionId == id);
                    Assert.True(me != null, "the session is listed");
                    Assert.True(me.StartTime.Length > 0 && me.ModifiedTime.Length > 0, "start and modified times");
                    Assert.Equal(me.StartTime, me.CreatedAt, "createdAt = startTime");
                    Assert.True(me.StartedAt.HasValue && me.ModifiedAt.HasValue && me.ModifiedAt.Value >= me.StartedAt.Value, "start and modified times as DateTimeOffset");
                    Assert.True(me.CreatedAtTime > DateTimeOffset.UtcNow.AddDays(-1), "createdAt parses as a recent time: " + me.CreatedAt);
                    // Other tests share this CLI, so the last session is one of the listed ones.
                    var last = await client.GetLastSessionIdAsync();
                    Assert.True(last != null, "a last session id");
                    Assert.True((await client.ListSessionsAsync()).Any(m => m.SessionId == last), "the last session is listed");
                    var none = await client.ListSessionsAsync(new SessionListFilter { Cwd = "/nonexistent" });
                    Assert.Equal(0, none.Count, "filtered list");
                    await client.DeleteSessionAsync(id);
                    var ev = await Hang.Guard(deleted.Task, 10, "session.deleted lifecycle event");
                    Assert.Equal("session.deleted", ev.Type);
                    Assert.True(!(await client.ListSessionsAsync()).Any(m => m.SessionId == id), "gone from the list");
                    var e2 = await Assert.ThrowsAsync<CopilotException>(() => client.DeleteSessionAsync(id), "deleting twice");
                    Assert.True(e2 is SessionNotFoundException || e2 is CopilotRpcException, "typed: " + e2.GetType().Name);
                }
                await client.DisposeAsync();
            }
        }

        static async Task ConnectionToken()
        {
            var url = "http://127.0.0.1:" + Shared.Port;
            foreach (var token in new[] { null, "wrong-token" })
            {
                var c = new CopilotClient(new CopilotClientOptions { CliUrl = url, ConnectionToken = token });
                var e = await Assert.ThrowsAsync<CopilotAuthenticationException>(() => c.StartAsync(), "token " + (token ?? "none"));
                Assert.Equal(ErrorCodes.Authentication, e.Code);
                Assert.Equal(13, e.Number);
                Assert.True(e.RpcCode.HasValue && e.RpcCode.Value >= -32002 && e.RpcCode.Value <= -32001, "rpc code " + e.RpcCode);
                c.Dispose();
            }
            var ok = new CopilotClient(new CopilotClientOptions { CliUrl = url, ConnectionToken = Shared.Token });
            await ok.StartAsync();
            await ok.PingAsync();
            await ok.StopAsync();
            ok.Dispose();
            // A stdio child ignores tokens: the handshake works without one.
            var stdio = new CopilotClient(Env.OwnCli(true));
            await stdio.StartAsync();
            await stdio.DisposeAsync();
        }

        static async Task CliKilledMidTurn()
        {
            using (var model = FakeModel.Start())
            {
                // Without reconnection (ReconnectPolicy.Disabled) the client stops for good.
                var o = Env.OwnCli(true);
                o.Reconnect = ReconnectPolicy.Disabled;
                var client = new CopilotClient(o);
                await client.StartAsync();
                var pid = client.CliPid.Value;
                var session = await client.CreateSessionAsync(Config(model));
                using (var events = new EventCollector(session))
                {
                    var turn = session.SendAndWaitAsync(new MessageOptions { Prompt = "HANG", Timeout = TimeSpan.FromSeconds(120) });
                    await events.WaitFor(e => e.Type == "assistant.turn_start", 60, "assistant.turn_start");
                    Process.GetProcessById(pid).Kill();
                    var e1 = await Assert.ThrowsAsync<TurnOutcomeUnknownException>(() => Hang.Guard(turn, 20, "send-and-wait after the kill"));
                    Assert.Equal(ErrorCodes.TurnOutcomeUnknown, e1.Code, e1.Message);
                    Assert.Contains(e1.Message, session.SessionId);
                }
                // Every later call fails at once, typed.
                var e2 = await Assert.ThrowsAsync<CopilotConnectionException>(() => client.PingAsync());
                Assert.Equal(ErrorCodes.TransportClosed, e2.Code);
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        /// <summary>The core's implicit-start rule, seen from .NET: a never-started client starts
        /// on its first call; after StopAsync calls fail until StartAsync; with AutoStart = false
        /// a call before StartAsync fails.</summary>
        static async Task PingBeforeStart()
        {
            var client = new CopilotClient(new CopilotClientOptions { CliUrl = Shared.Url, ConnectionToken = Shared.Token });
            Assert.Equal(ConnectionState.Disconnected, client.State, "a new client");
            Assert.Equal("pong: first", (await client.PingAsync("first")).Message);
            Assert.Equal(ConnectionState.Connected, client.State, "started by the ping");
            await client.StopAsync();
            Assert.Equal(ConnectionState.Stopped, client.State);
            var e = await Assert.ThrowsAsync<CopilotConnectionException>(() => client.PingAsync("after stop"));
            Assert.Equal(ErrorCodes.NotConnected, e.Code, e.Message);
            await client.StartAsync();
            Assert.Equal("pong: again", (await client.PingAsync("again")).Message);
            await client.DisposeAsync();

            var manual = new CopilotClient(new CopilotClientOptions { CliUrl = Shared.Url, ConnectionToken = Shared.Token, AutoStart = false });
            var e2 = await Assert.ThrowsAsync<CopilotConnectionException>(() => manual.PingAsync("too early"));
            Assert.Equal(ErrorCodes.NotConnected, e2.Code, e2.Message);
            await Assert.ThrowsAsync<CopilotConnectionException>(() => manual.CreateSessionAsync(), "create before start");
            await manual.StartAsync();
            Assert.Equal("pong: started", (await manual.PingAsync("started")).Message);
            await manual.DisposeAsync();
        }

        /// <summary>The binding answers exactly the core's request kinds (the generated list).</summary>
        static Task RequestKindsMatchTheCore()
        {
            var core = CopilotJson.Parse(File.ReadAllText(Scenarios.RequestKindsFile)).AsStringList();
            Assert.True(core.Count > 0, "request-kinds.json lists kinds");
            Assert.Equal(string.Join(",", core), string.Join(",", CopilotSession.Kinds.Select(k => k.Name)), "request kinds");
            return Task.FromResult(0);
        }

        static Task PayloadPatterns()
        {
            var p = CopilotJson.Parse("{\"sessionId\":\"<sessionId>\",\"n\":\"<number>\",\"o\":{\"a\":[1,\"<string>\"]},\"x\":\"<string|null>\"}");
            Func<string, string, bool, bool> ok = (value, sid, subset) => Scenarios.Match(p, CopilotJson.Parse(value), sid, subset, "p") == null;
            Assert.True(ok("{\"sessionId\":\"s\",\"n\":1,\"o\":{\"a\":[1,\"b\"]},\"x\":null}", "s", false), "a match");
            Assert.True(!ok("{\"sessionId\":\"t\",\"n\":1,\"o\":{\"a\":[1,\"b\"]},\"x\":null}", "s", false), "another session id");
            Assert.True(!ok("{\"sessionId\":\"s\",\"n\":\"1\",\"o\":{\"a\":[1,\"b\"]},\"x\":null}", "s", false), "a string for a number");
            Assert.True(!ok("{\"sessionId\":\"s\",\"n\":1,\"o\":{\"a\":[1,\"b\"]},\"x\":null,\"more\":1}", "s", false), "an extra key");
            Assert.True(!ok("{\"sessionId\":\"s\",\"n\":1,\"o\":{\"a\":[1]},\"x\":null}", "s", false), "a shorter array");
            Assert.True(Scenarios.Match(CopilotJson.Parse("{\"a\":1}"), CopilotJson.Parse("{\"a\":1,\"b\":2}"), "s", true, "p") == null, "subset");
            Assert.True(Scenarios.Match(CopilotJson.Parse("{\"a\":true}"), CopilotJson.Parse("{\"a\":\"true\"}"), "s", true, "p") != null, "kinds differ");
            return Task.FromResult(0);
        }

        // ------------------------------------------------------------------ the rest of the surface

        static async Task ClientLevelMethods()
        {
            var client = await Shared.ConnectAsync();
            Assert.Equal(3, client.ProtocolVersion, "protocol version");
            Assert.Equal("1.0.102", client.ServerVersion, "server version");
            Assert.Equal(Shared.Port, client.Port, "port");
            var pong = await client.PingAsync("x");
            Assert.Equal("pong: x", pong.Message);
            Assert.Equal(3, pong.ProtocolVersion);
            // Many calls in flight at once: each completion reaches its own Task.
            var pings = Enumerable.Range(0, 64).Select(i => client.PingAsync("p" + i)).ToArray();
            await Task.WhenAll(pings);
            for (int i = 0; i < pings.Length; i++) Assert.Equal("pong: p" + i, pings[i].Result.Message, "ping " + i);
            var status = await client.GetStatusAsync();
            Assert.Equal("1.0.102", status.Version);
            var auth = await client.GetAuthStatusAsync();
            Assert.True(!auth.IsAuthenticated, "offline: not authenticated");
            // Offline and unauthenticated: a typed RPC error, not a hang.
            await Assert.ThrowsAsync<CopilotRpcException>(() => client.ListModelsAsync());
            Assert.Equal(null, await client.GetForegroundSessionIdAsync(), "no foreground session in headless mode");
            await Assert.ThrowsAsync<CopilotException>(() => client.SetForegroundSessionIdAsync("nope"));
            var tools = await client.RpcAsync("tools.list", JsonData.Object());
            Assert.True(tools["tools"].Count > 0, "tools.list lists tools");
            var e = await Assert.ThrowsAsync<CopilotRpcException>(() => client.RpcAsync("no.such.method"));
            Assert.Equal(-32601L, e.RpcCode, "method not found");
            Assert.Equal(ErrorCodes.Rpc, e.Code);
            Assert.Equal(12, e.Number);
            await client.StopAsync();
            Assert.Equal(ConnectionState.Stopped, client.State);
            var stopped = await Assert.ThrowsAsync<CopilotConnectionException>(() => client.PingAsync());
            Assert.Equal(ErrorCodes.NotConnected, stopped.Code);
            await client.StopAsync(); // idempotent
            client.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PingAsync(), "after Dispose");
            Assert.True(CopilotRuntime.NativeVersion.Length > 0, "native version");
            Assert.True(CopilotRuntime.AbiVersion >= 1, "abi version");
        }

        static async Task TypedErrors()
        {
            var bad = Assert.Throws<InvalidConfigException>(() => new CopilotClient(new CopilotClientOptions { CliUrl = "localhost:4321", UseStdio = true }));
            Assert.Equal(ErrorCodes.InvalidConfig, bad.Code);
            Assert.Equal(16, bad.Number);
            var missing = new CopilotClient(new CopilotClientOptions { CliPath = "/nonexistent/copilot" });
            var e1 = await Assert.ThrowsAsync<CliNotFoundException>(() => missing.StartAsync());
            Assert.Equal(ErrorCodes.CliNotFound, e1.Code);
            missing.Dispose();
            var badUrl = new CopilotClient(new CopilotClientOptions { CliUrl = "localhost:notaport" });
            await Assert.ThrowsAsync<InvalidConfigException>(() => badUrl.StartAsync());
            badUrl.Dispose();
            var refused = new CopilotClient(new CopilotClientOptions { CliUrl = "127.0.0.1:1" });
            var e2 = await Assert.ThrowsAsync<CopilotConnectionException>(() => refused.PingAsync(), "auto-start against a closed port");
            Assert.Equal(ErrorCodes.ConnectFailed, e2.Code);
            Assert.True(e2.IsTransportFailure, "connect failures are transport failures");
            refused.Dispose();
            // A CLI that dies at start: the error carries its stderr.
            var script = Path.Combine(Env.Home, "dying-cli.sh");
            File.WriteAllText(script, "#!/bin/sh\necho 'fatal: license check exploded' >&2\nexit 3\n");
            Process.Start("chmod", "+x " + script).WaitForExit();
            var o = Env.OwnCli(true);
            o.CliPath = script;
            var dying = new CopilotClient(o);
            var e3 = await Assert.ThrowsAsync<CopilotException>(() => dying.StartAsync());
            Assert.True(e3.IsTransportFailure || e3.Code == ErrorCodes.ConnectFailed, "dying CLI: " + e3.Code);
            Assert.Equal("fatal: license check exploded", e3.StderrTail, "stderr tail");
            dying.Dispose();
        }

        static async Task CancellationTokenCancels()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var session = await client.CreateSessionAsync(Config(model));
                using (var events = new EventCollector(session))
                using (var cts = new CancellationTokenSource())
                {
                    var wait = session.SendAndWaitAsync(new MessageOptions { Prompt = "HANG", Timeout = TimeSpan.FromSeconds(120) }, cts.Token);
                    await events.WaitFor(e => e.Type == "assistant.turn_start", 60, "assistant.turn_start");
                    cts.Cancel();
                    var oce = await Assert.ThrowsAsync<OperationCanceledException>(() => Hang.Guard(wait, 20, "cancelled wait"));
                    Assert.Equal(cts.Token, oce.CancellationToken, "the caller's token");
                    // The turn goes on until aborted.
                    await session.AbortAsync();
                    var idle = await events.WaitFor(e => e.Type == "session.idle", 60, "session.idle after abort");
                    Assert.True(idle.Data.Aborted, "aborted idle");
                }
                // An already-cancelled token never starts the call.
                var pre = new CancellationToken(true);
                await Assert.ThrowsAsync<OperationCanceledException>(() => client.PingAsync(null, pre));
                // A cancelled create closes the session again; the client stays usable.
                using (var cts2 = new CancellationTokenSource())
                {
                    var create = client.CreateSessionAsync(Config(model), cts2.Token);
                    cts2.Cancel();
                    try { var s = await create; await s.DisposeAsync(); }
                    catch (OperationCanceledException) { }
                }
                Assert.Equal("ok", (await session.SendAndWaitAsync("REPLY ok")).Data.Content);
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task SendAndWaitTimeout()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var session = await client.CreateSessionAsync(Config(model));
                using (var events = new EventCollector(session))
                {
                    var e = await Assert.ThrowsAsync<CopilotTimeoutException>(() =>
                        session.SendAndWaitAsync(new MessageOptions { Prompt = "HANG", AbortOnTimeout = true }, TimeSpan.FromMilliseconds(1500)));
                    Assert.Equal(ErrorCodes.Timeout, e.Code);
                    Assert.Contains(e.Message, "1500ms");
                    var idle = await events.WaitFor(x => x.Type == "session.idle", 60, "idle after abort-on-timeout");
                    Assert.True(idle.Data.Aborted, "aborted");
                }
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task EventsInOrder()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var created = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                var early = new List<string>();
                var cfg = Config(model);
                cfg.Streaming = true;
                cfg.OnEvent = e => { lock (early) early.Add(e.Type); };
                using (client.On(e => { if (e.Type == "session.created") created.TrySetResult(e.SessionId); }))
                {
                    var session = await client.CreateSessionAsync(cfg);
                    Assert.Equal(session.SessionId, await Hang.Guard(created.Task, 10, "session.created"));
                    var all = new EventCollector(session);
                    var deltas = new EventCollector(session, "assistant.message_delta");
                    var typed = new List<string>();
                    var sub = session.On("assistant.message", e => { lock (typed) typed.Add(e.Data.Content); });
                    var answer = await session.SendAndWaitAsync("REPLY a b c d");
                    Assert.Equal("a b c d", answer.Data.Content);
                    // The ABI queues the completion after the turn's events: they are all here.
                    var received = all.Snapshot();
                    Assert.True(received.Any(e => e.Type == "session.idle"), "the turn's session.idle reached the handlers before the completion");
                    var persisted = received.Where(e => !e.Ephemeral).Select(e => e.Id).ToList();
                    var stored = (await session.GetMessagesAsync()).Select(e => e.Id).ToList();
                    Assert.True(persisted.Count >= 4, "persisted events: " + persisted.Count);
                    Assert.Equal(string.Join(",", stored.Skip(stored.Count - persisted.Count)), string.Join(",", persisted), "wire order = stored order");
                    Assert.Equal("a b c d", string.Concat(deltas.Snapshot().Select(d => d.Data.DeltaContent)), "deltas");
                    lock (typed) Assert.Equal("a b c d", string.Join("|", typed), "typed subscription");
                    sub.Dispose();
                    all.Dispose();
                    deltas.Dispose();
                    await session.SendAndWaitAsync("REPLY again");
                    lock (typed) Assert.Equal(1, typed.Count, "no events after unsubscribing");
                    lock (early) Assert.Equal("session.start", early.FirstOrDefault(), "OnEvent saw session.start");
                    await session.DisposeAsync();
                }
                await client.DisposeAsync();
            }
        }

        static async Task ToolResultShapes()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var invocations = new List<ToolInvocation>();
                var schema = new { type = "object", properties = new { city = new { type = "string" } } };
                var cfg = Config(model);
                cfg.OnPermissionRequest = PermissionHandler.ApproveAll;
                cfg.Tools = new List<CopilotTool>
                {
                    CopilotTool.Create("sync_object", "returns an object", schema, inv =>
                    {
                        lock (invocations) invocations.Add(inv);
                        return (object)new { city = inv.Arguments["city"].AsString(), temp = 21 };
                    }),
                    CopilotTool.Create("full_result", "returns a ToolResult", schema, async inv =>
                    {
                        await Task.Delay(10);
                        return (object)new ToolResult { TextResultForLlm = "full text", ResultType = "success" };
                    }),
                    CopilotTool.Create("returns_null", "returns null", schema, inv => (object)null),
                };
                var session = await client.CreateSessionAsync(cfg);
                var a1 = await session.SendAndWaitAsync("CALL sync_object {\"city\":\"Oslo\"}");
                Assert.Equal("Tool returned: {\"city\":\"Oslo\",\"temp\":21}", a1.Data.Content, "object result as JSON text");
                var a2 = await session.SendAndWaitAsync("CALL full_result {}");
                Assert.Equal("Tool returned: full text", a2.Data.Content, "ToolResult sent as is");
                var a3 = await session.SendAndWaitAsync("CALL returns_null {}");
                Assert.Equal("Tool returned: ", a3.Data.Content, "null is empty text");
                lock (invocations)
                {
                    Assert.Equal(1, invocations.Count, "one invocation");
                    Assert.Equal("sync_object", invocations[0].ToolName);
                    Assert.Equal(session.SessionId, invocations[0].SessionId);
                    Assert.True(invocations[0].ToolCallId.StartsWith("call_"), "tool call id " + invocations[0].ToolCallId);
                }
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task HookDeniesAndExitPlanMode()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var plans = new List<ExitPlanModeRequest>();
                var cfg = Config(model);
                cfg.Tools = new List<CopilotTool>
                {
                    new CopilotTool { Name = "get_weather", SkipPermission = true, Parameters = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}", Handler = inv => Task.FromResult((object)"never") },
                };
                cfg.OnPermissionRequest = PermissionHandler.ApproveAll;
                var otherHooks = new List<string>();
                // One hook type by name; every other type reaches OnHook.
                cfg.Hooks = new Dictionary<string, Func<HookInvocation, Task<JsonData>>>
                {
                    { "preToolUse", inv => Task.FromResult(inv.Input.ToJson().Contains("get_weather")
                        ? JsonData.Object().Set("permissionDecision", "deny").Set("permissionDecisionReason", "hooks say no")
                        : null) },
                };
                cfg.OnHook = inv =>
                {
                    lock (otherHooks) otherHooks.Add(inv.HookType);
                    return Task.FromResult<JsonData>(null);
                };
                cfg.OnExitPlanMode = p =>
                {
                    lock (plans) plans.Add(p);
                    return Task.FromResult(new ExitPlanModeResponse { SelectedAction = "interactive" });
                };
                var session = await client.CreateSessionAsync(cfg);
                var answer = await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Rome\"}");
                Assert.Contains(answer.Data.Content, "hooks say no");
                lock (otherHooks)
                {
                    Assert.True(otherHooks.Contains("userPromptSubmitted"), "OnHook saw the other hook types: " + string.Join(",", otherHooks));
                    Assert.True(!otherHooks.Contains("preToolUse"), "preToolUse went to its own handler");
                }
                await session.RpcAsync("session.mode.set", JsonData.Object().Set("mode", "plan"));
                await session.SendAndWaitAsync("CALL exit_plan_mode {\"summary\":\"Do the thing\",\"actions\":[\"autopilot\",\"interactive\"],\"recommendedAction\":\"interactive\"}");
                lock (plans)
                {
                    Assert.Equal(1, plans.Count, "exit-plan-mode requests");
                    Assert.Equal("Do the thing", plans[0].Summary);
                    Assert.True(plans[0].Actions.Contains("interactive"), "actions: " + string.Join(",", plans[0].Actions));
                    Assert.Equal("interactive", plans[0].RecommendedAction);
                    Assert.Equal(session.SessionId, plans[0].SessionId);
                }
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        /// <summary>Lifecycle type filters are the library's: a <c>session.deleted</c> handler made
        /// before the client starts sees only deletions; an every-type handler sees the creation
        /// too; a disposed subscription sees nothing.</summary>
        static async Task LifecycleTypeFilter()
        {
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(new CopilotClientOptions { CliUrl = Shared.Url, ConnectionToken = Shared.Token });
                var id = "lifecycle-dotnet-" + Process.GetCurrentProcess().Id;
                var deleted = new List<string>();
                var all = new List<string>();
                var gone = new List<string>();
                var seen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                Action<List<string>, SessionLifecycleEvent> add = (into, e) => { lock (into) into.Add(e.Type + ":" + e.SessionId); };
                using (client.On("session.deleted", e => { add(deleted, e); if (e.SessionId == id) seen.TrySetResult(true); }))
                using (client.On(e => add(all, e)))
                {
                    client.On(e => add(gone, e)).Dispose();
                    Assert.Equal(ConnectionState.Disconnected, client.State, "not started yet");
                    var cfg = Config(model);
                    cfg.SessionId = id;
                    var s = await client.CreateSessionAsync(cfg);
                    await s.DisposeAsync();
                    await client.DeleteSessionAsync(id);
                    await Hang.Guard(seen.Task, 60, "session.deleted lifecycle event");
                }
                lock (deleted) Assert.True(deleted.All(e => e.StartsWith("session.deleted:")), "only deletions: " + string.Join(",", deleted));
                lock (all) Assert.True(all.Contains("session.created:" + id), "every type: " + string.Join(",", all));
                lock (gone) Assert.Equal(0, gone.Count, "a disposed subscription");
                await client.DisposeAsync();
            }
        }

        /// <summary>A hook registered under another spelling is called: the library names the request
        /// by the <see cref="SessionConfig.Hooks"/> key.</summary>
        static async Task HookUnderAnotherSpelling()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var cfg = Config(model);
                cfg.Tools = new List<CopilotTool>
                {
                    new CopilotTool { Name = "get_weather", SkipPermission = true, Parameters = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}", Handler = inv => Task.FromResult((object)"never") },
                };
                var types = new List<string>();
                cfg.Hooks = new Dictionary<string, Func<HookInvocation, Task<JsonData>>>
                {
                    { "on_pre_tool_use", inv =>
                        {
                            lock (types) types.Add(inv.HookType);
                            return Task.FromResult(JsonData.Object().Set("permissionDecision", "deny").Set("permissionDecisionReason", "on_pre_tool_use says no"));
                        } },
                };
                var session = await client.CreateSessionAsync(cfg);
                var answer = await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Rome\"}");
                Assert.Contains(answer.Data.Content, "on_pre_tool_use says no");
                lock (types) Assert.Equal("preToolUse", string.Join(",", types), "HookType is the CLI's spelling");
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        /// <summary>A tool without a handler is only declared: its call reaches the session's events
        /// (<c>external_tool.requested</c>) but no .NET handler, and another connection answers it;
        /// the tool with a handler runs here.</summary>
        static async Task ToolWithoutHandler()
        {
            using (var model = FakeModel.Start())
            {
                var a = await Shared.ConnectAsync();
                var b = await Shared.ConnectAsync();
                const string parameters = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}";
                var ran = new List<string>();
                var requested = new TaskCompletionSource<SessionEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                var cfg = Config(model);
                cfg.Tools = new List<CopilotTool>
                {
                    CopilotTool.Create("get_weather", "weather", parameters, inv => { lock (ran) ran.Add(inv.ToolName); return (object)"Sunny"; }),
                    new CopilotTool { Name = "get_time", Description = "time", Parameters = parameters },
                };
                foreach (var t in cfg.Tools) t.SkipPermission = true;
                cfg.OnEvent = e => { if (e.Type == "external_tool.requested") requested.TrySetResult(e); };
                var session = await a.CreateSessionAsync(cfg);
                var turn = session.SendAndWaitAsync("CALL get_time {\"city\":\"Oslo\"}");
                var ev = await Hang.Guard(requested.Task, 60, "external_tool.requested");
                Assert.Equal("get_time", ev.Data.Json["toolName"].AsString());
                var r = await b.RpcAsync("session.tools.handlePendingToolCall", JsonData.Object()
                    .Set("sessionId", session.SessionId).Set("requestId", ev.Data.Json["requestId"].AsString()).Set("result", "Noon by hand"));
                Assert.True(r["success"].AsBool(), "answered by another connection: " + r.ToJson());
                Assert.Equal("Tool returned: Noon by hand", (await turn).Data.Content);
                Assert.Equal("Tool returned: Sunny", (await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Oslo\"}")).Data.Content);
                lock (ran) Assert.Equal("get_weather", string.Join(",", ran), ".NET handlers ran for");
                await session.DisposeAsync();
                await a.DisposeAsync();
                await b.DisposeAsync();
            }
        }

        static async Task TransformAndProviderToken()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                int tokenCalls = 0;
                var cfg = Config(model);
                cfg.SystemMessage = new SystemMessageConfig { Mode = "customize", Sections = CopilotJson.Parse("{\"tone\":{\"action\":\"transform\"}}") };
                cfg.OnSystemMessageTransform = p =>
                {
                    var sections = JsonData.Object();
                    foreach (var kv in p.Sections.Properties)
                        sections.Set(kv.Key, JsonData.Object().Set("content", kv.Value["content"].AsString("") + "\nTRANSFORMED-BY-DOTNET"));
                    return Task.FromResult(JsonData.Object().Set("sections", sections));
                };
                cfg.OnProviderToken = p =>
                {
                    Interlocked.Increment(ref tokenCalls);
                    Assert.Equal("default", p.ProviderName);
                    return Task.FromResult("dynamic-token-456");
                };
                var session = await client.CreateSessionAsync(cfg);
                await session.SendAndWaitAsync("Say hello");
                Assert.True(tokenCalls >= 1, "the provider-token handler ran");
                var req = model.ChatRequests().Last();
                Assert.Equal("Bearer dynamic-token-456", req["authorization"].AsString(), "the model saw the dynamic token");
                Assert.Contains(req["body"]["messages"][0]["content"].ToJson(), "TRANSFORMED-BY-DOTNET", "the system prompt was transformed");
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task SetModelAndSessionRpc()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var session = await client.CreateSessionAsync(Config(model));
                Assert.True(!string.IsNullOrEmpty(session.WorkspacePath), "workspace path");
                using (var changes = new EventCollector(session, "session.model_change"))
                {
                    await session.SetModelAsync("gpt-5");
                    var ev = await changes.WaitFor(e => true, 10, "session.model_change");
                    Assert.Equal("gpt-5", ev.Data["newModel"].AsString());
                }
                var current = await session.RpcAsync("session.model.getCurrent");
                Assert.Equal("gpt-5", current["modelId"].AsString());
                var mode = await session.RpcAsync("session.mode.get", JsonData.Object());
                Assert.Equal("interactive", mode.AsString());
                await Assert.ThrowsAsync<InvalidConfigException>(() => session.RpcAsync("session.x", 1));
                await session.DisposeAsync();
                await Assert.ThrowsAsync<ObjectDisposedException>(() => session.SendAsync("disposed"));
                await client.DisposeAsync();
            }
        }

        static async Task ConcurrentSessions()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var tasks = Enumerable.Range(0, 6).Select(async i =>
                {
                    var s = await client.CreateSessionAsync(Config(model));
                    var a = await s.SendAndWaitAsync("REPLY answer " + i);
                    Assert.Equal("answer " + i, a.Data.Content);
                    await s.DisposeAsync();
                }).ToArray();
                await Task.WhenAll(tasks);
                // Concurrent waits on ONE session queue up; each gets its own answer.
                var one = await client.CreateSessionAsync(Config(model));
                var x = one.SendAndWaitAsync("REPLY x");
                var y = one.SendAndWaitAsync("REPLY y");
                await Task.WhenAll(x, y);
                var got = new[] { x.Result.Data.Content, y.Result.Data.Content }.OrderBy(s => s).ToArray();
                Assert.Equal("x,y", string.Join(",", got));
                await one.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task StdioLifecycle()
        {
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(Env.OwnCli(true));
                // AutoStart: the first call starts the client.
                var session = await client.CreateSessionAsync(Config(model));
                Assert.Equal(ConnectionState.Connected, client.State);
                var pid = client.CliPid.Value;
                var answer = await session.SendAndWaitAsync("REPLY over stdio");
                Assert.Equal("over stdio", answer.Data.Content);
                await client.StopAsync();
                Assert.True(WaitDead(pid, 10), "the CLI outlived StopAsync");
                await Assert.ThrowsAsync<CopilotException>(() => session.SendAsync("again"));
                await session.DisposeAsync(); // does not throw after the client stopped
                await client.DisposeAsync();
                // Dispose without a stop kills the spawned CLI.
                var c2 = new CopilotClient(Env.OwnCli(false));
                await c2.StartAsync();
                var pid2 = c2.CliPid.Value;
                Assert.True(c2.Port.HasValue, "a TCP child has a port");
                c2.Dispose();
                Assert.True(WaitDead(pid2, 10), "the CLI outlived Dispose");
            }
        }

        static async Task ForceStop()
        {
            var client = new CopilotClient(Env.OwnCli(false));
            await client.StartAsync();
            var pid = client.CliPid.Value;
            await client.ForceStopAsync();
            Assert.True(WaitDead(pid, 5), "the CLI outlived ForceStopAsync");
            var e = await Assert.ThrowsAsync<CopilotConnectionException>(() => client.PingAsync());
            Assert.Equal(ErrorCodes.NotConnected, e.Code);
            client.Dispose();
        }

        static async Task FailingHandlers()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var cfg = Config(model);
                cfg.OnUserInputRequest = req => { throw new InvalidOperationException("nobody is here"); };
                cfg.OnPermissionRequest = req => Task.FromResult<PermissionDecision>(null);
                var session = await client.CreateSessionAsync(cfg);
                var delivered = 0;
                // A throwing event handler neither breaks delivery to the others nor the turn.
                using (session.On(e => { throw new Exception("handler bug"); }))
                using (session.On("tool.execution_complete", e => Interlocked.Increment(ref delivered)))
                using (var events = new EventCollector(session))
                {
                    await session.SendAndWaitAsync("CALL ask_user {\"question\":\"Anyone?\",\"choices\":[\"a\",\"b\"]}");
                    var done = events.Snapshot().Last(e => e.Type == "tool.execution_complete");
                    // The CLI turns a failed user-input request into this answer for the model.
                    Assert.Contains(done.Data["result"]["content"].AsString(), "unable to respond", "a failed user-input handler");
                    // A permission handler returning null answers null, which the core refuses: the tool is denied.
                    await session.SendAndWaitAsync("CALL bash {\"command\":\"echo never\",\"description\":\"echo\",\"mode\":\"sync\"}");
                    done = events.Snapshot().Last(e => e.Type == "tool.execution_complete");
                    Assert.Equal(false, done.Data.Success, "denied: " + done.Data);
                    Assert.True(!done.Data.ToString().Contains("never\\n"), "the command did not run");
                }
                Assert.Equal(2, delivered, "tool.execution_complete events delivered");
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static bool WaitDead(int pid, int seconds)
        {
            var end = DateTime.UtcNow.AddSeconds(seconds);
            while (DateTime.UtcNow < end)
            {
                if (!Alive(pid)) return true;
                Thread.Sleep(50);
            }
            return !Alive(pid);
        }

        static bool Alive(int pid)
        {
            try
            {
                var stat = File.ReadAllText("/proc/" + pid + "/stat");
                var rest = stat.Substring(stat.LastIndexOf(") ") + 2);
                return !rest.StartsWith("Z");
            }
            catch (Exception) { return false; }
        }

        static Task JsonRoundTrip()
        {
            var text = "{\"a\":[1,2.5,-3e2,true,false,null],\"s\":\"q\\\"\\\\\\n\\u00e9\\ud83d\\ude00\",\"big\":12345678901234567890,\"o\":{}}";
            var j = CopilotJson.Parse(text);
            Assert.Equal(6, j["a"].Count);
            Assert.Equal(2.5, j["a"][1].AsDouble());
            Assert.Equal(-300L, j["a"][2].AsLong());
            Assert.Equal("q\"\\\n\u00e9\U0001F600", j["s"].AsString());
            Assert.Equal("12345678901234567890", j["big"].ToJson(), "big numbers keep their text");
            Assert.True(j["missing"]["deeper"].IsNull, "missing keys are null");
            Assert.Equal(j.ToJson(), CopilotJson.Parse(j.ToJson()).ToJson(), "round trip");
            Assert.Throws<JsonParseException>(() => CopilotJson.Parse("{\"a\":}"));
            Assert.Throws<JsonParseException>(() => CopilotJson.Parse("[1,]"));
            var o = CopilotJson.FromObject(new { name = "x", list = new[] { 1, 2 }, map = new Dictionary<string, object> { { "k", null } } });
            Assert.Equal("{\"name\":\"x\",\"list\":[1,2],\"map\":{\"k\":null}}", o.ToJson());
            return Task.FromResult(0);
        }
    }
}
