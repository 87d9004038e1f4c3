// The chat API of the HA deployment, in C#: several instances of this server behind a load
// balancer, over a pool of CLI servers that share their state directory, with session leases in
// Redis. Any instance may get any request of a conversation: each request opens the session
// (taking its lease), runs the turn, and lets go of it.
//
//   POST /chat {"sessionId", "message"}
//        -> {"sessionId", "content", "server", "leaseToken", "instance", "recovered"}
//   GET  /messages?sessionId=...  -> {"userMessages": [...]}
//   GET  /healthz                 -> ok
//   GET  /metrics                 -> the pool's counters (Prometheus text)
//
// Environment: PORT, COPILOT_POOL_URLS (comma-separated host:port), REDIS_URL,
// COPILOT_PROVIDER_URL (the BYOK model endpoint, e.g. http://127.0.0.1:8000/v1), INSTANCE (this
// instance's name, also its lease owner), LEASE_LOG (optional: a JSONL file that gets an
// `acquire` and a `release` record around every lease this instance holds).
//
// bindings-c/dotnet/test.sh builds it as target/dotnet/pool-chat-api.exe (-define:POOL_CHAT_API_MAIN):
//   python3 tests/ha/run.py --api "env LD_LIBRARY_PATH=target/release mono target/dotnet/pool-chat-api.exe"

using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK;

namespace GitHub.Copilot.SDK.Examples
{
    public sealed class PoolChatApi
    {
        readonly CopilotPool _pool;
        readonly string _instance;
        readonly string _leaseLog;
        readonly string _providerUrl;
        readonly object _logGate = new object();

        public PoolChatApi(CopilotPool pool, string instance, string leaseLog, string providerUrl)
        {
            _pool = pool;
            _instance = instance;
            _leaseLog = leaseLog;
            _providerUrl = providerUrl;
        }

        SessionConfig Config(string sessionId)
        {
            return new SessionConfig
            {
                SessionId = sessionId,
                Model = "gpt-4.1",
                Provider = new ProviderConfig { Type = "openai", BaseUrl = _providerUrl, ApiKey = "x" },
            };
        }

        static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        void LogLease(string ev, CopilotSession s)
        {
            if (string.IsNullOrEmpty(_leaseLog)) return;
            var token = s.LeaseToken;
            var rec = JsonData.Object()
                .Set("event", ev)
                .Set("sessionId", s.SessionId)
                .Set("token", token.HasValue ? JsonData.Number((long)token.Value) : JsonData.Null)
                .Set("t", JsonData.Number((DateTime.UtcNow - Epoch).Ticks * 100L))
                .Set("instance", _instance);
            lock (_logGate) File.AppendAllText(_leaseLog, rec.ToJson() + "\n");
        }

