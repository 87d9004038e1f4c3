// Issue 12, the official features against the real CLI and the fake model: UI elicitation
// (OnElicitationRequest, session.Ui, session.Capabilities), host slash commands, the official
// auto-mode-switch handler, the MCP OAuth handler, the session filesystem provider, the GitHub
// token provider, telemetry with W3C trace context, and mode "empty".

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK.Tests
{
    static class OfficialFeatureTests
    {
        public static void Register(Runner r)
        {
            r.Add("feature_elicitation_handler_and_session_ui", Elicitation);
            r.Add("feature_session_ui_without_elicitation_capability", UiWithoutCapability);
            r.Add("feature_slash_commands_execute_and_list", Commands);
            r.Add("feature_auto_mode_switch_request_alias", AutoModeSwitchAlias);
            r.Add("feature_mcp_auth_oauth_server_connects_with_host_token", McpAuth);
            r.Add("feature_session_fs_in_memory_provider", SessionFs);
            r.Add("feature_github_token_provider", GitHubTokenProvider);
            r.Add("feature_telemetry_file_exporter_and_trace_context", Telemetry);
            r.Add("feature_mode_empty", EmptyMode);
        }

        static SessionConfig Config(FakeModel m)
        {
            return new SessionConfig { Model = "gpt-4.1", Provider = m.Provider, OnPermissionRequest = PermissionHandler.ApproveAll };
        }

        static string FirstProperty(JsonData schema)
        {
            var p = schema["properties"].Properties.FirstOrDefault();
            return p.Key;
        }

        // ------------------------------------------------------------------ 1. elicitation

        static async Task Elicitation()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var seen = new List<ElicitationContext>();
                var cfg = Config(model);
                cfg.OnElicitationRequest = ctx =>
                {
                    lock (seen) seen.Add(ctx);
                    var key = FirstProperty(ctx.RequestedSchema);
                    switch (ctx.Message)
                    {
                        case "Deploy?": return Task.FromResult(new ElicitationResult { Action = SessionUiElicitationResultAction.Accept, Content = new Dictionary<string, object> { { key, true } } });
                        case "Really deploy?": return Task.FromResult(new ElicitationResult { Action = SessionUiElicitationResultAction.Decline });
                        case "Environment?": return Task.FromResult(new ElicitationResult(SessionUiElicitationResultAction.Accept, new Dictionary<string, object> { { key, "prod" } }));
                        case "Your name?": return Task.FromResult(new ElicitationResult(SessionUiElicitationResultAction.Accept, new Dictionary<string, object> { { key, "Ada" } }));
                        case "Form": return Task.FromResult(new ElicitationResult(SessionUiElicitationResultAction.Accept, new Dictionary<string, object> { { "name", "Grace" }, { "count", 3 } }));
                        case "Nobody home?": return Task.FromResult<ElicitationResult>(null);
                        default: throw new InvalidOperationException("the dialog failed");
                    }
                };
                var session = await client.CreateSessionAsync(cfg);
                try
                {
                    Assert.True(session.Capabilities.Elicitation, "capabilities.ui.elicitation with a handler: " + session.Capabilities);
                    Assert.Equal(true, await session.Ui.ConfirmAsync("Deploy?"), "accepted confirm");
                    lock (seen)
                    {
                        Assert.Equal(1, seen.Count, "the handler was asked once");
                        Assert.Equal("Deploy?", seen[0].Message, "message");
                        Assert.Equal(session.SessionId, seen[0].SessionId, "sessionId");
                        Assert.Equal("boolean", seen[0].RequestedSchema["properties"][FirstProperty(seen[0].RequestedSchema)]["type"].AsString(), "a boolean field: " + seen[0].RequestedSchema);
                        Assert.True(!string.IsNullOrEmpty(seen[0].RequestId), "requestId");
                    }
                    Assert.Equal(false, await session.Ui.ConfirmAsync("Really deploy?"), "declined confirm");
                    Assert.Equal("prod", await session.Ui.SelectAsync("Environment?", new[] { "dev", "prod" }), "select");
                    lock (seen) Assert.Equal("[\"dev\",\"prod\"]", seen.Last().RequestedSchema["properties"][FirstProperty(seen.Last().RequestedSchema)]["enum"].ToJson(), "the options as an enum");
                    Assert.Equal("Ada", await session.Ui.InputAsync("Your name?", new InputOptions { Title = "Name", MaxLength = 20 }), "input");
                    lock (seen)
                    {
                        var field = seen.Last().RequestedSchema["properties"][FirstProperty(seen.Last().RequestedSchema)];
                        Assert.Equal(20L, field["maxLength"].AsLong(), "maxLength: " + field);
                        Assert.Equal("Name", field["title"].AsString(), "title: " + field);
                    }
                    var form = CopilotJson.Parse("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"}},\"required\":[\"name\"]}");
                    var r = await session.Ui.ElicitAsync("Form", form);
                    Assert.Equal(SessionUiElicitationResultAction.Accept, r.Action, "form action");
                    Assert.Equal("Grace", (string)r.Content["name"], "form content name");
                    Assert.Equal(3L, Convert.ToInt64(r.Content["count"]), "form content count");
                    lock (seen)
                    {
                        var got = seen.Last().RequestedSchema;
                        Assert.Equal("string", got["properties"]["name"]["type"].AsString(), "the schema reached the handler: " + got);
                        Assert.Equal("integer", got["properties"]["count"]["type"].AsString(), "the schema reached the handler: " + got);
                        Assert.Equal("[\"name\"]", got["required"].ToJson(), "required: " + got);
                    }
                    Assert.Equal(false, await session.Ui.ConfirmAsync("Nobody home?"), "a null answer is cancel");
                    var cancelled = await session.Ui.ElicitAsync("Broken", form);
                    Assert.Equal(SessionUiElicitationResultAction.Cancel, cancelled.Action, "a throwing handler cancels");
                    await Assert.ThrowsAsync<InvalidConfigException>(() => session.Ui.SelectAsync("Empty", new string[0]), "select without options");
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        static async Task UiWithoutCapability()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var session = await client.CreateSessionAsync(Config(model));
                try
                {
                    var caps = session.Capabilities;
                    if (!caps.Elicitation)
                    {
                        var e = await Assert.ThrowsAsync<InvalidConfigException>(() => session.Ui.ConfirmAsync("Deploy?"), "confirm without the capability");
                        Assert.Contains(e.Message, "elicitation", "the message names the missing capability");
                    }
                    else
                    {
                        throw new TestFailure("a session without an elicitation handler reports capabilities.ui.elicitation: " + caps);
                    }
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 2. commands

        static async Task Commands()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var calls = new List<CommandContext>();
                var cfg = Config(model);
                cfg.Commands = new List<CommandDefinition>
                {
                    new CommandDefinition { Name = "deploy", Description = "Deploy the app", Handler = ctx => { lock (calls) calls.Add(ctx); return Task.FromResult(0); } },
                    new CommandDefinition { Name = "explode", Description = "Always fails", Handler = ctx => { throw new InvalidOperationException("kaboom from .NET"); } },
                };
                var session = await client.CreateSessionAsync(cfg);
                try
                {
                    var ok = await session.Rpc.Commands.ExecuteAsync(new SessionCommandsExecuteParams { CommandName = "deploy", Args = "prod now" });
                    Assert.True(ok.Error == null, "deploy succeeded: " + ok.Json);
                    lock (calls)
                    {
                        Assert.Equal(1, calls.Count, "the handler ran once");
                        Assert.Equal("deploy", calls[0].CommandName, "commandName");
                        Assert.Equal("prod now", calls[0].Args, "args");
                        Assert.Equal("/deploy prod now", calls[0].Command, "command");
                        Assert.Equal(session.SessionId, calls[0].SessionId, "sessionId");
                    }
                    string failure = null;
                    try
                    {
                        var bad = await session.Rpc.Commands.ExecuteAsync(new SessionCommandsExecuteParams { CommandName = "explode", Args = "" });
                        failure = bad.Error;
                    }
                    catch (CopilotException e)
                    {
                        failure = e.Message;
                    }
                    Assert.Contains(failure, "kaboom from .NET", "the handler's failure is the command's error");
                    var list = await session.Rpc.Commands.ListAsync(new SessionCommandsListParams { IncludeClientCommands = true });
                    var deploy = list.Commands.FirstOrDefault(c => c.Name == "deploy" || c.Name == "/deploy");
                    Assert.True(deploy != null, "deploy is listed: " + string.Join(",", list.Commands.Select(c => c.Name)));
                    Assert.Equal("client", deploy.Kind.Value, "kind");
                    Assert.Equal("Deploy the app", deploy.Description, "description");
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 3. auto mode switch

        static async Task AutoModeSwitchAlias()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var cfg = Config(model);
                cfg.OnAutoModeSwitchRequest = (request, invocation) => Task.FromResult(AutoModeSwitchResponse.No);
                var session = await client.CreateSessionAsync(cfg);
                try
                {
                    var reply = await session.SendAndWaitAsync("Hello there");
                    Assert.Equal("Hello from the fake model.", reply.Data.Content, "a turn runs");
                    var both = Config(model);
                    both.OnAutoModeSwitch = req => Task.FromResult(AutoModeSwitchResponse.Yes);
                    both.OnAutoModeSwitchRequest = (req, inv) => Task.FromResult(AutoModeSwitchResponse.No);
                    await Assert.ThrowsAsync<ArgumentException>(() => client.CreateSessionAsync(both), "both auto-mode forms");
                    // The request kind is declared (the CLI is told requestAutoModeSwitch).
                    var kinds = session.ConfigJson()["handlers"].AsStringList();
                    Assert.True(kinds.Contains("autoModeSwitch"), "handlers: " + string.Join(",", kinds));
                }
                finally
                {
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 4. MCP OAuth

        /// <summary>The statuses of the MCP server "issues", from the session's first event.</summary>
        sealed class McpStatuses
        {
            readonly List<string> _all = new List<string>();
            readonly Dictionary<string, TaskCompletionSource<bool>> _waiters = new Dictionary<string, TaskCompletionSource<bool>>();

            public void Add(SessionEvent e)
            {
                if (e.Type != "session.mcp_server_status_changed" || e.Data["serverName"].AsString() != "issues") return;
                var status = e.Data["status"].AsString();
                TaskCompletionSource<bool> w;
                lock (_all)
                {
                    _all.Add(status);
                    if (!_waiters.TryGetValue(status, out w)) return;
                }
                w.TrySetResult(true);
            }

            public List<string> Seen { get { lock (_all) return _all.ToList(); } }

            /// <summary>True when the status was (or is within the time) reported.</summary>
            public async Task<bool> Reached(string status, int seconds)
            {
                TaskCompletionSource<bool> w;
                lock (_all)
                {
                    if (_all.Contains(status)) return true;
                    if (!_waiters.TryGetValue(status, out w)) _waiters[status] = w = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                return await Task.WhenAny(w.Task, Task.Delay(TimeSpan.FromSeconds(seconds))) == w.Task;
            }
        }

        static SessionConfig McpConfig(FakeModel m, string url, Func<McpAuthRequest, Task<McpAuthResult>> handler, McpStatuses statuses)
        {
            var cfg = Config(m);
            cfg.McpServers = JsonData.Object().Set("issues", JsonData.Object()
                .Set("type", JsonData.String("http")).Set("url", JsonData.String(url)).Set("tools", JsonData.Array(new[] { "*" })));
            cfg.OnMcpAuthRequest = handler;
            cfg.OnEvent = statuses.Add;
            return cfg;
        }

        // The fake model's MCP server answers 401 until it gets the bearer token "mcp-test-token":
        // the CLI asks the host's OAuth handler once (server name and URL, a request id, the session's
        // id), connects with the handler's token and runs the server's tool; a handler that cancels
        // leaves the server unconnected.
        static async Task McpAuth()
        {
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var url = new Uri(new Uri(model.BaseUrl), "/mcp").ToString();
                var asked = new List<McpAuthRequest>();
                var statuses = new McpStatuses();
                var session = await client.CreateSessionAsync(McpConfig(model, url, req =>
                {
                    lock (asked) asked.Add(req);
                    return Task.FromResult(McpAuthResult.Token("mcp-test-token"));
                }, statuses));
                CopilotSession refused = null;
                try
                {
                    Assert.True(await statuses.Reached("connected", 60), "the MCP server connects: " + string.Join(",", statuses.Seen));
                    lock (asked)
                    {
                        Assert.Equal(1, asked.Count, "the handler was asked once");
                        Assert.Equal("issues", asked[0].ServerName, "serverName");
                        Assert.Equal(url, asked[0].ServerUrl, "serverUrl");
                        Assert.Equal(session.SessionId, asked[0].SessionId, "sessionId");
                        Assert.True(!string.IsNullOrEmpty(asked[0].RequestId), "requestId");
                    }
                    var reply = await session.SendAndWaitAsync("CALL issues-issue_count {}");
                    Assert.Equal("Tool returned: 42 open issues", reply.Data.Content, "the MCP tool ran");

                    // A handler that cancels: the server needs auth and does not connect.
                    var cancelledAsked = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                    var cancelled = new McpStatuses();
                    refused = await client.CreateSessionAsync(McpConfig(model, url, req =>
                    {
                        cancelledAsked.TrySetResult(req.ServerName);
                        return Task.FromResult(McpAuthResult.Cancel());
                    }, cancelled));
                    Assert.True(await Task.WhenAny(cancelledAsked.Task, Task.Delay(60000)) == cancelledAsked.Task, "the cancelling handler was asked");
                    Assert.Equal("issues", cancelledAsked.Task.Result, "serverName (cancelled)");
                    Assert.True(!await cancelled.Reached("connected", 3), "no connection without a token: " + string.Join(",", cancelled.Seen));
                    Assert.True(cancelled.Seen.Contains("needs-auth"), "needs-auth without a token: " + string.Join(",", cancelled.Seen));
                    Assert.Equal("{\"kind\":\"token\",\"accessToken\":\"t\",\"tokenType\":\"Bearer\",\"expiresIn\":60}",
                        McpAuthResult.Token("t", "Bearer", 60).ToJson().ToJson(), "token answer");
                    Assert.Equal("{\"kind\":\"cancelled\"}", McpAuthResult.Cancel().ToJson().ToJson(), "cancelled answer");
                }
                finally
                {
                    if (refused != null) await refused.DisposeAsync();
                    await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 5. session filesystem

        /// <summary>An in-memory filesystem: files by path and a set of directories.</summary>
        sealed class MemoryFs : ISessionFsProvider
        {
            public readonly Dictionary<string, string> Files = new Dictionary<string, string>();
            public readonly HashSet<string> Dirs = new HashSet<string> { "/" };
            public readonly List<string> Ops = new List<string>();
            readonly object _gate = new object();

            static string Parent(string p)
            {
                var i = p.TrimEnd('/').LastIndexOf('/');
                return i <= 0 ? "/" : p.Substring(0, i);
            }

            void Log(string op, string path) { Ops.Add(op + " " + path); }

            public Task<string> ReadFileAsync(string path)
            {
                lock (_gate)
                {
                    Log("readFile", path);
                    string c;
                    if (!Files.TryGetValue(path, out c)) throw new FileNotFoundException("ENOENT: no such file, open '" + path + "'");
                    return Task.FromResult(c);
                }
            }

            public Task WriteFileAsync(string path, string content, int? mode)
            {
                lock (_gate)
                {
                    Log("writeFile", path);
                    if (!Dirs.Contains(Parent(path))) throw new DirectoryNotFoundException("ENOENT: no such directory '" + Parent(path) + "'");
                    Files[path] = content;
                }
                return Task.FromResult(0);
            }

            public Task AppendFileAsync(string path, string content, int? mode)
            {
                lock (_gate)
                {
                    Log("appendFile", path);
                    if (!Dirs.Contains(Parent(path))) throw new DirectoryNotFoundException("ENOENT: no such directory '" + Parent(path) + "'");
                    string c;
                    Files[path] = (Files.TryGetValue(path, out c) ? c : "") + content;
                }
                return Task.FromResult(0);
            }

            public Task<bool> ExistsAsync(string path)
            {
                lock (_gate) { Log("exists", path); return Task.FromResult(Files.ContainsKey(path) || Dirs.Contains(path)); }
            }

            public Task<SessionFsFileInfo> StatAsync(string path)
            {
                lock (_gate)
                {
                    Log("stat", path);
                    string c;
                    if (Files.TryGetValue(path, out c))
                        return Task.FromResult(new SessionFsFileInfo { IsFile = true, Size = c.Length, Mtime = DateTimeOffset.UtcNow, Birthtime = DateTimeOffset.UtcNow });
                    if (Dirs.Contains(path))
                        return Task.FromResult(new SessionFsFileInfo { IsDirectory = true, Mtime = DateTimeOffset.UtcNow, Birthtime = DateTimeOffset.UtcNow });
                    throw new FileNotFoundException("ENOENT: no such file or directory, stat '" + path + "'");
                }
            }

            public Task MkdirAsync(string path, bool recursive, int? mode)
            {
                lock (_gate)
                {
                    Log("mkdir", path);
                    var p = path.TrimEnd('/');
                    if (p.Length == 0) return Task.FromResult(0);
                    if (!recursive && !Dirs.Contains(Parent(p))) throw new DirectoryNotFoundException("ENOENT: no such directory '" + Parent(p) + "'");
                    while (p.Length > 0 && p != "/") { Dirs.Add(p); p = Parent(p); }
                }
                return Task.FromResult(0);
            }

            IEnumerable<string> Children(string path)
            {
                var prefix = path.TrimEnd('/') + "/";
                return Files.Keys.Concat(Dirs).Where(k => k.StartsWith(prefix) && k.Length > prefix.Length && k.IndexOf('/', prefix.Length) < 0)
                    .Select(k => k.Substring(prefix.Length)).Distinct().OrderBy(n => n, StringComparer.Ordinal);
            }

            public Task<IList<string>> ReaddirAsync(string path)
            {
                lock (_gate)
                {
                    Log("readdir", path);
                    if (!Dirs.Contains(path.TrimEnd('/').Length == 0 ? "/" : path.TrimEnd('/'))) throw new DirectoryNotFoundException("ENOENT: no such directory '" + path + "'");
                    return Task.FromResult<IList<string>>(Children(path).ToList());
                }
            }

            public Task<IList<SessionFsDirEntry>> ReaddirWithTypesAsync(string path)
            {
                lock (_gate)
                {
                    Log("readdirWithTypes", path);
                    if (!Dirs.Contains(path.TrimEnd('/').Length == 0 ? "/" : path.TrimEnd('/'))) throw new DirectoryNotFoundException("ENOENT: no such directory '" + path + "'");
                    var prefix = path.TrimEnd('/') + "/";
                    return Task.FromResult<IList<SessionFsDirEntry>>(Children(path)
                        .Select(n => new SessionFsDirEntry(n, Dirs.Contains(prefix + n) ? "directory" : "file")).ToList());
                }
            }

            public Task RmAsync(string path, bool recursive, bool force)
            {
                lock (_gate)
                {
                    Log("rm", path);
                    var prefix = path.TrimEnd('/') + "/";
                    var found = Files.Remove(path) | Dirs.Remove(path);
                    if (recursive)
                    {
                        foreach (var k in Files.Keys.Where(k => k.StartsWith(prefix)).ToList()) { Files.Remove(k); found = true; }
                        foreach (var d in Dirs.Where(k => k.StartsWith(prefix)).ToList()) { Dirs.Remove(d); found = true; }
                    }
                    if (!found && !force) throw new FileNotFoundException("ENOENT: no such file or directory, rm '" + path + "'");
                }
                return Task.FromResult(0);
            }

            public Task RenameAsync(string src, string dest)
            {
                lock (_gate)
                {
                    Log("rename", src);
                    string c;
                    if (Files.TryGetValue(src, out c)) { Files.Remove(src); Files[dest] = c; return Task.FromResult(0); }
                    if (!Dirs.Contains(src)) throw new FileNotFoundException("ENOENT: no such file or directory, rename '" + src + "'");
                    var prefix = src.TrimEnd('/') + "/";
                    foreach (var k in Files.Keys.Where(k => k.StartsWith(prefix)).ToList()) { var v = Files[k]; Files.Remove(k); Files[dest + "/" + k.Substring(prefix.Length)] = v; }
                    foreach (var d in Dirs.Where(k => k == src || k.StartsWith(prefix)).ToList()) { Dirs.Remove(d); Dirs.Add(dest + d.Substring(src.Length)); }
                }
                return Task.FromResult(0);
            }

            public Dictionary<string, string> Snapshot() { lock (_gate) return new Dictionary<string, string>(Files); }
            public List<string> OpsSnapshot() { lock (_gate) return Ops.ToList(); }
        }

        static async Task SessionFs()
        {
            using (var model = FakeModel.Start())
            {
                var o = Env.OwnCli(true);
                o.SessionFs = new SessionFsConfig { InitialCwd = "/workspace", SessionStatePath = "/session-state", Conventions = "posix" };
                var client = new CopilotClient(o);
                var providers = new List<KeyValuePair<CopilotSession, MemoryFs>>();
                CopilotSession session = null;
                try
                {
                    await client.StartAsync();
                    var cfg = Config(model);
                    cfg.CreateSessionFsProvider = s =>
                    {
                        var fs = new MemoryFs();
                        fs.Dirs.Add("/workspace");
                        lock (providers) providers.Add(new KeyValuePair<CopilotSession, MemoryFs>(s, fs));
                        return fs;
                    };
                    session = await client.CreateSessionAsync(cfg);
                    var reply = await session.SendAndWaitAsync("Hello from sessionFs");
                    Assert.Equal("Hello from the fake model.", reply.Data.Content, "a turn runs");
                    MemoryFs mem;
                    lock (providers)
                    {
                        Assert.Equal(1, providers.Count, "one provider per session");
                        Assert.True(ReferenceEquals(providers[0].Key, session), "the factory got the session");
                        mem = providers[0].Value;
                    }
                    Assert.True(session.WorkspacePath != null && session.WorkspacePath.StartsWith("/session-state"), "workspacePath under sessionStatePath: " + session.WorkspacePath);
                    // The CLI may flush the log just after idle.
                    KeyValuePair<string, string> log = default(KeyValuePair<string, string>);
                    var until = DateTime.UtcNow.AddSeconds(10);
                    while (DateTime.UtcNow < until)
                    {
                        log = mem.Snapshot().FirstOrDefault(kv => kv.Key.StartsWith("/session-state/") && kv.Key.EndsWith("events.jsonl") && kv.Value.Contains("\"assistant.message\""));
                        if (log.Key != null) break;
                        await Task.Delay(100);
                    }
                    Assert.True(log.Key != null, "an events.jsonl with the turn's assistant.message in the provider; files: "
                        + string.Join(", ", mem.Snapshot().Keys) + "; ops: " + string.Join(", ", mem.OpsSnapshot().Take(40)));
                    Assert.Contains(log.Value, "\"sessionId\":\"" + session.SessionId + "\"", "the log is the session's own (" + log.Key + ")");
                    Assert.Contains(log.Value, "Hello from the fake model.", "the answer is in the log");

                    // A session without the provider on this client is refused.
                    var e = await Assert.ThrowsAsync<InvalidConfigException>(() => client.CreateSessionAsync(Config(model)), "a session without CreateSessionFsProvider");
                    Assert.Contains(e.Message, "essionFs", "the message names sessionFs");
                }
                finally
                {
                    if (session != null) await session.DisposeAsync();
                    await client.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 6. GitHub token provider

        static async Task GitHubTokenProvider()
        {
            var client = await Shared.ConnectAsync();
            try
            {
                var asked = new List<GitHubTokenProviderArgs>();
                var id = "token-provider-dotnet-" + Guid.NewGuid().ToString("N");
                var cfg = new SessionConfig
                {
                    SessionId = id,
                    Model = "gpt-4.1",
                    OnPermissionRequest = PermissionHandler.ApproveAll,
                    GitHubTokenProvider = args =>
                    {
                        lock (asked) asked.Add(args);
                        return Task.FromResult(GitHubTokenProviderResult.FromToken(new GitHubToken { AccessToken = "gho_dotnetfaketoken000000000000000000000", ExpiresIn = 7200 }));
                    },
                };
                var e = await Assert.ThrowsAsync<CopilotException>(() => client.CreateSessionAsync(cfg), "creation with an unverifiable token");
                Assert.Contains(e.Message, "GitHub token validation failed", "the CLI could not validate the token");
                lock (asked)
                {
                    Assert.Equal(1, asked.Count, "the provider was asked once");
                    Assert.Equal(GitHubTokenRequestReason.Initial, asked[0].Reason, "reason");
                    Assert.Equal("https://github.com", asked[0].Host, "host");
                    Assert.Equal(id, asked[0].SessionId, "the new session's id");
                }

                // Cancelled: creation is refused.
                var cancelled = new SessionConfig
                {
                    Model = "gpt-4.1",
                    GitHubTokenProvider = args => Task.FromResult(GitHubTokenProviderResult.Cancel()),
                };
                var c = await Assert.ThrowsAsync<CopilotException>(() => client.CreateSessionAsync(cancelled), "a cancelled provider");
                Assert.True(c.Message.ToLowerInvariant().Contains("cancel"), "the message says the provider cancelled: " + c.Message);

                // A static token beside the provider: refused before the CLI is asked.
                var both = new SessionConfig { Model = "gpt-4.1", GitHubToken = "gho_x", GitHubTokenProvider = args => Task.FromResult(GitHubTokenProviderResult.Cancel()) };
                await Assert.ThrowsAsync<InvalidConfigException>(() => client.CreateSessionAsync(both), "gitHubToken + provider");
                var byok = new SessionConfig
                {
                    Model = "gpt-4.1",
                    Provider = new ProviderConfig { Type = "openai", BaseUrl = "http://127.0.0.1:9", ApiKey = "k" },
                    GitHubTokenProvider = args => Task.FromResult(GitHubTokenProviderResult.Cancel()),
                };
                await Assert.ThrowsAsync<InvalidConfigException>(() => client.CreateSessionAsync(byok), "a BYOK provider + token provider");
            }
            finally
            {
                await client.DisposeAsync();
            }
        }

        // ------------------------------------------------------------------ 7. telemetry

        static async Task Telemetry()
        {
            // A URL connection cannot take telemetry settings.
            Assert.Throws<InvalidConfigException>(() => new CopilotClient(new CopilotClientOptions
            {
                Connection = RuntimeConnection.ForUri(Shared.Url, Shared.Token),
                Telemetry = new TelemetryConfig { ExporterType = "file", FilePath = "/tmp/x.jsonl" },
            }), "telemetry with a URL connection");

            using (var model = FakeModel.Start())
            {
                var file = Path.Combine(Env.SandboxBase, "otel-" + Guid.NewGuid().ToString("N") + ".jsonl");
                var traceId = Guid.NewGuid().ToString("N");
                var traceparent = "00-" + traceId + "-" + Guid.NewGuid().ToString("N").Substring(0, 16) + "-01";
                var o = Env.OwnCli(true);
                o.Telemetry = new TelemetryConfig { ExporterType = "file", FilePath = file, SourceName = "dotnet-tests" };
                var useProvider = true;
                o.OnGetTraceContext = () => useProvider ? new TraceContext(traceparent, "vendor=dotnet") : null;
                var client = new CopilotClient(o);
                CopilotSession session = null;
                var seen = new List<string>();
                try
                {
                    var cfg = Config(model);
                    cfg.Tools = new List<CopilotTool>
                    {
                        new CopilotTool
                        {
                            Name = "traced", SkipPermission = true,
                            Parameters = "{\"type\":\"object\",\"properties\":{}}",
                            Handler = inv =>
                            {
                                var ambient = TraceContext.Current;
                                lock (seen) seen.Add(inv.Traceparent + "|" + (ambient != null ? ambient.Traceparent : "none"));
                                return Task.FromResult((object)"traced ok");
                            },
                        },
                    };
                    session = await client.CreateSessionAsync(cfg);
                    var reply = await session.SendAndWaitAsync("CALL traced {}");
                    Assert.Equal("Tool returned: traced ok", reply.Data.Content, "the tool ran");
                    lock (seen)
                    {
                        Assert.Equal(1, seen.Count, "one tool call");
                        var parts = seen[0].Split('|');
                        var inv = new TraceContext(parts[0]);
                        Assert.Equal(traceId, inv.TraceId, "the tool's traceparent has the host's trace id: " + seen[0]);
                        Assert.Equal(parts[0], parts[1], "TraceContext.Current inside the handler is the call's context");
                    }
                    // Without the provider's answer, the caller's ambient TraceContext.Current is sent.
                    useProvider = false;
                    var ambientTrace = Guid.NewGuid().ToString("N");
                    using (TraceContext.Use(new TraceContext("00-" + ambientTrace + "-00f067aa0ba902b7-01")))
                        await session.SendAndWaitAsync("CALL traced {}");
                    lock (seen) Assert.Equal(ambientTrace, new TraceContext(seen.Last().Split('|')[0]).TraceId, "the tool saw the ambient trace id: " + string.Join(" ; ", seen));
                    await session.DisposeAsync();
                    session = null;
                    await client.StopAsync(); // the CLI flushes its spans on exit
                    var until = DateTime.UtcNow.AddSeconds(10);
                    string spans = "";
                    while (DateTime.UtcNow < until)
                    {
                        spans = File.Exists(file) ? File.ReadAllText(file) : "";
                        if (spans.Contains(traceId)) break;
                        await Task.Delay(100);
                    }
                    Assert.True(spans.Contains("\"type\":\"span\""), "the file exporter wrote spans: " + (spans.Length > 400 ? spans.Substring(0, 400) : spans));
                    Assert.True(spans.Split('\n').Any(l => l.Contains("\"type\":\"span\"") && l.Contains(traceId)), "a span with the host's trace id " + traceId);
                }
                finally
                {
                    if (session != null) await session.DisposeAsync();
                    await client.DisposeAsync();
                }

                // A malformed traceparent is refused (create and send).
                var shared = await Shared.ConnectAsync();
                try
                {
                    var bad = Config(model);
                    bad.Traceparent = "00-nothex-01";
                    await Assert.ThrowsAsync<InvalidConfigException>(() => shared.CreateSessionAsync(bad), "a malformed traceparent on create");
                    var s = await shared.CreateSessionAsync(Config(model));
                    try
                    {
                        await Assert.ThrowsAsync<InvalidConfigException>(() => s.SendAsync(new MessageOptions { Prompt = "x", Traceparent = "garbage" }), "a malformed traceparent on send");
                        // The ambient context is sent when the call carries none.
                        using (TraceContext.Use(new TraceContext("not-a-traceparent")))
                            await Assert.ThrowsAsync<InvalidConfigException>(() => s.SendAsync("x"), "the ambient TraceContext.Current is sent (and checked)");
                    }
                    finally
                    {
                        await s.DisposeAsync();
                    }
                }
                finally
                {
                    await shared.DisposeAsync();
                }
            }
        }

        // ------------------------------------------------------------------ 8. mode "empty"

        static async Task EmptyMode()
        {
            // A spawned CLI in empty mode needs a place for session state.
            var noBase = Env.OwnCli(true);
            noBase.Mode = CopilotClientMode.Empty;
            Assert.Throws<InvalidConfigException>(() => new CopilotClient(noBase), "empty mode without baseDirectory or sessionFs");

            using (var model = FakeModel.Start())
            {
                var baseDir = Path.Combine(Env.SandboxBase, "empty-base-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(baseDir);
                var o = Env.OwnCli(true);
                o.Mode = CopilotClientMode.Empty;
                o.BaseDirectory = baseDir;
                var empty = new CopilotClient(o);
                var normal = await Shared.ConnectAsync();
                CopilotSession s1 = null, s2 = null;
                try
                {
                    await empty.StartAsync();
                    await Assert.ThrowsAsync<InvalidConfigException>(() => empty.CreateSessionAsync(Config(model)), "empty mode: a session without AvailableTools");
                    var cfg = Config(model);
                    cfg.AvailableTools = new List<string>();
                    s1 = await empty.CreateSessionAsync(cfg);
                    s2 = await normal.CreateSessionAsync(Config(model));
                    // environment_context carries the session's working directory ("Current working directory: ...").
                    var needle = "<environment_context>";
                    var inEmpty = (await s1.SendAndWaitAsync("SYSTEM " + needle)).Data.Content;
                    var inNormal = (await s2.SendAndWaitAsync("SYSTEM " + needle)).Data.Content;
                    Assert.Equal("system has " + needle, inNormal, "the default system prompt has the environment context");
                    Assert.Equal("system lacks " + needle, inEmpty, "the empty-mode system prompt has none");
                    Assert.True(Directory.EnumerateFileSystemEntries(baseDir).Any(), "the CLI keeps its state in baseDirectory " + baseDir);
                }
                finally
                {
                    if (s1 != null) await s1.DisposeAsync();
                    if (s2 != null) await s2.DisposeAsync();
                    await empty.DisposeAsync();
                    await normal.DisposeAsync();
                }
            }
        }
    }
}
