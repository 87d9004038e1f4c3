// Delivery benchmark, .NET figure: connects to benches' flood_peer (PORT, N), counts the
// assistant.message_delta events delivered into an On handler, checks their order, and prints
// one JSON line (events per second from send to the turn's end delivered).
using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

static class Flood
{
    static int Main(string[] args)
    {
        return Run(int.Parse(args[0]), int.Parse(args[1])).GetAwaiter().GetResult();
    }

    static async Task<int> Run(int port, int n)
    {
        using (var client = new CopilotClient(new CopilotClientOptions { CliUrl = "127.0.0.1:" + port }))
        {
            await client.StartAsync();
            var session = await client.CreateSessionAsync(new SessionConfig());
            int count = 0;
            bool inOrder = true;
            var idle = new ManualResetEventSlim(false);
            session.On(ev =>
            {
                if (ev.Type == "assistant.message_delta")
                {
                    if (ev.Data.DeltaContent != count + " ") inOrder = false;
                    count++;
                }
                else if (ev.Type == "session.idle") idle.Set();
            });
            var sw = Stopwatch.StartNew();
            await session.SendAndWaitAsync(new MessageOptions { Prompt = "flood" }, TimeSpan.FromMinutes(10));
            idle.Wait();
            double secs = sw.Elapsed.TotalSeconds;
            Console.WriteLine("{{\"lang\":\"dotnet\",\"events\":{0},\"expected\":{1},\"in_order\":{2},\"seconds\":{3:F4},\"per_sec\":{4:F0}}}",
                count, n, inOrder ? "true" : "false", secs, count / secs);
            await client.StopAsync();
        }
        CopilotRuntime.Shutdown();
        return 0;
    }
}
