// The typed protocol in C# (issue 11): typed events (`if (evt is AssistantMessageEvent m)`),
// typed RPC namespaces (`session.Rpc.Model.SwitchToAsync(...)`, `client.Rpc.Models...`) and a
// tool whose parameter schema comes from a .NET type. test.sh compiles it with mcs (so the types
// are checked at compile time) and the suite runs RunAsync against the real CLI.
//
// Run:  CLI_URL=localhost:4321 mono typed-protocol.exe   (OPENAI_BASE_URL / OPENAI_API_KEY: a BYOK model)

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK.Examples
{
    public static class TypedProtocol
    {
        /// <summary>The arguments of the sample's tool: the schema is derived from this class.</summary>
        public sealed class WeatherArgs
        {
            [Description("The city to look up")]
            public string City { get; set; }
            [Optional]
            public string Unit { get; set; }
        }

        /// <summary>What one run saw.</summary>
        public sealed class Outcome
        {
            public string Answer;
            public string ToolCity;
            public bool SawIdle;
            public string ModelAfterSwitch;
            public string LogEventId;
            public int BuiltInModels;
        }

        public static async Task<Outcome> RunAsync(CopilotClient client, ProviderConfig provider, string prompt)
        {
            var outcome = new Outcome();
            var tool = CopilotTool.Define<WeatherArgs>("get_weather", "Weather of a city", a =>
            {
                outcome.ToolCity = a.City;
                return "Sunny in " + a.City;
            });
            var session = await client.CreateSessionAsync(new SessionConfig { Model = "gpt-4.1", Provider = provider, Tools = new[] { tool } });
            try
            {
                // Typed events: one class per event type, Data typed. With Roslyn (the .NET SDK)
                // write `switch (evt) { case AssistantMessageEvent m: ...; case IdleEvent idle: ... }`;
                // Mono's mcs has no type patterns in `switch` (it crashes on them), so the sample
                // uses the `is` patterns it does compile.
                session.On(evt =>
                {
                    if (evt is AssistantMessageEvent m) outcome.Answer = m.Data.Content;
                    else if (evt is IdleEvent idle) outcome.SawIdle = idle.Data.Aborted != true;
                });
                await session.SendAndWaitAsync(prompt);

                // Typed RPC: session level (sessionId added by the core) and client level.
                var switched = await session.Rpc.Model.SwitchToAsync(new SessionModelSwitchToParams { ModelId = "gpt-5" });
                outcome.ModelAfterSwitch = switched.ModelId;
                LogResult logged = await session.Rpc.LogAsync(new SessionLogParams { Message = "typed hello", Level = SessionLogLevel.Info });
                outcome.LogEventId = logged.EventId;
                BuiltInModelCatalog catalog = await client.Rpc.Models.GetBuiltInCatalogAsync();
                outcome.BuiltInModels = catalog.Models.Count;
                // A method newer than the schema: the generic call.
                await session.CallAsync("session.plan.read");
            }
            finally
            {
                await session.DisposeAsync();
            }
            return outcome;
        }

#if TYPED_PROTOCOL_MAIN
        public static int Main()
        {
            var url = Environment.GetEnvironmentVariable("CLI_URL") ?? "localhost:4321";
            var client = new CopilotClient(new CopilotClientOptions { CliUrl = url, UseStdio = false });
            try
            {
                client.StartAsync().GetAwaiter().GetResult();
                var baseUrl = Environment.GetEnvironmentVariable("OPENAI_BASE_URL");
                var provider = baseUrl == null ? null : new ProviderConfig { Type = "openai", BaseUrl = baseUrl, ApiKey = Environment.GetEnvironmentVariable("OPENAI_API_KEY") };
                var o = RunAsync(client, provider, "What is the weather in Oslo?").GetAwaiter().GetResult();
                Console.WriteLine(o.Answer);
                return 0;
            }
            finally
            {
                client.StopAsync().GetAwaiter().GetResult();
                CopilotRuntime.Shutdown();
            }
        }
#endif
    }
}
