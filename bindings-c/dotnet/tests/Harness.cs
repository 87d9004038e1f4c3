// Test harness: a tiny runner (named async tests, "N passed, N failed"), the fake model process,
// the sandboxed environment for spawned CLIs, and assertion helpers. Compiled by mcs 7.2.

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
    sealed class TestFailure : Exception
    {
        public TestFailure(string message) : base(message) { }
    }

    static class Assert
    {
        public static void True(bool cond, string what)
        {
            if (!cond) throw new TestFailure("expected: " + what);
        }

        public static void Equal<T>(T expected, T actual, string what = null)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new TestFailure((what != null ? what + ": " : "") + "expected <" + expected + ">, got <" + actual + ">");
        }

        public static void Contains(string haystack, string needle, string what = null)
        {
            if (haystack == null || !haystack.Contains(needle))
                throw new TestFailure((what != null ? what + ": " : "") + "<" + haystack + "> does not contain <" + needle + ">");
        }

        /// <summary>Awaits a task that must fail with <typeparamref name="T"/> (or a subclass).</summary>
        public static async Task<T> ThrowsAsync<T>(Func<Task> f, string what = null) where T : Exception
        {
            try
            {
                await f().ConfigureAwait(false);
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new TestFailure((what != null ? what + ": " : "") + "expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new TestFailure((what != null ? what + ": " : "") + "expected " + typeof(T).Name + ", nothing was thrown");
        }

        public static T Throws<T>(Action f, string what = null) where T : Exception
        {
            try
            {
                f();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new TestFailure((what != null ? what + ": " : "") + "expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new TestFailure((what != null ? what + ": " : "") + "expected " + typeof(T).Name + ", nothing was thrown");
        }

        /// <summary>Every item of <paramref name="want"/> occurs in <paramref name="got"/>, in order.</summary>
        public static void Subsequence(IList<string> want, IList<string> got, string what)
        {
            int i = 0;
            foreach (var w in want)
            {
                while (i < got.Count && got[i] != w) i++;
                if (i == got.Count)
                    throw new TestFailure(what + ": expected [" + string.Join(", ", want) + "] in order, got [" + string.Join(", ", got) + "]");
                i++;
            }
        }
    }

    /// <summary>Waits with a deadline only to detect hangs (never to assert timing).</summary>
    static class Hang
    {
        public static async Task<T> Guard<T>(Task<T> t, int seconds, string what)
        {
            var done = await Task.WhenAny(t, Task.Delay(TimeSpan.FromSeconds(seconds))).ConfigureAwait(false);
            if (done != t) throw new TestFailure("hung: " + what + " did not finish within " + seconds + " s");
            return await t.ConfigureAwait(false);
        }

        public static async Task Guard(Task t, int seconds, string what)
        {
            var done = await Task.WhenAny(t, Task.Delay(TimeSpan.FromSeconds(seconds))).ConfigureAwait(false);
            if (done != t) throw new TestFailure("hung: " + what + " did not finish within " + seconds + " s");
            await t.ConfigureAwait(false);
        }
    }

    /// <summary>The scripted OpenAI-compatible model (tests/fake-model), run as a child process
    /// with a stdin pipe kept open: it exits when the pipe closes.</summary>
    sealed class FakeModel : IDisposable
    {
        readonly Process _p;
        readonly string _log;
        public string BaseUrl { get; private set; }

        FakeModel(Process p, string url, string log) { _p = p; BaseUrl = url; _log = log; }

        /// <summary>The chat requests the model received so far (from its --log file).</summary>
        public List<JsonData> ChatRequests()
        {
            var r = new List<JsonData>();
            if (!File.Exists(_log)) return r;
            using (var f = new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var rd = new StreamReader(f))
            {
                string line;
                while ((line = rd.ReadLine()) != null)
                {
                    if (line.Trim().Length == 0) continue;
                    var j = CopilotJson.Parse(line);
                    if (j["path"].AsString("").EndsWith("/chat/completions")) r.Add(j);
                }
            }
            return r;
        }

        public static FakeModel Start()
        {
            var bin = System.Environment.GetEnvironmentVariable("FAKE_MODEL_BIN");
            if (string.IsNullOrEmpty(bin)) bin = Path.Combine(Env.RepoRoot, "target", "debug", "fake-model");
            if (!File.Exists(bin)) throw new TestFailure("fake model binary not found at " + bin + " (cargo build -p fake-model; or set FAKE_MODEL_BIN)");
            var log = Path.Combine(Env.SandboxBase, "fake-model-" + Guid.NewGuid().ToString("N") + ".log");
            var psi = new ProcessStartInfo(bin, "--log " + log)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
            };
            var p = Process.Start(psi);
            var line = p.StandardOutput.ReadLine();
            const string prefix = "fake-model listening on ";
            if (line == null || !line.StartsWith(prefix))
            {
                try { p.Kill(); } catch (Exception) { }
                throw new TestFailure("fake model did not announce itself: " + line);
            }
            return new FakeModel(p, line.Substring(prefix.Length).Trim(), log);
        }

        public ProviderConfig Provider
        {
            get { return new ProviderConfig { Type = "openai", BaseUrl = BaseUrl, ApiKey = "fake-key" }; }
        }

        public void Dispose()
        {
            try { _p.StandardInput.Close(); } catch (Exception) { }
            if (!_p.WaitForExit(5000))
            {
                try { _p.Kill(); } catch (Exception) { }
            }
            _p.Dispose();
        }
    }

    /// <summary>Where the tests find the CLI and how spawned CLIs are isolated.</summary>
    static class Env
    {
        static string _root, _home, _work;

        public static string RepoRoot
        {
            get
            {
                if (_root == null)
                {
                    var r = System.Environment.GetEnvironmentVariable("COPILOT_REPO_ROOT");
                    if (string.IsNullOrEmpty(r))
                    {
                        // bindings-c/dotnet/<build dir>/x.exe -> walk up to the folder with Cargo.toml and tests/
                        var d = new DirectoryInfo(AppDomain.CurrentDomain.BaseDirectory);
                        while (d != null && !(File.Exists(Path.Combine(d.FullName, "Cargo.toml")) && Directory.Exists(Path.Combine(d.FullName, "tests", "scenarios"))))
                            d = d.Parent;
                        r = d != null ? d.FullName : Directory.GetCurrentDirectory();
                    }
                    _root = r;
                }
                return _root;
            }
        }

        public static string CliPath
        {
            get
            {
                var p = System.Environment.GetEnvironmentVariable("COPILOT_CLI_PATH");
                if (string.IsNullOrEmpty(p)) throw new TestFailure("COPILOT_CLI_PATH is not set (tests/install-cli.sh prints it)");
                return p;
            }
        }

        static void MakeSandbox()
        {
            if (_home != null) return;
            var b = Path.Combine(Path.GetTempPath(), "copilot-dotnet-tests-" + Process.GetCurrentProcess().Id);
            _home = Path.Combine(b, "home");
            _work = Path.Combine(b, "work");
            Directory.CreateDirectory(_home);
            Directory.CreateDirectory(_work);
        }

        public static string SandboxBase { get { MakeSandbox(); return Path.GetDirectoryName(_home); } }
        public static string Home { get { MakeSandbox(); return _home; } }
        public static string Work { get { MakeSandbox(); return _work; } }

        /// <summary>Options for a CLI the test spawns itself: isolated HOME and cwd, no COPILOT_* vars.</summary>
        public static CopilotClientOptions OwnCli(bool useStdio)
        {
            var env = new Dictionary<string, string>();
            foreach (System.Collections.DictionaryEntry kv in System.Environment.GetEnvironmentVariables())
            {
                var k = (string)kv.Key;
                if (k.StartsWith("COPILOT_") || k == "HOME") continue;
                env[k] = (string)kv.Value;
            }
            env["HOME"] = Home;
            return new CopilotClientOptions
            {
                CliPath = CliPath,
                UseStdio = useStdio,
                Environment = env,
                Cwd = Work,
                UseLoggedInUser = false,
            };
        }

        public static void Cleanup()
        {
            if (_home == null) return;
            try { Directory.Delete(SandboxBase, true); } catch (Exception) { }
        }
    }

    /// <summary>Collects a session's events (subscribed at construction) and waits for one.</summary>
    sealed class EventCollector : IDisposable
    {
        readonly List<SessionEvent> _events = new List<SessionEvent>();
        readonly IDisposable _sub;

        public EventCollector(CopilotSession session, string type = null)
        {
            Action<SessionEvent> f = e =>
            {
                lock (_events)
                {
                    _events.Add(e);
                    Monitor.PulseAll(_events);
                }
            };
            _sub = type == null ? session.On(f) : session.On(type, f);
        }

        public List<SessionEvent> Snapshot()
        {
            lock (_events) return _events.ToList();
        }

        /// <summary>The first collected event matching <paramref name="pred"/>; fails after
        /// <paramref name="seconds"/> (a hang guard, not a timing assertion).</summary>
        public Task<SessionEvent> WaitFor(Func<SessionEvent, bool> pred, int seconds, string what)
        {
            return Task.Run(() =>
            {
                var end = DateTime.UtcNow.AddSeconds(seconds);
                lock (_events)
                {
                    while (true)
                    {
                        var hit = _events.FirstOrDefault(pred);
                        if (hit != null) return hit;
                        var left = end - DateTime.UtcNow;
                        if (left <= TimeSpan.Zero)
                            throw new TestFailure("hung: " + what + " did not arrive within " + seconds + " s; got [" + string.Join(", ", _events.Select(e => e.Type)) + "]");
                        Monitor.Wait(_events, left);
                    }
                }
            });
        }

        public void Dispose() { _sub.Dispose(); }
    }

    /// <summary>One CLI for the whole suite: a TCP child with a connection token, spawned through
    /// this binding; tests connect further clients to it by URL.</summary>
    static class Shared
    {
        public const string Token = "shared-dotnet-token";
        static CopilotClient _owner;
        static readonly object Gate = new object();

        public static CopilotClient Owner
        {
            get
            {
                lock (Gate)
                {
                    if (_owner == null)
                    {
                        var o = Env.OwnCli(false);
                        o.Port = 0;
                        o.ConnectionToken = Token;
                        var c = new CopilotClient(o);
                        c.StartAsync().GetAwaiter().GetResult();
                        _owner = c;
                    }
                    return _owner;
                }
            }
        }

        public static int Port { get { return Owner.Port.Value; } }
        public static string Url { get { return "127.0.0.1:" + Port; } }

        /// <summary>A started client connected to the shared CLI by URL.</summary>
        public static async Task<CopilotClient> ConnectAsync()
        {
            var c = new CopilotClient(new CopilotClientOptions { CliUrl = Url, ConnectionToken = Token });
            await c.StartAsync();
            return c;
        }

        public static void Stop()
        {
            lock (Gate)
            {
                if (_owner != null) _owner.StopAsync().GetAwaiter().GetResult();
                _owner = null;
            }
        }
    }

    /// <summary>Named tests, run one after the other; prints one line per test and the total.</summary>
    sealed class Runner
    {
        readonly List<KeyValuePair<string, Func<Task>>> _tests = new List<KeyValuePair<string, Func<Task>>>();

        public void Add(string name, Func<Task> test) { _tests.Add(new KeyValuePair<string, Func<Task>>(name, test)); }

        public IEnumerable<string> Names { get { return _tests.Select(t => t.Key); } }

        /// <summary>Runs the tests whose name contains <paramref name="filter"/> (all when null);
        /// returns the number of failures.</summary>
        public int Run(string filter, int perTestSeconds)
        {
            int passed = 0, failed = 0;
            var failures = new List<string>();
            foreach (var t in _tests)
            {
                if (filter != null && !t.Key.Contains(filter)) continue;
                var sw = Stopwatch.StartNew();
                string error = null;
                try
                {
                    var task = Task.Run(t.Value);
                    if (!task.Wait(TimeSpan.FromSeconds(perTestSeconds))) error = "hung: no result after " + perTestSeconds + " s";
                }
                catch (AggregateException e)
                {
                    var inner = e.InnerExceptions.Count == 1 ? e.InnerException : e;
                    error = inner is TestFailure ? inner.Message : inner.ToString();
                }
                if (error == null)
                {
                    passed++;
                    Console.WriteLine("ok   " + t.Key + " (" + sw.ElapsedMilliseconds + " ms)");
                }
                else
                {
                    failed++;
                    failures.Add(t.Key);
                    Console.WriteLine("FAIL " + t.Key + " (" + sw.ElapsedMilliseconds + " ms): " + error);
                }
            }
            if (failures.Count > 0) Console.WriteLine("failed: " + string.Join(", ", failures));
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed;
        }
    }
}
