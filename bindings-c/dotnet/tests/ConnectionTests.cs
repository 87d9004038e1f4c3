// Issue 12, connection and naming parity: RuntimeConnection.ForUri/ForStdio/ForTcp as
// CopilotClientOptions.Connection, GetSessionMetadataAsync, GetEventsAsync and the OnLifecycle
// name. Real CLI (the shared TCP CLI with its token, or one the test spawns) and the fake model.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class ConnectionTests
    {
        public static void Register(Runner r)
        {
            r.Add("runtime_connection_json_forms", JsonForms);
            r.Add("runtime_connection_for_uri_runs_a_turn_and_wrong_token_is_refused", ForUriTurnAndToken);
            r.Add("runtime_connection_with_cli_url_is_invalid_config", ConnectionWithLegacyOptions);
            r.Add("runtime_connection_for_stdio_and_for_tcp_spawn_the_cli", ForStdioAndForTcp);
            r.Add("get_session_metadata_and_get_events", MetadataAndEvents);
            r.Add("on_lifecycle_alias_fires_and_unsubscribes", OnLifecycleAlias);
        }

        static SessionConfig Config(FakeModel m)
        {
            return new SessionConfig { Model = "gpt-4.1", Provider = m.Provider };
        }

        /// <summary>A spawned-CLI options object (isolated HOME and cwd) with the legacy
        /// CliPath/UseStdio left out, so a Connection can carry them.</summary>
        static CopilotClientOptions Spawned(RuntimeConnection connection)
        {
            var o = Env.OwnCli(true);
            o.CliPath = null;
            o.UseStdio = null;
            o.Connection = connection;
            return o;
        }

        static Task JsonForms()
        {
            Assert.Equal("{\"kind\":\"uri\",\"url\":\"127.0.0.1:9\",\"connectionToken\":\"t\"}", RuntimeConnection.ForUri("127.0.0.1:9", "t").ToJson().ToJson());
            Assert.Equal("{\"kind\":\"uri\",\"url\":\"9\"}", RuntimeConnection.ForUri("9").ToJson().ToJson());
            Assert.Equal("{\"kind\":\"stdio\"}", RuntimeConnection.ForStdio().ToJson().ToJson());
            Assert.Equal("{\"kind\":\"stdio\",\"path\":\"/bin/copilot\",\"args\":[\"--x\"]}", RuntimeConnection.ForStdio("/bin/copilot", new[] { "--x" }).ToJson().ToJson());
            Assert.Equal("{\"kind\":\"tcp\",\"path\":\"/p\",\"args\":[\"-a\"],\"port\":7,\"connectionToken\":\"k\"}", RuntimeConnection.ForTcp(7, "k", "/p", new[] { "-a" }).ToJson().ToJson());
            Assert.Equal("{\"kind\":\"tcp\",\"port\":0}", RuntimeConnection.ForTcp().ToJson().ToJson());
            var tcp = RuntimeConnection.ForTcp(port: 5);
            Assert.True(tcp is ChildProcessRuntimeConnection && tcp.Port == 5 && tcp.ConnectionToken == null, "ForTcp's properties");
            var o = new CopilotClientOptions { Connection = RuntimeConnection.ForUri("1234", "tok"), GitHubToken = "g" };
            Assert.Equal("{\"connection\":{\"kind\":\"uri\",\"url\":\"1234\",\"connectionToken\":\"tok\"},\"githubToken\":\"g\"}", o.ToJson().ToJson(), "the client option");
            Assert.Throws<ArgumentException>(() => RuntimeConnection.ForUri(null));
            Assert.Throws<ArgumentException>(() => RuntimeConnection.ForUri(""));
            // The core reads every form (a client is made without connecting).
            foreach (var c in new RuntimeConnection[] { RuntimeConnection.ForUri("127.0.0.1:1", "t"), RuntimeConnection.ForStdio("/bin/true", new[] { "-x" }), RuntimeConnection.ForTcp(0, "t") })
                new CopilotClient(new CopilotClientOptions { Connection = c }).Dispose();
            // ...and refuses a bad value inside one, typed.
            var bad = Assert.Throws<InvalidConfigException>(() => new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForTcp(70000) }));
            Assert.Equal(ErrorCodes.InvalidConfig, bad.Code);
            return Task.FromResult(0);
        }

        static async Task ForUriTurnAndToken()
        {
            using (var model = FakeModel.Start())
            {
                var client = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(Shared.Url, Shared.Token) });
                await client.StartAsync();
                Assert.Equal(ConnectionState.Connected, client.State);
                Assert.Equal(Shared.Port, client.Port.Value, "connected to the shared CLI's port");
                Assert.True(!client.CliPid.HasValue, "nothing spawned");
                var session = await client.CreateSessionAsync(Config(model));
                var answer = await session.SendAndWaitAsync("REPLY over ForUri");
                Assert.Equal("over ForUri", answer.Data.Content);
                await session.DisposeAsync();
                await client.DisposeAsync();
            }
            // "http://host:port" works as well.
            var http = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri("http://127.0.0.1:" + Shared.Port, Shared.Token) });
            await http.PingAsync();
            await http.DisposeAsync();
            foreach (var token in new[] { "wrong-token", null })
            {
                var c = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(Shared.Url, token) });
                var e = await Assert.ThrowsAsync<CopilotAuthenticationException>(() => c.StartAsync(), "ForUri with token " + (token ?? "none"));
                Assert.Equal(ErrorCodes.Authentication, e.Code);
                Assert.True(c.State != ConnectionState.Connected, "a refused client is not connected");
                c.Dispose();
            }
        }

        static Task ConnectionWithLegacyOptions()
        {
            var uri = RuntimeConnection.ForUri("127.0.0.1:1", "t");
            var legacy = new List<KeyValuePair<string, Action<CopilotClientOptions>>>
            {
                new KeyValuePair<string, Action<CopilotClientOptions>>("cliUrl", o => o.CliUrl = "127.0.0.1:2"),
                new KeyValuePair<string, Action<CopilotClientOptions>>("useStdio", o => o.UseStdio = true),
                new KeyValuePair<string, Action<CopilotClientOptions>>("port", o => o.Port = 3),
                new KeyValuePair<string, Action<CopilotClientOptions>>("cliPath", o => o.CliPath = "/bin/copilot"),
                new KeyValuePair<string, Action<CopilotClientOptions>>("cliArgs", o => o.CliArgs = new[] { "-x" }),
                new KeyValuePair<string, Action<CopilotClientOptions>>("connectionToken", o => o.ConnectionToken = "t2"),
            };
            foreach (var kv in legacy)
            {
                var o = new CopilotClientOptions { Connection = uri };
                kv.Value(o);
                var e = Assert.Throws<InvalidConfigException>(() => new CopilotClient(o), "connection + " + kv.Key);
                Assert.Equal(ErrorCodes.InvalidConfig, e.Code);
                Assert.Equal(16, e.Number);
                Assert.Contains(e.Message, "`" + kv.Key + "`", "the message names the clashing option");
            }
            // The legacy options alone still work (the shared CLI is reached by CliUrl in every other test).
            new CopilotClient(new CopilotClientOptions { CliUrl = "127.0.0.1:2", ConnectionToken = "t" }).Dispose();
            return Task.FromResult(0);
        }

        static async Task ForStdioAndForTcp()
        {
            using (var model = FakeModel.Start())
            {
                var stdio = new CopilotClient(Spawned(RuntimeConnection.ForStdio(Env.CliPath)));
                await stdio.StartAsync();
                Assert.True(stdio.CliPid.HasValue && !stdio.Port.HasValue, "a stdio child: a pid and no port");
                var s = await stdio.CreateSessionAsync(Config(model));
                Assert.Equal("over ForStdio", (await s.SendAndWaitAsync("REPLY over ForStdio")).Data.Content);
                await s.DisposeAsync();
                await stdio.DisposeAsync();

                const string token = "for-tcp-dotnet-token";
                var tcp = new CopilotClient(Spawned(RuntimeConnection.ForTcp(0, token, Env.CliPath)));
                await tcp.StartAsync();
                Assert.True(tcp.CliPid.HasValue && tcp.Port.HasValue && tcp.Port.Value > 0, "a TCP child: a pid and a port");
                var url = "127.0.0.1:" + tcp.Port.Value;
                // The child got the token: another client needs it.
                var other = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(url, token) });
                var s2 = await other.CreateSessionAsync(Config(model));
                Assert.Equal("over ForTcp", (await s2.SendAndWaitAsync("REPLY over ForTcp")).Data.Content);
                await s2.DisposeAsync();
                await other.DisposeAsync();
                var wrong = new CopilotClient(new CopilotClientOptions { Connection = RuntimeConnection.ForUri(url, "not-" + token) });
                await Assert.ThrowsAsync<CopilotAuthenticationException>(() => wrong.StartAsync(), "the ForTcp child's token is enforced");
                wrong.Dispose();
                await tcp.DisposeAsync();
            }
        }

        static async Task MetadataAndEvents()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var id = "metadata-dotnet-" + Process.GetCurrentProcess().Id;
                var cfg = Config(model);
                cfg.SessionId = id;
                var before = DateTimeOffset.UtcNow.AddMinutes(-5);
                var session = await client.CreateSessionAsync(cfg);
                Assert.Equal("metadata here", (await session.SendAndWaitAsync("REPLY metadata here")).Data.Content);

                // GetEventsAsync is GetMessagesAsync under the official name.
                var messages = await session.GetMessagesAsync();
                var events = await session.GetEventsAsync();
                Assert.True(messages.Count > 0, "the history has events");
                Assert.Equal(string.Join("\n", messages.Select(e => e.Json.ToJson())), string.Join("\n", events.Select(e => e.Json.ToJson())), "GetEventsAsync = GetMessagesAsync");
                Assert.True(events.Any(e => e.Type == "user.message" && e.Data.Content == "REPLY metadata here"), "the prompt is in the events");
                Assert.True(events.Any(e => e.Type == "assistant.message" && e.Data.Content == "metadata here"), "the answer is in the events");
                await session.DisposeAsync();

                var m = await client.GetSessionMetadataAsync(id);
                Assert.True(m != null, "metadata of a session that had a turn");
                Assert.Equal(id, m.SessionId);
                Assert.True(m.StartedAt.HasValue && m.ModifiedAt.HasValue, "start and modified times parse: " + m.Json.ToJson());
                Assert.True(m.StartedAt.Value > before && m.StartedAt.Value <= DateTimeOffset.UtcNow.AddMinutes(1), "a recent start time: " + m.StartTime);
                Assert.True(m.ModifiedAt.Value >= m.StartedAt.Value, "modified after start");
                Assert.True(m.Json["createdAt"].AsString() != null, "the server's entry has createdAt: " + m.Json.ToJson());
                Assert.Equal(m.StartTime, m.CreatedAt, "createdAt = startTime");
                Assert.True(m.CreatedAtTime > before, "createdAt as a time");
                Assert.True(!m.IsRemote, "a local session");
                // The same entry as the list's.
                var listed = (await client.ListSessionsAsync()).FirstOrDefault(x => x.SessionId == id);
                Assert.True(listed != null, "listed");
                Assert.Equal(listed.StartTime, m.StartTime, "same start time as the list");

                Assert.True(await client.GetSessionMetadataAsync("no-such-session-" + Guid.NewGuid()) == null, "an unknown id is null");
                await Assert.ThrowsAsync<ArgumentNullException>(() => client.GetSessionMetadataAsync(null));
                await client.DeleteSessionAsync(id);
                Assert.True(await client.GetSessionMetadataAsync(id) == null, "a deleted session is null");
                await client.DisposeAsync();
            }
        }

        static async Task OnLifecycleAlias()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var id = "onlifecycle-dotnet-" + Process.GetCurrentProcess().Id;
                var created = new TaskCompletionSource<SessionLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                var every = new TaskCompletionSource<SessionLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                var typed = new List<string>();
                var gone = new List<string>();
                var sub = client.OnLifecycle(e => { if (e.SessionId == id) every.TrySetResult(e); });
                var subTyped = client.OnLifecycle("session.created", e => { lock (typed) typed.Add(e.Type + ":" + e.SessionId); if (e.SessionId == id) created.TrySetResult(e); });
                var subList = client.OnLifecycle(new[] { "session.deleted" }, e => { lock (gone) gone.Add(e.Type); });
                var cfg = Config(model);
                cfg.SessionId = id;
                var s = await client.CreateSessionAsync(cfg);
                var ev = await Hang.Guard(created.Task, 30, "session.created through OnLifecycle(type)");
                Assert.Equal("session.created", ev.Type);
                Assert.Equal(id, ev.SessionId);
                await Hang.Guard(every.Task, 30, "the session's event through OnLifecycle(handler)");
                lock (typed) Assert.True(typed.All(t => t.StartsWith("session.created:")), "the type filter: " + string.Join(",", typed));
                // Disposing unsubscribes: a later creation is not seen by the disposed subscription.
                subTyped.Dispose();
                int seenBefore;
                lock (typed) seenBefore = typed.Count;
                var id2 = id + "-b";
                var after = new TaskCompletionSource<SessionLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                using (client.On("session.created", e => { if (e.SessionId == id2) after.TrySetResult(e); }))
                {
                    var cfg2 = Config(model);
                    cfg2.SessionId = id2;
                    var s2 = await client.CreateSessionAsync(cfg2);
                    await Hang.Guard(after.Task, 30, "session.created of the second session (On)");
                    await s2.DisposeAsync();
                }
                lock (typed) Assert.Equal(seenBefore, typed.Count, "a disposed OnLifecycle subscription");
                await s.DisposeAsync();
                sub.Dispose();
                subList.Dispose();
                lock (gone) Assert.Equal(0, gone.Count, "no deletion happened: " + string.Join(",", gone));
                await client.DeleteSessionAsync(id);
                await client.DeleteSessionAsync(id2);
                await client.DisposeAsync();
            }
        }
    }
}
