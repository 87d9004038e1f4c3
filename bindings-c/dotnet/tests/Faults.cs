// Fault-injection helpers of the reliability tests: an external CLI server that can be killed,
// stopped and started again on the same port, the copilot-chaos proxy and hostile peer
// (tests/chaos/README.md), a log of a client's lifecycle events, and what /proc says about this
// process (descriptors, threads, memory, children). Every wait has a deadline.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Tests
{
    static class Signals
    {
        public const int SIGKILL = 9;
        public const int SIGCONT = 18;
        public const int SIGSTOP = 19;

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        static extern int SysKill(int pid, int sig);

        public static void Send(int pid, int sig) { SysKill(pid, sig); }

        /// <summary>Reads a line on another thread; fails after <paramref name="seconds"/>.</summary>
        public static string ReadLineWithin(StreamReader r, int seconds, string what)
        {
            var t = Task.Run(() => r.ReadLine());
            if (!t.Wait(TimeSpan.FromSeconds(seconds))) throw new TestFailure("hung: " + what + " within " + seconds + " s");
            return t.Result;
        }

        /// <summary>Reads a stream to its end on a background thread (a child never blocks on a full pipe).</summary>
        public static void Drain(StreamReader r)
        {
            var t = new Thread(() =>
            {
                try { while (r.ReadLine() != null) { } }
                catch (Exception) { }
            });
            t.IsBackground = true;
            t.Start();
        }

        public static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            var port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }
    }

    /// <summary>The pinned CLI run as a headless server on a port of its own (the guide's
    /// deployment): isolated HOME and cwd, no COPILOT_* variables. Kill it and start it again on
    /// the same port (its HOME is kept, so sessions can be resumed).</summary>
    sealed class ExternalCli : IDisposable
    {
        readonly string _home;
        Process _p;

        public int Port { get; private set; }
        public int Pid { get { return _p.Id; } }
        public string Url { get { return "127.0.0.1:" + Port; } }

        ExternalCli(int port, string home)
        {
            Port = port;
            _home = home;
        }

        public static ExternalCli Start()
        {
            var home = Path.Combine(Env.SandboxBase, "external-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(home);
            return Start(home);
        }

        /// <summary>A server with this HOME (servers of a pool share one: their state directory).</summary>
        public static ExternalCli Start(string home)
        {
            var cli = new ExternalCli(Signals.FreePort(), home);
            cli.Launch();
            return cli;
        }

        void Launch()
        {
            var psi = new ProcessStartInfo(Env.CliPath, "--headless --no-auto-update --port " + Port)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Env.Work,
            };
            foreach (var k in psi.EnvironmentVariables.Keys.Cast<string>().ToList())
                if (k.StartsWith("COPILOT_")) psi.EnvironmentVariables.Remove(k);
            psi.EnvironmentVariables["HOME"] = _home;
            _p = Process.Start(psi);
            Signals.Drain(_p.StandardError);
            while (true)
            {
                var line = Signals.ReadLineWithin(_p.StandardOutput, 30, "the CLI's `listening on port` line");
                if (line == null) throw new TestFailure("the CLI exited before listening on port " + Port);
                if (line.Contains("listening on port")) break;
            }
            Signals.Drain(_p.StandardOutput);
        }

        public void Signal(int sig) { Signals.Send(_p.Id, sig); }

        /// <summary>SIGSTOP, then waits until every thread of the CLI is stopped (the signal is
        /// asynchronous).</summary>
        public async Task Stop()
        {
            Signal(Signals.SIGSTOP);
            var end = DateTime.UtcNow.AddSeconds(5);
            while (!Proc.AllThreadsStopped(_p.Id))
            {
                if (DateTime.UtcNow > end) throw new TestFailure("the CLI (" + _p.Id + ") did not stop");
                await Task.Delay(10);
            }
        }

        /// <summary>SIGKILL, and reap.</summary>
        public void Kill()
        {
            if (_p == null) return;
            Signal(Signals.SIGCONT);
            Signal(Signals.SIGKILL);
            _p.WaitForExit(10000);
            _p.Dispose();
            _p = null;
        }

        /// <summary>A new server on the same port (and the same HOME).</summary>
        public void Restart()
        {
            Kill();
            Launch();
        }

        /// <summary>Running and answering signals: started again when a test left it killed,
        /// continued when a test left it stopped.</summary>
        public void EnsureRunning()
        {
            if (_p != null && _p.HasExited) Kill();
            if (_p == null) Launch();
            else Signal(Signals.SIGCONT);
        }

        public void Dispose() { Kill(); }
    }

    /// <summary>A copilot-chaos process (proxy or hostile peer) and its control channel.</summary>
    sealed class Chaos : IDisposable
    {
        readonly Process _p;
        public int Port { get; private set; }

        Chaos(string args)
        {
            var bin = System.Environment.GetEnvironmentVariable("COPILOT_CHAOS_PATH");
            if (string.IsNullOrEmpty(bin)) bin = Path.Combine(Env.RepoRoot, "target", "debug", "copilot-chaos");
            if (!File.Exists(bin)) throw new TestFailure("copilot-chaos not found at " + bin + " (cargo build -p copilot-chaos; or set COPILOT_CHAOS_PATH)");
            _p = Process.Start(new ProcessStartInfo(bin, args)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
            });
            var line = Signals.ReadLineWithin(_p.StandardOutput, 10, "copilot-chaos's port line");
            const string prefix = "listening on port ";
            if (line == null || !line.StartsWith(prefix))
            {
                Dispose();
                throw new TestFailure("copilot-chaos did not announce its port: " + line);
            }
            Port = int.Parse(line.Substring(prefix.Length).Trim());
        }

        /// <summary>A proxy to a CLI server on 127.0.0.1:<paramref name="target"/>.</summary>
        public static Chaos Proxy(int target) { return new Chaos("proxy --target " + target); }

        /// <summary>A hostile JSON-RPC server (silent, unknown-id, bad-header, ...).</summary>
        public static Chaos Peer(string mode) { return new Chaos("peer --mode " + mode); }

        public string Url { get { return "127.0.0.1:" + Port; } }

        /// <summary>Sends one command and returns its answer once it took effect (<c>ok ...</c>).</summary>
        public string Command(string cmd)
        {
            _p.StandardInput.WriteLine(cmd);
            _p.StandardInput.Flush();
            var answer = Signals.ReadLineWithin(_p.StandardOutput, 10, "copilot-chaos's answer to `" + cmd + "`");
            if (answer == null || !answer.StartsWith("ok ")) throw new TestFailure("copilot-chaos refused `" + cmd + "`: " + answer);
            return answer;
        }

        /// <summary>Closing stdin ends it.</summary>
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

    /// <summary>Every lifecycle event of a client (subscribed at construction), read in order:
    /// <see cref="Next"/> consumes the events up to the first one of the wanted type.</summary>
    sealed class LifecycleLog : IDisposable
    {
        readonly List<SessionLifecycleEvent> _events = new List<SessionLifecycleEvent>();
        readonly IDisposable _sub;
        int _cursor;

        public LifecycleLog(CopilotClient client, IEnumerable<string> types)
        {
            Action<SessionLifecycleEvent> f = e =>
            {
                lock (_events)
                {
                    _events.Add(e);
                    Monitor.PulseAll(_events);
                }
            };
            _sub = types == null ? client.On(f) : client.On(types, f);
        }

        public Task<SessionLifecycleEvent> Next(string type, int seconds)
        {
            return Task.Run(() =>
            {
                var end = DateTime.UtcNow.AddSeconds(seconds);
                lock (_events)
                {
                    while (true)
                    {
                        while (_cursor < _events.Count)
                        {
                            var e = _events[_cursor++];
                            if (e.Type == type) return e;
                        }
                        var left = end - DateTime.UtcNow;
                        if (left <= TimeSpan.Zero)
                            throw new TestFailure("hung: no " + type + " within " + seconds + " s; got [" + string.Join(", ", _events.Select(x => x.Type)) + "]");
                        Monitor.Wait(_events, left);
                    }
                }
            });
        }

        public void Dispose() { _sub.Dispose(); }
    }

    /// <summary>What /proc says about this process.</summary>
    static class Proc
    {
        public struct Usage
        {
            public int Fds;
            public int Threads;
            public long RssKiB;
            public override string ToString() { return "fds " + Fds + ", threads " + Threads + ", RSS " + RssKiB + " KiB"; }
        }

        public static Usage Now()
        {
            var u = new Usage { Fds = Directory.GetFileSystemEntries("/proc/self/fd").Length };
            foreach (var line in File.ReadAllLines("/proc/self/status"))
            {
                var parts = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2) continue;
                if (parts[0] == "Threads:") u.Threads = int.Parse(parts[1]);
                if (parts[0] == "VmRSS:") u.RssKiB = long.Parse(parts[1]);
            }
            return u;
        }

        /// <summary>State letter of a process (R, S, Z, ...), or null when it is gone.</summary>
        /// <summary>True when every thread of the process is stopped (state T or t).</summary>
        public static bool AllThreadsStopped(int pid)
        {
            try
            {
                foreach (var dir in Directory.GetDirectories("/proc/" + pid + "/task"))
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var state = stat.Substring(stat.LastIndexOf(") ", StringComparison.Ordinal) + 2, 1);
                    if (state != "T" && state != "t") return false;
                }
                return true;
            }
            catch (IOException) { return false; }
        }

        static string State(int pid)
        {
            try
            {
                var stat = File.ReadAllText("/proc/" + pid + "/stat");
                var rest = stat.Substring(stat.LastIndexOf(") ", StringComparison.Ordinal) + 2);
                return rest.Split(' ')[0];
            }
            catch (IOException) { return null; }
        }

        static int ParentOf(int pid)
        {
            try
            {
                var stat = File.ReadAllText("/proc/" + pid + "/stat");
                var rest = stat.Substring(stat.LastIndexOf(") ", StringComparison.Ordinal) + 2);
                return int.Parse(rest.Split(' ')[1]);
            }
            catch (Exception) { return 0; }
        }

        public static async Task<bool> WaitDead(int pid, int seconds)
        {
            var end = DateTime.UtcNow.AddSeconds(seconds);
            while (DateTime.UtcNow < end)
            {
                var s = State(pid);
                if (s == null || s == "Z") return true;
                await Task.Delay(50);
            }
            return false;
        }

        /// <summary>Live children of this process whose command line mentions <paramref name="needle"/>.</summary>
        public static List<int> ChildrenMatching(string needle)
        {
            var me = Process.GetCurrentProcess().Id;
            var r = new List<int>();
            foreach (var d in Directory.GetDirectories("/proc"))
            {
                int pid;
                if (!int.TryParse(Path.GetFileName(d), out pid)) continue;
                if (ParentOf(pid) != me || State(pid) == "Z" || State(pid) == null) continue;
                string cmd;
                try { cmd = File.ReadAllText(Path.Combine(d, "cmdline")); }
                catch (IOException) { continue; }
                if (cmd.Contains(needle)) r.Add(pid);
            }
            return r;
        }
    }
}
