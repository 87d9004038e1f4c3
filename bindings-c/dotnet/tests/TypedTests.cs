// The typed protocol (issue 11): generated types, typed events, typed RPC namespaces, typed tools,
// the strict mode's bookkeeping. Real-CLI tests run against the shared CLI and the fake model.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Examples;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK.Tests
{
    static class TypedTests
    {
        public static void Register(Runner r)
        {
            r.Add("typed_events_decode_and_fall_back", DecodeAndFallBack);
            r.Add("typed_tool_schema_from_type", ToolSchemaFromType);
            r.Add("typed_protocol_sample", SampleAgainstCli);
            r.Add("typed_rpc_namespaces", RpcNamespaces);
        }

        static Task DecodeAndFallBack()
        {
            var known = SessionEvent.FromJson(CopilotJson.Parse(
                "{\"id\":\"e1\",\"timestamp\":\"2026-01-02T03:04:05.678Z\",\"parentId\":null,\"type\":\"assistant.message\",\"data\":{\"messageId\":\"m1\",\"content\":\"hi\",\"brandNewField\":1}}"));
            var m = known as AssistantMessageEvent;
            Assert.True(m != null, "assistant.message is an AssistantMessageEvent: " + known.GetType().Name);
            Assert.Equal("hi", m.Data.Content, "typed data");
            Assert.Equal("hi", ((SessionEvent)m).Data.Content, "the untyped data stays");
            Assert.Equal(1L, m.Data.Json["brandNewField"].AsLong(), "an unknown field stays readable");
            Assert.Equal(2026, m.Time.Value.Year, "envelope time");
            Assert.Equal(SessionEventTypes.AssistantMessage, SessionEventTypes.Of(typeof(AssistantMessageEvent)));
            Assert.Equal(140, SessionEventTypes.All.Length, "every schema event type");

            var unknown = SessionEvent.FromJson(CopilotJson.Parse("{\"id\":\"e2\",\"type\":\"brand.new_event\",\"data\":{\"x\":1}}"));
            Assert.True(unknown.GetType() == typeof(SessionEvent) && !unknown.IsKnownType, "an unknown type is a plain SessionEvent");
            Assert.Equal(1L, unknown.Data["x"].AsLong(), "its data stays readable");

            // An enum value the schema does not know decodes, readable as its string.
            var log = SessionLogParams.FromJson(CopilotJson.Parse("{\"message\":\"m\",\"level\":\"catastrophic\"}"));
            Assert.Equal("catastrophic", log.Level.Value);
            Assert.True(!log.Level.IsKnown && SessionLogLevel.Warning.IsKnown, "IsKnown");
            Assert.True(SessionLogParams.FromJson(CopilotJson.Parse("{\"message\":\"m\",\"level\":\"error\"}")).Level == SessionLogLevel.Error, "enum equality");
            Assert.Equal("{\"level\":\"warning\",\"message\":\"w\"}", new SessionLogParams { Message = "w", Level = SessionLogLevel.Warning }.ToJson().ToJson(), "ToJson");

            // The model list entry (ListModelsAsync) is the generated Model: capabilities, policy, billing typed.
            var model = Protocol.Model.FromJson(CopilotJson.Parse(
                "{\"id\":\"gpt-5\",\"name\":\"GPT-5\",\"capabilities\":{\"supports\":{\"vision\":true},\"limits\":{\"max_context_window_tokens\":128000}},\"policy\":{\"state\":\"enabled\",\"terms\":\"t\"},\"billing\":{\"multiplier\":1.5}}"));
            Assert.True(model.Capabilities.Supports.Vision == true && model.Capabilities.Limits.MaxContextWindowTokens == 128000, "capabilities");
            Assert.True(model.Policy.State == ModelPolicyState.Enabled && model.Billing.Multiplier == 1.5, "policy and billing");

            // A value of the wrong JSON type: null outside the strict mode, a failure in it.
            var wrong = LogResult.FromJson(CopilotJson.Parse("{\"eventId\":5}"));
            Assert.True(wrong.EventId == null, "wrong type reads as null");
            var failures = StrictTypes.TakeFailures("LogResult.");
            if (StrictTypes.Enabled) Assert.Equal(1, failures.Count, "the strict mode records the wrong type: " + string.Join("; ", failures));
            else Assert.Equal(0, failures.Count, "nothing recorded outside the strict mode");
            Assert.True(LogResult.FromJson(CopilotJson.Parse("{}")) != null, "an object missing a required field still decodes");
            failures = StrictTypes.TakeFailures("LogResult.");
            if (StrictTypes.Enabled) Assert.True(failures.Count == 1 && failures[0].Contains("missing required"), "missing required field: " + string.Join("; ", failures));
            return Task.FromResult(0);
        }

        sealed class Args
        {
            public string City { get; set; }
            public int Days { get; set; }
            public double? Threshold { get; set; }
            public List<string> Tags { get; set; }
        }

        static Task ToolSchemaFromType()
        {
            var s = ToolSchema.For<Args>();
            Assert.Equal("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"threshold\":{\"type\":\"number\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"city\",\"days\",\"tags\"]}", s.ToJson());
            var a = ToolSchema.Read<Args>(CopilotJson.Parse("{\"city\":\"Oslo\",\"days\":3,\"tags\":[\"a\",\"b\"]}"));
            Assert.Equal("Oslo|3||a,b", a.City + "|" + a.Days + "|" + a.Threshold + "|" + string.Join(",", a.Tags));
            return Task.FromResult(0);
        }

        static async Task SampleAgainstCli()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                try
                {
                    var o = await TypedProtocol.RunAsync(client, model.Provider, "CALL get_weather {\"city\":\"Oslo\"}");
                    Assert.Equal("Oslo", o.ToolCity, "the tool got typed arguments");
                    Assert.Equal("Tool returned: Sunny in Oslo", o.Answer, "typed assistant.message");
                    Assert.True(o.SawIdle, "typed session.idle");
                    Assert.Equal("gpt-5", o.ModelAfterSwitch, "session.model.switchTo typed result");
                    Assert.True(!string.IsNullOrEmpty(o.LogEventId), "session.log eventId");
                    Assert.True(o.BuiltInModels > 0, "models.getBuiltInCatalog");
                }
                finally
                {
                    await client.DisposeAsync();
                }
            }
        }

        static async Task RpcNamespaces()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                try
                {
                    var session = await client.CreateSessionAsync(new SessionConfig { Model = "gpt-4.1", Provider = model.Provider });
                    try
                    {
                        var seen = new TaskCompletionSource<ModelChangeEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                        using (session.On(SessionEventTypes.ModelChange, e => { var mc = e as ModelChangeEvent; if (mc != null) seen.TrySetResult(mc); }))
                        {
                            var current = await session.Rpc.Model.GetCurrentAsync();
                            Assert.Equal("gpt-4.1", current.ModelId, "model.getCurrent");
                            await session.Rpc.Model.SwitchToAsync(new SessionModelSwitchToParams { ModelId = "gpt-5" });
                            Assert.Equal("gpt-5", (await session.Rpc.Model.GetCurrentAsync()).ModelId, "after switchTo");
                            var change = await Hang.Guard(seen.Task, 10, "model_change event");
                            Assert.Equal("gpt-5", change.Data.NewModel, "typed model_change data");
                        }
                        var mode = await session.Rpc.Permissions.GetModeAsync();
                        Assert.True(mode.Mode != null, "permissions.getMode");
                        await session.Rpc.Name.SetAsync(new SessionNameSetParams { Name = "typed name" });
                        Assert.Equal("typed name", (await session.Rpc.Name.GetAsync()).Name, "name.get");
                        var plan = await session.Rpc.Plan.ReadAsync();
                        Assert.True(!plan.Exists, "plan.read: no plan yet");
                        var sizes = await client.Rpc.Sessions.GetSizesAsync();
                        Assert.True(sizes.Sizes != null, "sessions.getSizes");
                        var tools = await client.Rpc.Tools.ListAsync(new ToolsListRequest());
                        Assert.True(tools.Tools.Count > 0 && tools.Tools.All(t => !string.IsNullOrEmpty(t.Name)), "tools.list");
                        // The generic call stays for methods newer than the schema.
                        var raw = await client.CallAsync("models.getBuiltInCatalog");
                        Assert.True(raw["models"].IsArray, "CallAsync");
                    }
                    finally
                    {
                        await session.DisposeAsync();
                    }
                }
                finally
                {
                    await client.DisposeAsync();
                }
            }
        }
    }
}
