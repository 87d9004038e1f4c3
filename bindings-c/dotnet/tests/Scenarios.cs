// Runs every shared scenario of tests/scenarios/ against the real CLI (mirrors
// core/tests/scenarios.rs). Data-driven: each *.json file becomes one test, and a key this runner
// does not understand fails the scenario, so a new scenario feature is never silently skipped.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class Scenarios
    {
        static readonly string[] SessionKeys = { "streaming", "tools", "permission", "permissionFeedback", "userInput", "hooks" };
        static readonly string[] ToolKeys = { "name", "description", "parameters", "skipPermission", "result", "fail" };
        static readonly string[] TurnKeys = { "prompt", "expect" };
        static readonly string[] ExpectKeys =
        {
            "answer", "answerContains", "error", "events", "noEvents", "toolComplete", "hooks", "permissionKinds",
            "userInputQuestions", "deltasConcatenate",
        };

        public static string Dir { get { return Path.Combine(Env.RepoRoot, "tests", "scenarios"); } }

        public static List<string> Files()
        {
            return Directory.GetFiles(Dir, "*.json").Select(Path.GetFileNameWithoutExtension).OrderBy(n => n, StringComparer.Ordinal).ToList();
        }

        static void CheckKeys(JsonData o, string[] known, string what)
        {
            foreach (var kv in o.Properties)
                if (Array.IndexOf(known, kv.Key) < 0) throw new TestFailure(what + ": this runner does not understand the key \"" + kv.Key + "\"");
        }

        sealed class Seen
        {
            public readonly List<string> PermissionKinds = new List<string>();
            public readonly List<string> Questions = new List<string>();
            public readonly List<string> Hooks = new List<string>();
            public void Clear()
            {
                lock (this) { PermissionKinds.Clear(); Questions.Clear(); Hooks.Clear(); }
            }
        }

        static SessionConfig BuildConfig(JsonData s, FakeModel model, Seen seen)
        {
            var c = new SessionConfig { Model = "gpt-4.1", Provider = model.Provider };
            var streaming = s["streaming"].AsNullableBool();
            if (streaming.HasValue) c.Streaming = streaming;
            if (s.Has("tools"))
            {
                c.Tools = new List<CopilotTool>();
                foreach (var t in s["tools"])
                {
                    CheckKeys(t, ToolKeys, "tool");
                    var result = t["result"].AsString();
                    var fail = t["fail"].AsString();
                    c.Tools.Add(new CopilotTool
                    {
                        Name = t["name"].AsString(),
                        Description = t["description"].AsString(),
                        Parameters = t.Has("parameters") ? t["parameters"] : null,
                        SkipPermission = t["skipPermission"].AsBool(),
                        Handler = async inv =>
                        {
                            await Task.Yield();
                            if (fail != null) throw new InvalidOperationException(fail);
                            return result ?? "";
                        },
                    });
                }
            }
            var permission = s["permission"].AsString();
            if (permission != null)
            {
                var feedback = s["permissionFeedback"].AsString();
                c.OnPermissionRequest = req =>
                {
                    lock (seen) seen.PermissionKinds.Add(req.Kind);
                    switch (permission)
                    {
                        case "fail": throw new InvalidOperationException("permission handler exploded");
                        case "reject": return Task.FromResult(PermissionDecision.Reject(feedback));
                        case "approve-once": return Task.FromResult(PermissionDecision.ApproveOnce);
                        case "approve-for-session": return Task.FromResult(PermissionDecision.ApproveForSession);
                        case "user-not-available": return Task.FromResult(PermissionDecision.UserNotAvailable);
                        default: throw new TestFailure("unknown permission mode " + permission);
                    }
                };
            }
            if (s.Has("userInput"))
            {
                var u = s["userInput"];
                c.OnUserInputRequest = async req =>
                {
                    lock (seen) seen.Questions.Add(req.Question);
                    await Task.Yield();
                    if (u.Has("fail")) throw new InvalidOperationException(u["fail"].AsString());
                    return new UserInputResponse(u["answer"].AsString(""));
                };
            }
            if (s["hooks"].AsBool())
            {
                c.OnHook = inv =>
                {
                    lock (seen) seen.Hooks.Add(inv.HookType);
                    return Task.FromResult<JsonData>(null);
                };
            }
            return c;
        }

        public static async Task Run(string name)
        {
            var sc = CopilotJson.Parse(File.ReadAllText(Path.Combine(Dir, name + ".json")));
            Assert.Equal(name, sc["name"].AsString(), "scenario name");
            CheckKeys(sc["session"], SessionKeys, name + " session");
            using (var model = FakeModel.Start())
            {
                var client = await Shared.ConnectAsync();
                var seen = new Seen();
                var session = await client.CreateSessionAsync(BuildConfig(sc["session"], model, seen));
                int i = 0;
                foreach (var turn in sc["turns"])
                {
                    var ctx = name + " turn " + i++;
                    CheckKeys(turn, TurnKeys, ctx);
                    var x = turn["expect"];
                    CheckKeys(x, ExpectKeys, ctx + " expect");
                    seen.Clear();
                    var events = new EventCollector(session);
                    SessionEvent answerEvent = null;
                    CopilotException error = null;
                    try
                    {
                        answerEvent = await session.SendAndWaitAsync(new MessageOptions { Prompt = turn["prompt"].AsString(), Timeout = TimeSpan.FromSeconds(90) });
                    }
                    catch (CopilotException e)
                    {
                        error = e;
                    }
                    // The turn's events reach our subscriber on their own path: wait (hang guard
                    // only) until its idle arrived, so each turn sees exactly its own events.
                    await events.WaitFor(e => e.Type == "session.idle", 30, ctx + ": session.idle on the subscriber");
                    events.Dispose();
                    var evs = events.Snapshot();
                    var types = evs.Select(e => e.Type).ToList();
                    if (x.Has("error"))
                    {
                        if (error == null) throw new TestFailure(ctx + ": expected error " + x["error"].AsString() + ", the turn succeeded");
                        Assert.Equal(x["error"].AsString(), error.Code, ctx);
                        if (x["error"].AsString() == ErrorCodes.SessionError) Assert.True(error is SessionErrorException, ctx + ": a SessionErrorException");
                        continue;
                    }
                    if (error != null) throw new TestFailure(ctx + ": " + error);
                    var answer = answerEvent != null ? (answerEvent.Data.Content ?? "") : "";
                    if (x.Has("answer")) Assert.Equal(x["answer"].AsString(), answer, ctx + " answer");
                    foreach (var s in x["answerContains"].AsStringList()) Assert.Contains(answer, s, ctx + " answer");
                    Assert.Subsequence(x["events"].AsStringList(), types, ctx + " events");
                    foreach (var t in x["noEvents"].AsStringList())
                        Assert.True(!types.Contains(t), ctx + ": no " + t + " in [" + string.Join(", ", types) + "]");
                    if (x.Has("toolComplete"))
                    {
                        var tc = x["toolComplete"];
                        var last = evs.LastOrDefault(e => e.Type == "tool.execution_complete");
                        if (last == null) throw new TestFailure(ctx + ": no tool.execution_complete");
                        Assert.Equal(tc["success"].AsBool(), last.Data.Success.GetValueOrDefault(!tc["success"].AsBool()), ctx + " tool success: " + last.Data);
                        if (tc.Has("contains")) Assert.Contains(last.Data.ToString(), tc["contains"].AsString(), ctx + " tool result");
                    }
                    List<string> kinds, questions, hooks;
                    lock (seen)
                    {
                        kinds = seen.PermissionKinds.ToList();
                        questions = seen.Questions.ToList();
                        hooks = seen.Hooks.ToList();
                    }
                    if (x.Has("permissionKinds"))
                        Assert.Equal(string.Join(",", x["permissionKinds"].AsStringList()), string.Join(",", kinds), ctx + " permission kinds");
                    if (x.Has("userInputQuestions"))
                        Assert.Equal(string.Join("|", x["userInputQuestions"].AsStringList()), string.Join("|", questions), ctx + " questions");
                    Assert.Subsequence(x["hooks"].AsStringList(), hooks, ctx + " hooks");
                    if (x["deltasConcatenate"].AsBool())
                    {
                        if (answerEvent == null) throw new TestFailure(ctx + ": no answer");
                        var id = answerEvent.Data.MessageId;
                        var deltas = evs.Where(e => e.Type == "assistant.message_delta" && e.Data.MessageId == id).ToList();
                        Assert.True(types.Count(t => t == "assistant.message_delta") >= 2, ctx + ": at least two deltas in [" + string.Join(", ", types) + "]");
                        Assert.Equal(answer, string.Concat(deltas.Select(d => d.Data.DeltaContent)), ctx + " deltas");
                    }
                }
                await session.DisposeAsync();
                await client.StopAsync();
            }
        }
    }
}
