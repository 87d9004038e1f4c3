// Delivery benchmark, .NET figure: connects to benches' flood_peer (PORT, N), counts the
// assistant.message_delta events delivered into an On handler (the core filters the type), checks their order, and prints
// one JSON line (events per second from send to the turn's end delivered).
using System;
using System.Diagnostics;
using System.Globalization;
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
            session.On("assistant.message_delta", ev =>
            {
                if (ev.Data.DeltaContent != count + " ") inOrder = false;
                count++;
            });
            var sw = Stopwatch.StartNew();
            // Returns after the handler has seen the turn's events (the library queues the
            // completion behind them).
            await session.SendAndWaitAsync(new MessageOptions { Prompt = "flood" }, TimeSpan.FromMinutes(10));
            double secs = sw.Elapsed.TotalSeconds;
            // The closing brace is appended: "{4:F0}}}" would make "}" part of the format.
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{{\"lang\":\"dotnet\",\"events\":{0},\"expected\":{1},\"in_order\":{2},\"seconds\":{3:F4},\"per_sec\":{4:F0}",
                count, n, inOrder ? "true" : "false", secs, count / secs) + "}");
            await client.StopAsync();
        }
        CopilotRuntime.Shutdown();
        return 0;
    }
}