        /// <summary>Opens a session (creating it on its first request) with its lease; retries
        /// while the lease is held, no server is up, or a server is reconnecting.</summary>
        async Task<CopilotSession> Open(string sessionId, bool create)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var delay = 100;
            while (true)
            {
                try
                {
                    CopilotSession s;
                    try
                    {
                        s = await _pool.ResumeSessionAsync(sessionId, Config(null)).ConfigureAwait(false);
                    }
                    catch (SessionNotFoundException)
                    {
                        if (!create) throw;
                        s = await _pool.CreateSessionAsync(Config(sessionId)).ConfigureAwait(false);
                    }
                    LogLease("acquire", s);
                    return s;
                }
                catch (CopilotException e)
                {
                    var again = e.IsRetriable || e is LeaseHeldException || e is NoServerException || e.Code == ErrorCodes.Reconnecting;
                    if (!again || DateTime.UtcNow.AddMilliseconds(delay) > deadline) throw;
                }
                await Task.Delay(delay).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 1000);
            }
        }

        /// <summary>Logs the release, then lets go of the session (and its lease). Never throws.</summary>
        async Task Close(CopilotSession s)
        {
            LogLease("release", s);
            try { await s.DisposeAsync().ConfigureAwait(false); }
            catch (Exception) { }
        }

        static bool Recoverable(Exception e)
        {
            var c = e as CopilotException;
            return c != null && (c is TurnOutcomeUnknownException || c is LeaseLostException || c.IsRetriable);
        }

        /// <summary>What the history holds for the message: "absent", "answered" (with the answer)
        /// or "unanswered".</summary>
        static string Outcome(System.Collections.Generic.IReadOnlyList<SessionEvent> events, string message, out string answer)
        {
            answer = null;
            int at = -1;
            for (int i = events.Count - 1; i >= 0; i--)
            {
                if (events[i].Type == "user.message" && events[i].Data.Content == message) { at = i; break; }
            }
            if (at < 0) return "absent";
            for (int i = at + 1; i < events.Count; i++)
            {
                var e = events[i];
                if (e.Type == "user.message" && !(e.Data.Content ?? "").StartsWith("[continue] ")) break;
                if (e.Type == "assistant.message" && e.AgentId == null) answer = e.Data.Content ?? "";
            }
            return answer == null ? "unanswered" : "answered";
        }

        public async Task<JsonData> Chat(string sessionId, string message)
        {
            var s = await Open(sessionId, true).ConfigureAwait(false);
            var prompt = message;
            JsonData recovered = false;
            try
            {
                for (int attempt = 1; ; attempt++)
                {
                    try
                    {
                        var ev = await s.SendAndWaitAsync(new MessageOptions { Prompt = prompt, Timeout = TimeSpan.FromSeconds(120) }).ConfigureAwait(false);
                        return Result(sessionId, s, ev != null ? ev.Data.Content ?? "" : "", recovered);
                    }
                    catch (Exception e)
                    {
                        if (!Recoverable(e) || attempt >= 5) throw;
                    }
                    // The server went away during the turn: let go, open the session again (the
                    // pool places it on a healthy server) and look at what the history says.
                    await Close(s).ConfigureAwait(false);
                    s = null;
                    s = await Open(sessionId, false).ConfigureAwait(false);
                    string answer;
                    var state = Outcome(await s.GetMessagesAsync().ConfigureAwait(false), message, out answer);
                    if (state == "answered")
                    {
                        recovered = "answered";
                        return Result(sessionId, s, answer, recovered);
                    }
                    prompt = state == "absent" ? message : "[continue] " + message;
                    recovered = state == "absent" ? "resent" : "continued";
                }
            }
            finally
            {
                if (s != null) await Close(s).ConfigureAwait(false);
            }
        }

        JsonData Result(string sessionId, CopilotSession s, string content, JsonData recovered)
        {
            var token = s.LeaseToken;
            return JsonData.Object()
                .Set("sessionId", sessionId)
                .Set("content", content)
                .Set("server", s.Server)
                .Set("leaseToken", token.HasValue ? JsonData.Number((long)token.Value) : JsonData.Null)
                .Set("instance", _instance)
                .Set("recovered", recovered);
        }

        public async Task<JsonData> UserMessages(string sessionId)
        {
            var s = await Open(sessionId, false).ConfigureAwait(false);
            try
            {
                var events = await s.GetMessagesAsync().ConfigureAwait(false);
                return JsonData.Object().Set("userMessages", JsonData.Array(events.Where(e => e.Type == "user.message").Select(e => e.Data.Content ?? "")));
            }
            finally
            {
                await Close(s).ConfigureAwait(false);
            }
        }

        /// <summary>A response: status, content type and body.</summary>
        public sealed class Response
        {
            public int Status;
            public string Type = "application/json";
            public string Body;
            public Response(int status, string body, string type = "application/json") { Status = status; Body = body; Type = type; }
        }

        /// <summary>Routes one request (method, path with query, body).</summary>
        public async Task<Response> Handle(string method, string target, string body)
        {
            var q = target.IndexOf('?');
            var path = q < 0 ? target : target.Substring(0, q);
            var query = q < 0 ? "" : target.Substring(q + 1);
            try
            {
                if (method == "POST" && path == "/chat")
                {
                    JsonData j;
                    try { j = CopilotJson.Parse(body); }
                    catch (JsonParseException) { j = JsonData.Null; }
                    var id = j["sessionId"].AsString();
                    var message = j["message"].AsString();
                    if (id == null || message == null)
                        return new Response(400, JsonData.Object().Set("error", "sessionId and message are required").ToJson());
                    return new Response(200, (await Chat(id, message).ConfigureAwait(false)).ToJson());
                }
                if (method == "GET" && path == "/messages")
                {
                    string id = null;
                    foreach (var kv in query.Split('&'))
                        if (kv.StartsWith("sessionId=")) id = Uri.UnescapeDataString(kv.Substring(10).Replace('+', ' '));
                    if (string.IsNullOrEmpty(id)) return new Response(400, JsonData.Object().Set("error", "sessionId is required").ToJson());
                    return new Response(200, (await UserMessages(id).ConfigureAwait(false)).ToJson());
                }
                if (method == "GET" && path == "/healthz") return new Response(200, "ok", "text/plain");
                if (method == "GET" && path == "/metrics") return new Response(200, _pool.MetricsPrometheus(), "text/plain; version=0.0.4");
                return new Response(404, JsonData.Object().Set("error", "not found").ToJson());
            }
            catch (Exception e)
            {
                var c = e as CopilotException;
                return new Response(c is InvalidConfigException ? 400 : 500,
                    JsonData.Object().Set("error", e.Message).Set("code", c != null ? c.Code : null).Set("instance", _instance).ToJson());
            }
        }

        /// <summary>Serves one HTTP/1.x connection (one request, then close): a minimal server on
        /// a loopback TcpListener, since HttpListener refuses the Host header a proxy sends.</summary>
        public async Task Serve(TcpClient conn)
        {
            using (conn)
            {
                try
                {
                    var stream = conn.GetStream();
                    var head = new StringBuilder();
                    var one = new byte[1];
                    while (!head.ToString().EndsWith("\r\n\r\n"))
                    {
                        if (await stream.ReadAsync(one, 0, 1).ConfigureAwait(false) == 0) return;
                        head.Append((char)one[0]);
                    }
                    var lines = head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.None);
                    var first = lines[0].Split(' ');
                    int length = 0;
                    foreach (var l in lines.Skip(1))
                        if (l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(l.Substring(15).Trim());
                    var body = new byte[length];
                    for (int got = 0; got < length;)
                    {
                        var n = await stream.ReadAsync(body, got, length - got).ConfigureAwait(false);
                        if (n == 0) return;
                        got += n;
                    }
                    var r = await Handle(first[0], first.Length > 1 ? first[1] : "/", Encoding.UTF8.GetString(body)).ConfigureAwait(false);
                    var payload = Encoding.UTF8.GetBytes(r.Body ?? "");
                    var reason = r.Status == 200 ? "OK" : r.Status == 400 ? "Bad Request" : r.Status == 404 ? "Not Found" : "Internal Server Error";
                    var header = Encoding.ASCII.GetBytes("HTTP/1.1 " + r.Status + " " + reason + "\r\nContent-Type: " + r.Type +
                        "\r\nContent-Length: " + payload.Length + "\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(header, 0, header.Length).ConfigureAwait(false);
                    await stream.WriteAsync(payload, 0, payload.Length).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine(_instance + ": " + e.Message);
                }
            }
        }

#if POOL_CHAT_API_MAIN
        static string Env(string key, string fallback)
        {
            var v = Environment.GetEnvironmentVariable(key);
            return string.IsNullOrEmpty(v) ? fallback : v;
        }

        public static int Main()
        {
            var instance = Env("INSTANCE", "api-" + System.Diagnostics.Process.GetCurrentProcess().Id);
            // The core's warnings (a server lost, a session moved, a lease lost) on stderr.
            CopilotLog.SetHandler(CopilotLogLevel.Warning, (level, target, message) =>
                Console.Error.WriteLine(DateTime.UtcNow.ToString("o") + " " + instance + " " + level + " " + target + ": " + message));
            var pool = new CopilotPool(new CopilotPoolOptions
            {
                Urls = Env("COPILOT_POOL_URLS", "127.0.0.1:4321").Split(','),
                HealthInterval = TimeSpan.FromSeconds(1),
                Lease = new LeaseOptions { RedisUrl = Env("REDIS_URL", "redis://127.0.0.1:6379"), Owner = instance },
            });
            var api = new PoolChatApi(pool, instance, Environment.GetEnvironmentVariable("LEASE_LOG"), Env("COPILOT_PROVIDER_URL", "http://127.0.0.1:8000/v1"));
            // Start the pool now so that the first request does not pay for it.
            try { pool.StartAsync().GetAwaiter().GetResult(); }
            catch (CopilotException e) { Console.Error.WriteLine(instance + ": no CLI server answered yet (" + e.Message + "); retrying in the background"); }
            ThreadPool.SetMinThreads(64, 64);
            var listener = new TcpListener(IPAddress.Loopback, int.Parse(Env("PORT", "3000")));
            listener.Start();
            Console.WriteLine("listening on " + ((IPEndPoint)listener.LocalEndpoint).Port);
            while (true)
            {
                TcpClient conn;
                try { conn = listener.AcceptTcpClient(); }
                catch (SocketException) { break; }
                Task.Run(() => api.Serve(conn));
            }
            pool.Dispose();
            return 0;
        }
#endif
    }
}
