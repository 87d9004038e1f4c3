package copilot

// The official SDKs' connection values (RuntimeConnection): ClientOptions.Connection takes one
// of StdioConnection, TCPConnection or URIConnection, as a value or a pointer. They become the
// core's JSON option "connection"; the older fields (CLIUrl, UseStdio, Port, CLIPath, CLIArgs,
// ConnectionToken) keep working, but cannot be combined with Connection (ErrInvalidConfig).

// RuntimeConnection says how a client reaches the Copilot CLI: StdioConnection,
// TCPConnection or URIConnection (or a pointer to one).
type RuntimeConnection interface {
	// connection is the core's "connection" object.
	connection() map[string]any
}

// StdioConnection spawns the CLI and talks to it over stdio. Path is the executable ("":
// COPILOT_CLI_PATH, then PATH); Args are placed before the SDK's own arguments.
type StdioConnection struct {
	Path string
	Args []string
}

// TCPConnection spawns the CLI as a TCP server on Port (0: any free port) with
// ConnectionToken ("": a random one). Path and Args are as in StdioConnection.
type TCPConnection struct {
	Port            int
	ConnectionToken string
	Path            string
	Args            []string
}

// URIConnection connects to a running CLI server at URL ("host:port", "port" or
// "http://host:port"), sending ConnectionToken in the handshake.
type URIConnection struct {
	URL             string
	ConnectionToken string
}

func spawnFields(m map[string]any, path string, args []string) map[string]any {
	if path != "" {
		m["path"] = path
	}
	if len(args) > 0 {
		m["args"] = args
	}
	return m
}

func (c StdioConnection) connection() map[string]any {
	return spawnFields(map[string]any{"kind": "stdio"}, c.Path, c.Args)
}

func (c TCPConnection) connection() map[string]any {
	m := map[string]any{"kind": "tcp"}
	if c.Port != 0 {
		m["port"] = c.Port // negative: refused by the core
	}
	if c.ConnectionToken != "" {
		m["connectionToken"] = c.ConnectionToken
	}
	return spawnFields(m, c.Path, c.Args)
}

func (c URIConnection) connection() map[string]any {
	m := map[string]any{"kind": "uri", "url": c.URL}
	if c.ConnectionToken != "" {
		m["connectionToken"] = c.ConnectionToken
	}
	return m
}

// connectionJSON is the "connection" option, or nil when there is none (a nil interface or a
// nil pointer).
func connectionJSON(c RuntimeConnection) map[string]any {
	switch v := c.(type) {
	case nil:
		return nil
	case *StdioConnection:
		if v == nil {
			return nil
		}
	case *TCPConnection:
		if v == nil {
			return nil
		}
	case *URIConnection:
		if v == nil {
			return nil
		}
	}
	return c.connection()
}
