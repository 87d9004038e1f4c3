// Issue 12, official handler signatures and the ILogger-shaped hook: permission and user-input
// handlers in the official two-argument form (request, invocation), and CopilotLog.SetLogger /
// CopilotClientOptions.Logger. Real CLI (the shared TCP CLI) and the fake model.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Logging;

namespace GitHub.Copilot.SDK.Tests
{
    static class OfficialHandlerTests
    {
        public static void Register(Runner r)
        {
            r.Add("official_two_arg_permission_handler_approves_with_the_session_id", TwoArgPermissionApproves);
            r.Add("official_two_arg_permission_handler_rejects_with_feedback", TwoArgPermissionRejects);
            r.Add("official_two_arg_user_input_handler_answers_ask_user", TwoArgUserInput);
            r.Add("official_one_and_two_arg_handlers_together_are_refused", BothFormsRefused);
            r.Add("official_ilogger_shaped_hook_receives_the_library_records", LoggerHook);
        }

        const string Schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}";

        static SessionConfig Config(FakeModel m, List<string> ran)
        {
            var cfg = new SessionConfig { Model = "gpt-4.1", Provider = m.Provider };
            // No SkipPermission: every call asks for a custom-tool permission first.
            cfg.Tools = new List<CopilotTool>
            {
                CopilotTool.Create("get_weather", "weather", Schema, inv => { lock (ran) ran.Add(inv.Arguments["city"].AsString()); return (object)"Sunny"; }),
            };
            return cfg;
        }

