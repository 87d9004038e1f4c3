// RuntimeConnection: how the client reaches the Copilot CLI, with the official .NET SDK's names
// (RuntimeConnection.ForStdio / ForTcp / ForUri and CopilotClientOptions.Connection). Each kind
// becomes the core's JSON client option `connection` ({"kind": "stdio"|"tcp"|"uri", ...}); the
// core refuses it beside CliUrl, UseStdio, Port, CliPath, CliArgs or ConnectionToken.

using System;
using System.Collections.Generic;

namespace GitHub.Copilot.SDK
{
    /// <summary>
    /// How the client reaches the runtime (the Copilot CLI): spawn it over stdio
    /// (<see cref="ForStdio"/>), spawn it as a TCP server (<see cref="ForTcp"/>), or connect to a
    /// running server (<see cref="ForUri"/>). Set it as <see cref="CopilotClientOptions.Connection"/>;
    /// it cannot be combined with <see cref="CopilotClientOptions.CliUrl"/>,
    /// <see cref="CopilotClientOptions.UseStdio"/>, <see cref="CopilotClientOptions.Port"/>,
    /// <see cref="CopilotClientOptions.CliPath"/>, <see cref="CopilotClientOptions.CliArgs"/> or
    /// <see cref="CopilotClientOptions.ConnectionToken"/> (<see cref="InvalidConfigException"/>).
    /// </summary>
    public abstract class RuntimeConnection
    {
        internal RuntimeConnection() { }

        /// <summary>Spawns the CLI and talks to it over stdin/stdout.</summary>
        /// <param name="path">The CLI executable (null: COPILOT_CLI_PATH, the installed copy, then PATH).</param>
        /// <param name="args">Arguments placed before the SDK's own.</param>
        public static StdioRuntimeConnection ForStdio(string path = null, IList<string> args = null)
        {
            return new StdioRuntimeConnection { Path = path, Args = args };
        }

        /// <summary>Spawns the CLI as a TCP server and connects to it.</summary>
        /// <param name="port">The port (0: any free port).</param>
        /// <param name="connectionToken">The token the child is given and the handshake sends (null: a random one).</param>
        /// <param name="path">The CLI executable (null: COPILOT_CLI_PATH, the installed copy, then PATH).</param>
        /// <param name="args">Arguments placed before the SDK's own.</param>
        public static TcpRuntimeConnection ForTcp(int port = 0, string connectionToken = null, string path = null, IList<string> args = null)
        {
            return new TcpRuntimeConnection { Port = port, ConnectionToken = connectionToken, Path = path, Args = args };
        }

        /// <summary>Connects to a running server; nothing is spawned.</summary>
        /// <param name="url"><c>"port"</c>, <c>"host:port"</c> or <c>"http://host:port"</c>.</param>
        /// <param name="connectionToken">Sent in the <c>connect</c> handshake (a server started with a token refuses a wrong or missing one).</param>
        public static UriRuntimeConnection ForUri(string url, string connectionToken = null)
        {
            if (string.IsNullOrEmpty(url)) throw new ArgumentException("RuntimeConnection.ForUri needs a url", "url");
            return new UriRuntimeConnection { Url = url, ConnectionToken = connectionToken };
        }

        /// <summary>The core's JSON form (the client option <c>connection</c>).</summary>
        public abstract JsonData ToJson();
    }

    /// <summary>A <see cref="RuntimeConnection"/> that spawns the CLI as a child process.</summary>
    public abstract class ChildProcessRuntimeConnection : RuntimeConnection
    {
        internal ChildProcessRuntimeConnection() { }

        /// <summary>The CLI executable (null: COPILOT_CLI_PATH, the installed copy, then PATH).</summary>
        public string Path { get; set; }
        /// <summary>Arguments placed before the SDK's own.</summary>
        public IList<string> Args { get; set; }

        internal JsonData Child(string kind)
        {
            var o = JsonData.Object().Set("kind", kind);
            o.SetIfNotNull("path", Path);
            if (Args != null) o.Set("args", JsonData.Array(Args));
            return o;
        }
    }

    /// <summary>The CLI spawned over stdio (<see cref="RuntimeConnection.ForStdio"/>).</summary>
    public sealed class StdioRuntimeConnection : ChildProcessRuntimeConnection
    {
        internal StdioRuntimeConnection() { }

        public override JsonData ToJson() { return Child("stdio"); }
    }

    /// <summary>The CLI spawned as a TCP server (<see cref="RuntimeConnection.ForTcp"/>).</summary>
    public sealed class TcpRuntimeConnection : ChildProcessRuntimeConnection
    {
        internal TcpRuntimeConnection() { }

        /// <summary>The port (0: any free port).</summary>
        public int Port { get; set; }
        /// <summary>The connection token (null: a random one).</summary>
        public string ConnectionToken { get; set; }

        public override JsonData ToJson()
        {
            var o = Child("tcp").Set("port", Port);
            o.SetIfNotNull("connectionToken", ConnectionToken);
            return o;
        }
    }

    /// <summary>A running server reached by URL (<see cref="RuntimeConnection.ForUri"/>).</summary>
    public sealed class UriRuntimeConnection : RuntimeConnection
    {
        internal UriRuntimeConnection() { }

        /// <summary><c>"port"</c>, <c>"host:port"</c> or <c>"http://host:port"</c>.</summary>
        public string Url { get; set; }
        /// <summary>Sent in the <c>connect</c> handshake.</summary>
        public string ConnectionToken { get; set; }

        public override JsonData ToJson()
        {
            var o = JsonData.Object().Set("kind", "uri");
            o.SetIfNotNull("url", Url);
            o.SetIfNotNull("connectionToken", ConnectionToken);
            return o;
        }
    }
}
