// Runs the C# sample of BACKEND-SERVICES.md (examples/dotnet/BackendService.cs) as the guide
// deploys it: a Copilot CLI started on its own as a headless server (`copilot --headless --port
// N`, no connection token), and the backend connecting to it by URL. Sessions use the
// fake model as their BYOK provider (the guide's BYOK section).

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;
using GitHub.Copilot.SDK.Examples;

namespace GitHub.Copilot.SDK.Tests
{
    static class Sample
    {
        public static void Register(Runner r)
        {
            r.Add("backend_services_sample", Run);
        }

        /// <summary>A headless CLI server run like the guide's `copilot --headless --port 4321`.</summary>
        sealed class HeadlessCli : IDisposable
        {
            readonly Process _p;
            public int Port { get; private set; }

            public HeadlessCli()
            {
                var psi = new ProcessStartInfo(Env.CliPath, "--headless --port 0 --no-auto-update")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    WorkingDirectory = Env.Work,
                };
                foreach (var k in psi.EnvironmentVariables.Keys.Cast<string>().Where(k => k.StartsWith("COPILOT_")).ToList())
                    psi.EnvironmentVariables.Remove(k);
                psi.EnvironmentVariables["HOME"] = Path.Combine(Env.SandboxBase, "headless-home");
                Directory.CreateDirectory(psi.EnvironmentVariables["HOME"]);
                _p = Process.Start(psi);
                _p.ErrorDataReceived += (s, e) => { };
                _p.BeginErrorReadLine();
                var read = Task.Run(() =>
                {
                    string line;
                    while ((line = _p.StandardOutput.ReadLine()) != null)
                    {
                        const string marker = "listening on port ";
                        var i = line.IndexOf(marker, StringComparison.Ordinal);
                        if (i >= 0) return int.Parse(line.Substring(i + marker.Length).Trim());
                    }
                    return -1;
                });
                if (!read.Wait(TimeSpan.FromSeconds(60)) || read.Result <= 0)
                {
                    Dispose();
                    throw new TestFailure("the headless CLI did not announce its port");
                }
                Port = read.Result;
                // Keep draining stdout so the server never blocks on a full pipe.
                Task.Run(() => { try { while (_p.StandardOutput.ReadLine() != null) { } } catch (Exception) { } });
            }

            public void Dispose()
            {
                try { if (!_p.HasExited) _p.Kill(); } catch (Exception) { }
                _p.WaitForExit(10000);
                _p.Dispose();
            }
        }

        static async Task Run()
        {
            using (var model = FakeModel.Start())
            using (var cli = new HeadlessCli())
            {
                var url = "localhost:" + cli.Port;
                // The guide's sample, as written (see examples/dotnet/BackendService.cs).
                var content = await BackendService.ChatAsync(url, "42", "REPLY hello from the backend", model.Provider);
                Assert.Equal("hello from the backend", content, "the sample's answer");

                var client = new CopilotClient(new CopilotClientOptions { CliUrl = "http://127.0.0.1:" + cli.Port });
                Assert.True(await BackendService.CheckCliHealthAsync(client), "health check");
                // Resume-or-create: the first request creates, the second resumes.
                var sid = "api-session-" + Guid.NewGuid().ToString("N");
                Assert.Equal("first", await BackendService.ChatWithSessionAsync(client, sid, "REPLY first", model.Provider));
                Assert.Equal("second", await BackendService.ChatWithSessionAsync(client, sid, "REPLY second", model.Provider));
                var history = (await client.ListSessionsAsync()).Where(s => s.SessionId == sid).ToList();
                Assert.Equal(1, history.Count, "one stored session for the API session id");
                // Cleanup: nothing is older than a day; everything is older than zero.
                Assert.Equal(0, await BackendService.CleanupSessionsAsync(client, TimeSpan.FromDays(1)), "nothing expired");
                var all = (await client.ListSessionsAsync()).Count;
                Assert.True(all >= 2, "the sample's sessions are stored: " + all);
                Assert.Equal(all, await BackendService.CleanupSessionsAsync(client, TimeSpan.Zero), "everything expired");
                Assert.Equal(0, (await client.ListSessionsAsync()).Count, "cleaned up");
                await client.DisposeAsync();
                // The sample as a program (backend-service.exe, built by test.sh): it answers and
                // then exits by itself on Mono, without calling CopilotRuntime.Shutdown().
                var exe = Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "backend-service.exe");
                var psi = new ProcessStartInfo("mono", "\"" + exe + "\" user-7 \"REPLY from the program\"")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                psi.EnvironmentVariables["CLI_URL"] = url;
                psi.EnvironmentVariables["OPENAI_BASE_URL"] = model.BaseUrl;
                psi.EnvironmentVariables["OPENAI_API_KEY"] = "fake-key";
                using (var p = Process.Start(psi))
                {
                    var stdout = p.StandardOutput.ReadToEndAsync();
                    var stderr = p.StandardError.ReadToEndAsync();
                    if (!p.WaitForExit(60000))
                    {
                        p.Kill();
                        throw new TestFailure("hung: the sample program did not exit within 60 s (stderr: " + stderr.Result + ")");
                    }
                    p.WaitForExit();
                    Assert.Equal(0, p.ExitCode, "the sample program's exit code (stderr: " + stderr.Result + ")");
                    Assert.Equal("from the program", stdout.Result.Trim(), "the sample program's output");
                }

                var down = new CopilotClient(new CopilotClientOptions { CliUrl = "127.0.0.1:1" });
                Assert.True(!await BackendService.CheckCliHealthAsync(down), "health check of a dead server");
                down.Dispose();
            }
        }
    }
}