        static async Task TwoArgPermissionApproves()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var ran = new List<string>();
                var seen = new List<string>();
                var cfg = Config(model, ran);
                cfg.SessionId = "official-perm-dotnet-" + System.Diagnostics.Process.GetCurrentProcess().Id;
                cfg.OnPermissionRequestWithInvocation = (request, invocation) =>
                {
                    lock (seen) seen.Add(request.Kind + "|" + invocation.SessionId);
                    return Task.FromResult(new PermissionDecision("approve-once"));
                };
                var session = await client.CreateSessionAsync(cfg);
                var answer = await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Oslo\"}");
                Assert.Equal("Tool returned: Sunny", answer.Data.Content);
                lock (ran) Assert.Equal("Oslo", string.Join(",", ran), "the approved tool ran");
                lock (seen)
                {
                    Assert.True(seen.Count >= 1, "the two-argument handler was asked");
                    foreach (var s in seen) Assert.Equal("custom-tool|" + session.SessionId, s, "kind and invocation.SessionId");
                }
                Assert.Equal(cfg.SessionId, session.SessionId);
                await session.DisposeAsync();

                // The ready-made two-argument ApproveAll, on a session whose id the CLI chose.
                var cfg2 = Config(model, ran);
                cfg2.OnPermissionRequestWithInvocation = PermissionHandler.ApproveAllWithInvocation;
                var s2 = await client.CreateSessionAsync(cfg2);
                Assert.Equal("Tool returned: Sunny", (await s2.SendAndWaitAsync("CALL get_weather {\"city\":\"Rome\"}")).Data.Content);
                lock (ran) Assert.Equal("Oslo,Rome", string.Join(",", ran));
                await s2.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task TwoArgPermissionRejects()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var ran = new List<string>();
                var ids = new List<string>();
                var cfg = Config(model, ran);
                cfg.OnPermissionRequestWithInvocation = (request, invocation) =>
                {
                    lock (ids) ids.Add(invocation.SessionId);
                    return Task.FromResult(PermissionDecision.Reject("no"));
                };
                var session = await client.CreateSessionAsync(cfg);
                using (var events = new EventCollector(session, "tool.execution_complete"))
                {
                    await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Oslo\"}");
                    var done = await events.WaitFor(e => true, 30, "tool.execution_complete");
                    Assert.Equal(false, done.Data.Success, "the rejected tool failed: " + done.Data);
                    Assert.Contains(done.Data["error"]["message"].AsString(), "User feedback: no", "the feedback reached the CLI");
                }
                lock (ran) Assert.Equal(0, ran.Count, "the rejected tool did not run");
                lock (ids) Assert.True(ids.Count >= 1 && ids.All(i => i == session.SessionId), "invocation.SessionId: " + string.Join(",", ids));
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task TwoArgUserInput()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var seen = new List<string>();
                var cfg = new SessionConfig { Model = "gpt-4.1", Provider = model.Provider };
                cfg.OnUserInputRequestWithInvocation = (request, invocation) =>
                {
                    lock (seen) seen.Add(request.Question + "|" + string.Join("/", request.Choices) + "|" + invocation.SessionId);
                    return Task.FromResult(new UserInputResponse { Answer = "blue-from-two-args", WasFreeform = true });
                };
                var session = await client.CreateSessionAsync(cfg);
                using (var events = new EventCollector(session, "tool.execution_complete"))
                {
                    await session.SendAndWaitAsync("CALL ask_user {\"question\":\"Colour?\",\"choices\":[\"red\",\"green\"]}");
                    var done = await events.WaitFor(e => true, 30, "tool.execution_complete");
                    Assert.Equal(true, done.Data.Success, "ask_user succeeded: " + done.Data);
                    Assert.Contains(done.Data["result"]["content"].AsString(), "blue-from-two-args", "the answer reached the model");
                }
                lock (seen) Assert.Equal("Colour?|red/green|" + session.SessionId, string.Join(";", seen));
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
        }

        static async Task BothFormsRefused()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var cfg = new SessionConfig { Model = "gpt-4.1", Provider = model.Provider };
                cfg.OnPermissionRequest = PermissionHandler.ApproveAll;
                cfg.OnPermissionRequestWithInvocation = PermissionHandler.ApproveAllWithInvocation;
                await Assert.ThrowsAsync<ArgumentException>(() => client.CreateSessionAsync(cfg), "both permission forms");
                cfg = new SessionConfig { Model = "gpt-4.1", Provider = model.Provider };
                cfg.OnUserInputRequest = req => Task.FromResult<UserInputResponse>("x");
                cfg.OnUserInputRequestWithInvocation = (req, inv) => Task.FromResult<UserInputResponse>("x");
                await Assert.ThrowsAsync<ArgumentException>(() => client.CreateSessionAsync(cfg), "both user-input forms");
                await client.DisposeAsync();
            }
        }

        /// <summary>An ILogger in Microsoft.Extensions.Logging's shape that keeps what it gets.</summary>
        sealed class RecordingLogger : ILogger
        {
            readonly LogLevel _minimum;
            public readonly List<string> Records = new List<string>();
            public readonly List<LogLevel> Asked = new List<LogLevel>();

            public RecordingLogger(LogLevel minimum) { _minimum = minimum; }

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception, Func<TState, Exception, string> formatter)
            {
                var rec = state as CopilotLogRecord;
                var text = logLevel + " " + eventId.Name + " " + formatter(state, exception)
                    + " state:" + (rec != null && rec.Target == eventId.Name && rec.Message == formatter(state, exception));
                lock (Records) Records.Add(text);
            }

            public bool IsEnabled(LogLevel logLevel)
            {
                lock (Asked) Asked.Add(logLevel);
                return logLevel >= _minimum && logLevel != LogLevel.None;
            }

            public IDisposable BeginScope<TState>(TState state) { return null; }
        }

        static async Task Until(string what, int seconds, Func<bool> done)
        {
            var end = DateTime.UtcNow.AddSeconds(seconds);
            while (!done())
            {
                if (DateTime.UtcNow > end) throw new TestFailure("timed out waiting for " + what);
                await Task.Delay(20);
            }
        }

        static async Task LoggerHook()
        {
            var info = new RecordingLogger(LogLevel.Information);
            var warn = new RecordingLogger(LogLevel.Warning);
            try
            {
                // The official option: a client made with Logger installs it.
                var client = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(Shared.Url, Shared.Token), Logger = info });
                await client.StartAsync();
                using (var pool = new CopilotPool(new CopilotPoolOptions { Urls = new[] { Shared.Url } }))
                {
                    pool.Drain(Shared.Url);
                    await Until("the drain record through ILogger", 10, () => { lock (info.Records) return info.Records.Any(x => x.Contains("draining")); });
                    lock (info.Records)
                    {
                        var drain = info.Records.First(x => x.Contains("draining"));
                        Assert.True(drain.StartsWith("Information copilot_core"), "level and target (EventId.Name): " + drain);
                        Assert.True(drain.EndsWith(" state:True"), "the CopilotLogRecord state and the formatter agree: " + drain);
                        Assert.True(info.Records.All(x => !x.StartsWith("Debug") && !x.StartsWith("Trace")), "nothing below the enabled minimum: " + string.Join("; ", info.Records));
                    }
                    lock (info.Asked) Assert.True(info.Asked.Contains(LogLevel.Trace) && info.Asked.Contains(LogLevel.Information), "IsEnabled picks the minimum");

                    // A logger enabled from Warning does not get the Information record.
                    CopilotLog.SetLogger(warn);
                    int before;
                    lock (info.Records) before = info.Records.Count;
                    pool.Undrain(Shared.Url);
                    pool.Drain(Shared.Url);
                    await Task.Delay(300);
                    lock (warn.Records) Assert.True(!warn.Records.Any(x => x.Contains("draining")), "a Warning logger got: " + string.Join("; ", warn.Records));
                    lock (info.Records) Assert.Equal(before, info.Records.Count, "the replaced logger got nothing more");

                    // SetLogger(null) stops forwarding; installing again delivers again.
                    CopilotLog.SetLogger(null);
                    CopilotLog.SetLogger(info);
                    pool.Undrain(Shared.Url);
                    pool.Drain(Shared.Url);
                    await Until("a drain record after reinstalling", 10, () => { lock (info.Records) return info.Records.Count(x => x.Contains("draining")) >= 2; });
                }
                await client.DisposeAsync();
            }
            finally
            {
                CopilotLog.SetLogger(null);
            }
        }
    }
}
