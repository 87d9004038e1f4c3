// Issue 12, typed hooks: the generated adapters Hooks.PreToolUse(...), Hooks.UserPromptSubmitted(...),
// Hooks.PostToolUse(...) against the real CLI and the fake model, plus the adapter's decoding rules.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK.Tests
{
    static class TypedHookTests
    {
        public static void Register(Runner r)
        {
            r.Add("typed_hook_adapter_decodes_and_encodes", AdapterDecodesAndEncodes);
            r.Add("typed_hook_pre_tool_use_denies", PreToolUseDenies);
            r.Add("typed_hook_user_prompt_submitted_adds_context", UserPromptSubmittedAddsContext);
            r.Add("typed_hook_post_tool_use_sees_the_result", PostToolUseSeesResult);
        }

        static SessionConfig Config(FakeModel m)
        {
            return new SessionConfig { Model = "gpt-4.1", Provider = m.Provider };
        }

        static CopilotTool Weather(Func<string> answer)
        {
            return new CopilotTool
            {
                Name = "get_weather", SkipPermission = true,
                Parameters = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}",
                Handler = inv => Task.FromResult((object)answer()),
            };
        }

        static void PlausibleNow(double unixMs, string what)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Assert.True(unixMs > now - 10 * 60 * 1000 && unixMs < now + 60 * 1000, what + ": a Unix-ms timestamp near now: " + unixMs + " (now " + now + ")");
        }

        static HookInvocation Invocation(string hookType, string inputJson)
        {
            return new HookInvocation(CopilotJson.Parse("{\"sessionId\":\"s-1\",\"hookType\":\"" + hookType + "\",\"input\":" + inputJson + "}"), null);
        }

        /// <summary>No CLI: the adapter decodes the generated input (unknown fields kept), encodes the
        /// output, passes null on, refuses a call of another hook type, and an unreadable field is a
        /// strict failure in the strict mode (null/0 outside it).</summary>
        static async Task AdapterDecodesAndEncodes()
        {
            PreToolUseHookInput seen = null;
            var deny = Hooks.PreToolUse((input, inv) =>
            {
                seen = input;
                return Task.FromResult(new PreToolUseHookOutput { PermissionDecision = PreToolUseHookOutputPermissionDecision.Deny, PermissionDecisionReason = "r" });
            });
            var output = await deny(Invocation("preToolUse", "{\"sessionId\":\"s-1\",\"timestamp\":1767000000000,\"cwd\":\"/w\",\"toolName\":\"bash\",\"toolArgs\":{\"command\":\"ls\"},\"brandNew\":7}"));
            Assert.Equal("{\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"r\"}", output.ToJson(), "the output, encoded");
            Assert.Equal("bash", seen.ToolName, "toolName");
            Assert.Equal(1767000000000.0, seen.Timestamp, "timestamp");
            Assert.Equal("ls", seen.ToolArgs["command"].AsString(), "toolArgs");
            Assert.Equal(7L, seen.Json["brandNew"].AsLong(), "an unknown field stays readable");
            Assert.Equal(0, StrictTypes.TakeFailures("PreToolUseHookInput.").Count, "a well-formed input is no failure");

            var none = Hooks.PostToolUse((input, inv) => Task.FromResult<PostToolUseHookOutput>(null));
            Assert.True(await none(Invocation("postToolUse", "{\"sessionId\":\"s\",\"timestamp\":1,\"cwd\":\"/\",\"toolName\":\"t\"}")) == null, "null output passes on as null");

            await Assert.ThrowsAsync<InvalidOperationException>(() => deny(Invocation("postToolUse", "{}")), "a preToolUse adapter called for postToolUse");
            await Assert.ThrowsAsync<InvalidOperationException>(() => deny(Invocation("preToolUse", "\"text\"")), "an input that is not an object");
            var notObject = StrictTypes.TakeFailures("PreToolUseHookInput");
            if (StrictTypes.Enabled) Assert.True(notObject.Count == 1 && notObject[0].Contains("expected object"), "strict failure for a non-object input: " + string.Join("; ", notObject));
            else Assert.Equal(0, notObject.Count, "nothing recorded outside the strict mode");

            await deny(Invocation("preToolUse", "{\"sessionId\":\"s\",\"timestamp\":\"yesterday\",\"cwd\":\"/\",\"toolName\":\"t\"}"));
            var failures = StrictTypes.TakeFailures("PreToolUseHookInput.");
            if (StrictTypes.Enabled) Assert.True(failures.Count == 1 && failures[0].Contains("timestamp"), "strict failure for an unreadable timestamp: " + string.Join("; ", failures));
            else Assert.Equal(0, failures.Count, "nothing recorded outside the strict mode");
            Assert.Equal(0.0, seen.Timestamp, "an unreadable timestamp reads as 0");
        }

        /// <summary>A typed preToolUse hook denies the tool with a reason and sees toolName,
        /// sessionId, a Unix-ms timestamp and cwd; the tool never runs.</summary>
        static async Task PreToolUseDenies()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var ran = 0;
                var inputs = new List<PreToolUseHookInput>();
                var invocations = new List<HookInvocation>();
                var cfg = Config(model);
                cfg.Tools = new List<CopilotTool> { Weather(() => { ran++; return "never"; }) };
                cfg.Hooks = new Dictionary<string, Func<HookInvocation, Task<JsonData>>>
                {
                    { HookTypes.PreToolUse, Hooks.PreToolUse((input, inv) =>
                        {
                            lock (inputs) { inputs.Add(input); invocations.Add(inv); }
                            return Task.FromResult(input.ToolName == "get_weather"
                                ? new PreToolUseHookOutput { PermissionDecision = PreToolUseHookOutputPermissionDecision.Deny, PermissionDecisionReason = "typed hooks say no" }
                                : null);
                        }) },
                };
                var session = await client.CreateSessionAsync(cfg);
                var events = new List<string>();
                try
                {
                    using (session.On(e => { lock (events) events.Add(e.Json.ToJson()); }))
                    {
                        var answer = await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Rome\"}");
                        Assert.True(answer != null, "an answer");
                    }
                    Assert.Equal(0, ran, "the denied tool did not run");
                    lock (events)
                        Assert.True(events.Any(e => e.Contains("tool.execution_complete") && e.Contains("Denied by preToolUse hook: typed hooks say no")),
                            "the tool failed with the hook's reason: " + string.Join("\n", events.Where(e => e.Contains("tool.execution_complete"))));
                    lock (inputs)
                    {
                        var w = inputs.FirstOrDefault(i => i.ToolName == "get_weather");
                        Assert.True(w != null, "the hook saw toolName get_weather: " + string.Join(",", inputs.Select(i => i.ToolName)));
                        Assert.Equal(session.SessionId, w.SessionId, "input sessionId");
                        Assert.Equal(session.SessionId, invocations[inputs.IndexOf(w)].SessionId, "invocation sessionId");
                        PlausibleNow(w.Timestamp, "preToolUse timestamp");
                        Assert.True(!string.IsNullOrEmpty(w.Cwd), "cwd is set");
                        Assert.Equal("Rome", w.ToolArgs["city"].AsString(), "toolArgs");
                    }
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        /// <summary>A typed userPromptSubmitted hook sees the prompt and its additionalContext reaches the model.</summary>
        static async Task UserPromptSubmittedAddsContext()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var marker = "typed-context-" + Guid.NewGuid().ToString("N");
                var prompts = new List<UserPromptSubmittedHookInput>();
                var cfg = Config(model);
                cfg.Hooks = new Dictionary<string, Func<HookInvocation, Task<JsonData>>>
                {
                    { HookTypes.UserPromptSubmitted, Hooks.UserPromptSubmitted(async (input, inv) =>
                        {
                            await Task.Yield();
                            lock (prompts) prompts.Add(input);
                            return new UserPromptSubmittedHookOutput { AdditionalContext = marker };
                        }) },
                };
                var session = await client.CreateSessionAsync(cfg);
                try
                {
                    await session.SendAndWaitAsync("Say hello to the typed hook");
                    lock (prompts)
                    {
                        Assert.Equal(1, prompts.Count, "userPromptSubmitted calls");
                        Assert.Contains(prompts[0].Prompt, "Say hello to the typed hook", "the hook saw the prompt");
                        Assert.Equal(session.SessionId, prompts[0].SessionId, "sessionId");
                        PlausibleNow(prompts[0].Timestamp, "userPromptSubmitted timestamp");
                    }
                    var requests = model.ChatRequests();
                    Assert.True(requests.Count > 0, "the model was asked");
                    Assert.True(requests[requests.Count - 1].ToJson().Contains(marker), "the additional context " + marker + " reached the model's last request");
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        /// <summary>A typed postToolUse hook sees the tool's result as toolResult.textResultForLlm.</summary>
        static async Task PostToolUseSeesResult()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var results = new List<PostToolUseHookInput>();
                var cfg = Config(model);
                cfg.Tools = new List<CopilotTool> { Weather(() => "sunny in Rome, 24C") };
                cfg.Hooks = new Dictionary<string, Func<HookInvocation, Task<JsonData>>>
                {
                    { HookTypes.PostToolUse, Hooks.PostToolUse((input, inv) =>
                        {
                            lock (results) results.Add(input);
                            return Task.FromResult<PostToolUseHookOutput>(null);
                        }) },
                };
                var session = await client.CreateSessionAsync(cfg);
                try
                {
                    await session.SendAndWaitAsync("CALL get_weather {\"city\":\"Rome\"}");
                    lock (results)
                    {
                        var w = results.FirstOrDefault(i => i.ToolName == "get_weather");
                        Assert.True(w != null, "postToolUse for get_weather: " + string.Join(",", results.Select(i => i.ToolName)));
                        Assert.True(w.ToolResult != null, "toolResult decoded: " + w.Json.ToJson());
                        Assert.Contains(w.ToolResult.TextResultForLlm ?? "", "sunny in Rome, 24C", "textResultForLlm");
                        Assert.Equal(session.SessionId, w.SessionId, "sessionId");
                    }
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }
    }
}
