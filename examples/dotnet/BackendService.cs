// The C# sample of the backend-services guide (../../../shared/BACKEND-SERVICES.md), over this
// repository's .NET SDK (bindings-c/dotnet): a backend connects to a Copilot CLI that runs on its
// own as a headless server (`copilot --headless --port 4321`), opens a session per user and
// returns the answer. The guide's body is in ChatAsync, as written, with two differences:
// - mcs (C# 7.2 on Mono, the only C# compiler here) cannot compile `await using`: the .NET form is
//   in the comment, and the code calls DisposeAsync() in a finally block (what `await using` does);
// - an optional BYOK provider (the guide's "Use your own API keys" section): the tests run offline
//   against a scripted model, and CLI 1.0.102 in server mode does not apply its environment BYOK
//   (COPILOT_PROVIDER_*) to SDK-created sessions, so the session names the provider itself.
//
// Run:  CLI_URL=localhost:4321 mono backend-service.exe "user-42" "Say hello"
//       (OPENAI_BASE_URL and OPENAI_API_KEY select a BYOK model)
// (the test suite starts a headless CLI with a BYOK model and runs ChatAsync against it).

using System;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Examples
{
    public static class BackendService
    {
        /// <summary>One request of the backend: the guide's C# sample.</summary>
        public static async Task<string> ChatAsync(string cliUrl, string userId, string message, ProviderConfig provider = null)
        {
            var client = new CopilotClient(new CopilotClientOptions
            {
                CliUrl = cliUrl,
                UseStdio = false,
            });
            try
            {
                // .NET 8: await using var session = await client.CreateSessionAsync(new SessionConfig { ... });
                var session = await client.CreateSessionAsync(new SessionConfig
                {
                    SessionId = $"user-{userId}-{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}",
                    Model = "gpt-4.1",
                    Provider = provider, // null: the server's own model access (GitHub auth)
                });
                try
                {
                    var response = await session.SendAndWaitAsync(
                        new MessageOptions { Prompt = message });
                    return response?.Data.Content;
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

        /// <summary>The guide's health check: the server answers status.get.</summary>
        public static async Task<bool> CheckCliHealthAsync(CopilotClient client)
        {
            try
            {
                var status = await client.GetStatusAsync();
                return status != null;
            }
            catch (CopilotException)
            {
                return false;
            }
        }

        /// <summary>The guide's cleanup job: delete sessions older than maxAge.</summary>
        public static async Task<int> CleanupSessionsAsync(CopilotClient client, TimeSpan maxAge)
        {
            var sessions = await client.ListSessionsAsync();
            var now = DateTimeOffset.UtcNow;
            int deleted = 0;
            foreach (var session in sessions)
            {
                var age = now - DateTimeOffset.Parse(session.CreatedAt);
                if (age > maxAge)
                {
                    await client.DeleteSessionAsync(session.SessionId);
                    deleted++;
                }
            }
            return deleted;
        }

        /// <summary>The guide's API pattern: resume the caller's session, or create it.</summary>
        public static async Task<string> ChatWithSessionAsync(CopilotClient client, string sessionId, string message, ProviderConfig provider = null)
        {
            CopilotSession session;
            try
            {
                // Without a config when the server has its own model access; a BYOK session is
                // given its provider again (a cold load from disk needs it).
                session = provider == null
                    ? await client.ResumeSessionAsync(sessionId)
                    : await client.ResumeSessionAsync(sessionId, new SessionConfig { Model = "gpt-4.1", Provider = provider });
            }
            catch (CopilotException)
            {
                session = await client.CreateSessionAsync(new SessionConfig { SessionId = sessionId, Model = "gpt-4.1", Provider = provider });
            }
            try
            {
                var response = await session.SendAndWaitAsync(new MessageOptions { Prompt = message });
                return response?.Data.Content;
            }
            finally
            {
                await session.DisposeAsync();
            }
        }

#if BACKEND_SERVICE_MAIN
        // CLI_URL (default localhost:4321); OPENAI_BASE_URL + OPENAI_API_KEY for a BYOK model.
        // No explicit CopilotRuntime.Shutdown(): the SDK ends its callback thread at process
        // exit, so this program exits on Mono too (the test suite checks that).
        public static int Main(string[] args)
        {
            var url = Environment.GetEnvironmentVariable("CLI_URL") ?? "localhost:4321";
            var user = args.Length > 0 ? args[0] : "demo";
            var message = args.Length > 1 ? args[1] : "Say hello";
            var baseUrl = Environment.GetEnvironmentVariable("OPENAI_BASE_URL");
            var provider = baseUrl == null ? null : new ProviderConfig
            {
                Type = "openai",
                BaseUrl = baseUrl,
                ApiKey = Environment.GetEnvironmentVariable("OPENAI_API_KEY"),
            };
            try
            {
                Console.WriteLine(ChatAsync(url, user, message, provider).GetAwaiter().GetResult());
                return 0;
            }
            catch (CopilotException e)
            {
                Console.Error.WriteLine("error: [" + e.Code + "] " + e.Message);
                return 1;
            }
        }
#endif
    }
}
