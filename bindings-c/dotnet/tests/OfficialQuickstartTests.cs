// Issue 12, item 9: the official .NET README's quickstart, written with the official names
// (CopilotClient + CopilotClientOptions.Connection = RuntimeConnection.ForUri, SessionConfig with
// OnPermissionRequest = PermissionHandler.ApproveAll, session.On(evt => evt is AssistantMessageEvent
// ...), MessageOptions, CopilotTool.DefineTool(delegate, AIFunctionFactoryOptions, CopilotToolOptions),
// a two-argument permission handler, SessionHooks { OnPreToolUse = (input, invocation) => ... }),
// against the real CLI (the suite's shared one, by URL) and the fake model.
//
// Where C# 7.2 (mcs on Mono) or our older names differ from the official sample, and only there:
// `await using` is written as DisposeAsync() in finally; the two-argument permission handler is
// OnPermissionRequestWithInvocation (OnPermissionRequest keeps the guide's one-argument form) and
// PermissionDecision.ApproveOnce is a value, not a method; session.idle's generated class is
// IdleEvent; a BYOK Provider points the session at the fake model.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK.Tests
{
    static class OfficialQuickstartTests
    {
        public static void Register(Runner r)
        {
            r.Add("official_quickstart_events_tool_and_typed_hook", Quickstart);
            r.Add("official_quickstart_permission_handler_and_hook_deny", PermissionAndDeny);
            r.Add("official_define_tool_schema_and_arguments", DefineToolSchema);
        }

        static readonly List<string> WeatherCalls = new List<string>();

        [Description("Gets the current weather for a city")]
        static async Task<string> GetWeather([Description("The city name")] string city, int days = 1)
        {
            await Task.Yield();
            lock (WeatherCalls) WeatherCalls.Add(city + "/" + days);
            return "Sunny, 22C in " + city;
        }

        static async Task Quickstart()
        {
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(Shared.Url, Shared.Token) });
                await client.StartAsync();
                var hookInputs = new List<PreToolUseHookInput>();
                CopilotSession session = null;
                try
                {
                    session = await client.CreateSessionAsync(new SessionConfig
                    {
                        Model = "gpt-4.1",
                        Provider = model.Provider,
                        OnPermissionRequest = PermissionHandler.ApproveAll,
                        Tools = new List<CopilotTool>
                        {
                            CopilotTool.DefineTool(new Func<string, int, Task<string>>(GetWeather),
                                factoryOptions: new AIFunctionFactoryOptions { Name = "get_weather", Description = "Get the weather" }),
                        },
                        Hooks = new SessionHooks
                        {
                            OnPreToolUse = (input, invocation) =>
                            {
                                lock (hookInputs) hookInputs.Add(input);
                                return Task.FromResult(new PreToolUseHookOutput { PermissionDecision = "allow" });
                            },
                        },
                    });

                    var messages = new List<string>();
                    var idle = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    var completed = new List<bool?>();
                    using (session.On(evt =>
                    {
                        if (evt is AssistantMessageEvent msg) { lock (messages) messages.Add(msg.Data.Content); }
                        else if (evt is ToolExecutionCompleteEvent done) { lock (completed) completed.Add(done.Data.Success); }
                        else if (evt is IdleEvent) idle.TrySetResult(true);
                    }))
                    using (session.On<AssistantMessageEvent>(msg => { lock (messages) messages.Add("typed:" + msg.Data.Content); }))
                    {
                        var messageId = await session.SendAsync(new MessageOptions { Prompt = "CALL get_weather {\"city\":\"Paris\"}" });
                        Assert.True(!string.IsNullOrEmpty(messageId), "SendAsync returns the message id");
                        await Hang.Guard(idle.Task, 60, "session.idle after the quickstart prompt");
                    }
                    lock (WeatherCalls) Assert.True(WeatherCalls.Contains("Paris/1"), "the DefineTool method ran with city Paris and the default days: " + string.Join(",", WeatherCalls));
                    lock (messages)
                    {
                        Assert.True(messages.Contains("Tool returned: Sunny, 22C in Paris"), "AssistantMessageEvent.Data.Content: " + string.Join(" | ", messages));
                        Assert.True(messages.Contains("typed:Tool returned: Sunny, 22C in Paris"), "session.On<AssistantMessageEvent> got it too: " + string.Join(" | ", messages));
                        Assert.True(messages.All(m => !m.StartsWith("typed:") || messages.Contains(m.Substring(6))), "On<T> sees only assistant messages");
                    }
                    lock (completed) Assert.True(completed.Count >= 1 && completed.All(s => s == true), "ToolExecutionCompleteEvent.Data.Success");
                    lock (hookInputs)
                    {
                        var w = hookInputs.FirstOrDefault(i => i.ToolName == "get_weather");
                        Assert.True(w != null, "OnPreToolUse saw get_weather: " + string.Join(",", hookInputs.Select(i => i.ToolName)));
                        Assert.Equal("Paris", w.ToolArgs["city"].AsString(), "typed hook input toolArgs");
                        Assert.Equal(session.SessionId, w.SessionId, "typed hook input sessionId");
                    }

                    // SendAndWaitAsync returns the typed last assistant message.
                    var reply = await session.SendAndWaitAsync(new MessageOptions { Prompt = "What is 2+2?" });
                    Assert.True(reply is AssistantMessageEvent, "SendAndWaitAsync gives an AssistantMessageEvent: " + (reply == null ? "null" : reply.GetType().Name));
                    Assert.Equal("Hello from the fake model.", ((AssistantMessageEvent)reply).Data.Content, "the fake model's default answer");
                }
                finally
                {
                    if (session != null) await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        static async Task PermissionAndDeny()
        {
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(Shared.Url, Shared.Token) });
                await client.StartAsync();
                var asked = new List<string>();
                var ran = new List<string>();
                CopilotSession session = null;
                try
                {
                    session = await client.CreateSessionAsync(new SessionConfig
                    {
                        Model = "gpt-4.1",
                        Provider = model.Provider,
                        Tools = new List<CopilotTool>
                        {
                            CopilotTool.DefineTool(new Func<string, string>(city => { lock (ran) ran.Add(city); return "Rainy in " + city; }),
                                factoryOptions: new AIFunctionFactoryOptions { Name = "lookup_weather", Description = "Look the weather up" }),
                            CopilotTool.DefineTool(new Func<string, string>(path => { lock (ran) ran.Add("rm " + path); return "removed"; }),
                                factoryOptions: new AIFunctionFactoryOptions { Name = "remove_file", Description = "Remove a file" },
                                toolOptions: new CopilotToolOptions { SkipPermission = true }),
                        },
                        OnPermissionRequestWithInvocation = (request, invocation) =>
                        {
                            lock (asked) asked.Add(request.Kind + "|" + invocation.SessionId);
                            return Task.FromResult(PermissionDecision.ApproveOnce);
                        },
                        Hooks = new SessionHooks
                        {
                            OnPreToolUse = (input, invocation) => Task.FromResult(input.ToolName == "remove_file"
                                ? new PreToolUseHookOutput { PermissionDecision = "deny", PermissionDecisionReason = "not in the quickstart" }
                                : null),
                        },
                    });
                    var first = await session.SendAndWaitAsync(new MessageOptions { Prompt = "CALL lookup_weather {\"city\":\"Bergen\"}" });
                    Assert.Equal("Tool returned: Rainy in Bergen", ((AssistantMessageEvent)first).Data.Content, "the approved tool's result");
                    lock (asked)
                    {
                        Assert.True(asked.Count >= 1, "the (request, invocation) handler was asked");
                        Assert.True(asked.All(a => a == "custom-tool|" + session.SessionId), "kind and invocation.SessionId: " + string.Join(",", asked));
                    }
                    int askedBefore;
                    lock (asked) askedBefore = asked.Count;
                    var errors = new List<string>();
                    using (session.On<ToolExecutionCompleteEvent>(done => { lock (errors) errors.Add(done.Data.Error != null ? done.Data.Error.Message : "ok"); }))
                    {
                        await session.SendAndWaitAsync(new MessageOptions { Prompt = "CALL remove_file {\"path\":\"/etc/hosts\"}" });
                    }
                    lock (ran) Assert.Equal("Bergen", string.Join(",", ran), "the denied tool did not run");
                    lock (errors) Assert.True(errors.Any(e => e.Contains("Denied by preToolUse hook: not in the quickstart")), "the hook's deny reached the CLI: " + string.Join(" | ", errors));
                    lock (asked) Assert.Equal(askedBefore, asked.Count, "SkipPermission: no prompt for remove_file");
                }
                finally
                {
                    if (session != null) await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        [Description("Adds two numbers")]
        static int Add([Description("first")] int a, int b, System.Threading.CancellationToken ct) { return a + b; }

        /// <summary>No CLI: the schema DefineTool derives from a method, the name and description
        /// from the method when the options leave them out, the argument binding, and a lambda
        /// without a name is refused.</summary>
        static async Task DefineToolSchema()
        {
            var t = CopilotTool.DefineTool(new Func<int, int, System.Threading.CancellationToken, int>(Add));
            Assert.Equal("Add", t.Name, "name from the method");
            Assert.Equal("Adds two numbers", t.Description, "description from [Description]");
            var schema = CopilotJson.FromObject(t.Parameters);
            Assert.Equal("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"description\":\"first\"},\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}",
                schema.ToJson(), "the schema (the CancellationToken is no argument)");
            var inv = new ToolInvocation(CopilotJson.Parse("{\"sessionId\":\"s\",\"toolName\":\"Add\",\"arguments\":{\"a\":2,\"b\":40}}"), null);
            Assert.Equal("42", CopilotJson.FromObject(await t.Handler(inv)).ToJson(), "the arguments bound by name");

            var w = CopilotTool.DefineTool(new Func<string, int, Task<string>>(GetWeather), toolOptions: new CopilotToolOptions { SkipPermission = true });
            Assert.Equal("GetWeather", w.Name, "name");
            Assert.True(w.SkipPermission, "CopilotToolOptions.SkipPermission");
            Assert.Equal("[\"city\"]", CopilotJson.FromObject(w.Parameters)["required"].ToJson(), "a parameter with a default is optional");
            Assert.Throws<ArgumentException>(() => CopilotTool.DefineTool(new Func<string, string>(x => x)), "a lambda needs a name");
        }
    }
}
