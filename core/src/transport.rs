//! Reaching a CLI: spawn it over stdio, spawn it on a TCP port, or connect to a running server.

use crate::error::{Error, ErrorKind, Result};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The CLI version the project pins and installs (`tests/install-cli.sh`).
pub const PINNED_CLI_VERSION: &str = "1.0.102";
/// Env var with the CLI path.
pub const CLI_PATH_ENV: &str = "COPILOT_CLI_PATH";
const STDERR_LINES: usize = 40;

/// How the client reaches the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// Spawn the CLI as a child and speak over its stdin/stdout (the default).
    #[default]
    Stdio,
    /// Spawn the CLI as a child listening on a loopback TCP port (0 = let it choose).
    Tcp { port: u16 },
    /// Connect to an already running server: `"host:port"`, `"port"` or `"http://host:port"`.
    Url(String),
}

/// A parsed server address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
}

/// Parses the `cliUrl` forms the official SDKs accept.
pub fn parse_cli_url(url: &str) -> Result<ServerAddr> {
    let bad = |why: &str| {
        Error::config(format!(
            "invalid CLI URL {url:?}: {why} (expected \"host:port\", \"port\" or \"http://host:port\")"
        ))
    };
    let s = url.trim();
    let s = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://")).unwrap_or(s);
    let s = s.strip_suffix('/').unwrap_or(s);
    let (host, port) = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        ("localhost", s)
    } else {
        let Some((h, p)) = s.rsplit_once(':') else { return Err(bad("no port")) };
        let h = h.trim_start_matches('[').trim_end_matches(']');
        (if h.is_empty() { "localhost" } else { h }, p)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the port is not a number"));
    }
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(ServerAddr { host: host.to_owned(), port: p as u16 }),
        _ => Err(bad("the port must be 1-65535")),
    }
}

/// Where the CLI executable is looked for, in order: explicit path, `COPILOT_CLI_PATH`, the
/// copy `tests/install-cli.sh` installs into this checkout, then `copilot` on `PATH`.
pub fn resolve_cli_path(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::new(ErrorKind::CliNotFound, format!("the CLI path {} does not exist", p.display())))
        };
    }
    if let Some(p) = std::env::var_os(CLI_PATH_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(Error::new(ErrorKind::CliNotFound, format!("{CLI_PATH_ENV}={} does not exist", p.display())))
        };
    }
    let installed = installed_cli_path();
    if installed.exists() {
        return Ok(installed);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let c = dir.join("copilot");
            if c.is_file() {
                return Ok(c);
            }
        }
    }
    Err(Error::new(
        ErrorKind::CliNotFound,
        format!(
            "no Copilot CLI found: pass a CLI path, set {CLI_PATH_ENV}, run tests/install-cli.sh (looked at {}), or put `copilot` on PATH",
            installed.display()
        ),
    ))
}

/// The path `tests/install-cli.sh` installs the pinned CLI to in this checkout.
pub fn installed_cli_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.copilot-cli/node_modules/@github/copilot-linux-x64/copilot")
}

/// The last lines a child wrote to stderr, and whether its stderr has ended.
#[derive(Clone)]
pub struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    done: watch::Receiver<bool>,
}

impl StderrTail {
    pub fn text(&self) -> Option<String> {
        let l = self.lines.lock().unwrap();
        if l.is_empty() { None } else { Some(l.iter().cloned().collect::<Vec<_>>().join("\n")) }
    }
    pub fn done(&self) -> watch::Receiver<bool> {
        self.done.clone()
    }
}

fn capture_stderr(stderr: tokio::process::ChildStderr) -> StderrTail {
    let lines = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = watch::channel(false);
    let l2 = lines.clone();
    tokio::spawn(async move {
        let mut r = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = r.next_line().await {
            tracing::debug!(target: "copilot::cli_stderr", "{line}");
            let mut l = l2.lock().unwrap();
            if l.len() == STDERR_LINES {
                l.pop_front();
            }
            l.push_back(line);
        }
        let _ = tx.send(true);
    });
    StderrTail { lines, done: rx }
}

/// A spawned CLI.
pub struct ChildProcess {
    pub child: Child,
    pub stderr: StderrTail,
}

impl ChildProcess {
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits up to `grace` for the child to exit, then kills it.
    pub async fn reap(&mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            tracing::debug!("the CLI did not exit within {grace:?}; killing it");
            let _ = self.child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        }
    }

    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Everything needed to start a child CLI.
pub struct SpawnSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Replace the inherited environment with exactly this one (before `extra_env`).
    pub env: Option<Vec<(String, String)>>,
    pub extra_env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// A duplex stream over the CLI.
pub struct Stream {
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    pub writer: Box<dyn AsyncWrite + Send + Unpin>,
    pub child: Option<ChildProcess>,
    /// The TCP port, for TCP transports.
    pub port: Option<u16>,
}

fn command(spec: &SpawnSpec) -> Command {
    let is_js = spec.program.extension().is_some_and(|e| e == "js" || e == "mjs" || e == "cjs");
    let mut cmd = if is_js {
        let mut c = Command::new("node");
        c.arg(&spec.program);
        c
    } else {
        Command::new(&spec.program)
    };
    cmd.args(&spec.args);
    if let Some(env) = &spec.env {
        cmd.env_clear();
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
    }
    cmd.env_remove("NODE_DEBUG");
    cmd.envs(spec.extra_env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    cmd.kill_on_drop(true);
    // If the host process dies without dropping the client (SIGKILL, abort), the kernel kills
    // the CLI too. PR_SET_PDEATHSIG fires when the spawning *thread* exits, so children are
    // spawned from one permanent thread (see `spawn_child`).
    #[cfg(target_os = "linux")]
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

type SpawnJob = (Command, tokio::runtime::Handle, tokio::sync::oneshot::Sender<std::io::Result<Child>>);

/// Spawns on a dedicated, never-ending thread (see the PDEATHSIG note above).
async fn spawn_child(mut cmd: Command) -> std::io::Result<Child> {
    // Keyed by pid: after fork() the child has no spawner thread, so it starts its own.
    static SPAWNER: Mutex<Option<(u32, std::sync::mpsc::Sender<SpawnJob>)>> = Mutex::new(None);
    let sender = {
        let mut slot = SPAWNER.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((pid, tx)) if *pid == std::process::id() => tx.clone(),
            _ => {
                let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
                std::thread::Builder::new()
                    .name("copilot-spawner".into())
                    .spawn(move || {
                        for (mut cmd, handle, reply) in rx {
                            let _guard = handle.enter();
                            let _ = reply.send(cmd.spawn());
                        }
                    })
                    .map_err(|e| std::io::Error::other(format!("cannot start the copilot-spawner thread: {e}")))?;
                *slot = Some((std::process::id(), tx.clone()));
                tx
            }
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = (std::mem::replace(&mut cmd, Command::new("true")), tokio::runtime::Handle::current(), tx);
    if sender.send(job).is_err() {
        return Err(std::io::Error::other("copilot-spawner thread is gone"));
    }
    rx.await.map_err(|_| std::io::Error::other("copilot-spawner dropped the request"))?
}

fn spawn_error(spec: &SpawnSpec, e: std::io::Error) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::CliNotFound } else { ErrorKind::Connect };
    Error::new(kind, format!("cannot start the CLI {}: {e}", spec.program.display())).with_source(e)
}

/// Spawns the CLI with `--stdio`.
pub async fn spawn_stdio(spec: SpawnSpec) -> Result<Stream> {
    let mut cmd = command(&spec);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn_child(cmd).await.map_err(|e| spawn_error(&spec, e))?;
    let stdin = child.stdin.take().ok_or_else(|| Error::new(ErrorKind::Internal, "child has no stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| Error::new(ErrorKind::Internal, "child has no stdout"))?;
    let stderr =
        capture_stderr(child.stderr.take().ok_or_else(|| Error::new(ErrorKind::Internal, "child has no stderr"))?);
    Ok(Stream {
        reader: Box::new(stdout),
        writer: Box::new(stdin),
        child: Some(ChildProcess { child, stderr }),
        port: None,
    })
}

/// Socket options of TCP connections.
#[derive(Clone, Copy, Debug)]
pub struct TcpOptions {
    /// Re-arm TCP_QUICKACK after each read (Linux).
    pub quickack: bool,
    /// SO_KEEPALIVE with this idle time before the first probe (probes every 5 s, 3 of them).
    pub keepalive: Option<Duration>,
    /// TCP_USER_TIMEOUT (Linux): unacknowledged data older than this breaks the connection.
    pub user_timeout: Option<Duration>,
}

/// Spawns the CLI with `--port`, reads the port it announces on stdout, and connects.
pub async fn spawn_tcp(spec: SpawnSpec, announce_timeout: Duration, tcp: TcpOptions) -> Result<Stream> {
    let mut cmd = command(&spec);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn_child(cmd).await.map_err(|e| spawn_error(&spec, e))?;
    let stderr =
        capture_stderr(child.stderr.take().ok_or_else(|| Error::new(ErrorKind::Internal, "child has no stderr"))?);
    let stdout = child.stdout.take().ok_or_else(|| Error::new(ErrorKind::Internal, "child has no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(announce_timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "copilot::cli_stdout", "{line}");
            if let Some(port) = announced_port(&line) {
                return Some(port);
            }
        }
        None
    })
    .await;
    let mut process = ChildProcess { child, stderr };
    let port = match found {
        Ok(Some(p)) => p,
        Ok(None) => {
            let mut done = process.stderr.done();
            let _ = tokio::time::timeout(Duration::from_millis(500), done.wait_for(|d| *d)).await;
            let status = tokio::time::timeout(Duration::from_secs(2), process.child.wait()).await;
            let status =
                status.ok().and_then(|s| s.ok()).map(|s| s.to_string()).unwrap_or_else(|| "still running".into());
            process.kill().await;
            return Err(Error::new(
                ErrorKind::Connect,
                format!("the CLI exited before announcing its port ({status})"),
            )
            .with_stderr(process.stderr.text()));
        }
        Err(_) => {
            process.kill().await;
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("the CLI did not announce a port within {announce_timeout:?}"),
            )
            .with_stderr(process.stderr.text()));
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "copilot::cli_stdout", "{line}");
        }
    });
    match connect_tcp("127.0.0.1", port, Duration::from_secs(10), tcp).await {
        Ok(mut s) => {
            s.child = Some(process);
            Ok(s)
        }
        Err(e) => {
            process.kill().await;
            Err(e.with_stderr(process.stderr.text()))
        }
    }
}

/// Reads `... listening on port <N>` (case-insensitive).
pub fn announced_port(line: &str) -> Option<u16> {
    let lower = line.to_ascii_lowercase();
    let i = lower.find("listening on port")?;
    let digits: String =
        lower[i + "listening on port".len()..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Connects to a running server with TCP_NODELAY, keepalive and TCP_USER_TIMEOUT as asked.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration, tcp: TcpOptions) -> Result<Stream> {
    let quickack = tcp.quickack;
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            Error::new(ErrorKind::Timeout, format!("connecting to {host}:{port} timed out after {timeout:?}"))
        })?
        .map_err(|e| {
            Error::new(ErrorKind::Connect, format!("cannot connect to the CLI at {host}:{port}: {e}")).with_source(e)
        })?;
    stream.set_nodelay(true).map_err(|e| Error::io("TCP_NODELAY", e))?;
    #[cfg(target_os = "linux")]
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd()
    };
    #[cfg(target_os = "linux")]
    set_liveness(fd, tcp).map_err(|e| Error::io("TCP keepalive options", e))?;
    let (r, w) = stream.into_split();
    #[cfg(target_os = "linux")]
    let reader: Box<dyn AsyncRead + Send + Unpin> =
        if quickack { Box::new(QuickAck { inner: r, fd }) } else { Box::new(r) };
    #[cfg(not(target_os = "linux"))]
    let reader: Box<dyn AsyncRead + Send + Unpin> = {
        let _ = quickack;
        Box::new(r)
    };
    Ok(Stream { reader, writer: Box::new(w), child: None, port: Some(port) })
}

/// Sets an integer socket option.
#[cfg(target_os = "linux")]
fn setsockopt_int(
    fd: std::os::fd::RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: fd is a live socket owned by the caller; the option value is a c_int.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Keepalive probes and TCP_USER_TIMEOUT: a peer whose host vanished (no FIN, no RST) is
/// noticed within keepalive + 3 × 5 s when idle, and within the user timeout when data is
/// waiting for an acknowledgement.
#[cfg(target_os = "linux")]
fn set_liveness(fd: std::os::fd::RawFd, tcp: TcpOptions) -> std::io::Result<()> {
    if let Some(idle) = tcp.keepalive {
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle.as_secs().clamp(1, 32767) as libc::c_int)?;
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5)?;
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)?;
    }
    if let Some(t) = tcp.user_timeout {
        let ms = t.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ms)?;
    }
    Ok(())
}

/// Re-arms TCP_QUICKACK after every read. The CLI leaves Nagle on and writes some replies in
/// pieces; acknowledging at once lets its second piece go out without waiting for our delayed
/// ACK (the `bench` command measures the effect).
#[cfg(target_os = "linux")]
struct QuickAck {
    inner: tokio::net::tcp::OwnedReadHalf,
    fd: std::os::fd::RawFd,
}

#[cfg(target_os = "linux")]
impl AsyncRead for QuickAck {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let one: libc::c_int = 1;
            // SAFETY: fd belongs to the live socket owned by `inner`; the option value is a c_int.
            unsafe {
                libc::setsockopt(
                    self.fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_url_forms() {
        let a = |s| parse_cli_url(s).map(|a| (a.host, a.port));
        assert_eq!(a("4321").unwrap(), ("localhost".into(), 4321));
        assert_eq!(a("localhost:4321").unwrap(), ("localhost".into(), 4321));
        assert_eq!(a("http://10.0.0.5:4321").unwrap(), ("10.0.0.5".into(), 4321));
        assert_eq!(a("https://h:1/").unwrap(), ("h".into(), 1));
        assert_eq!(a(":99").unwrap(), ("localhost".into(), 99));
        for bad in ["", "host", "host:", "host:0", "host:70000", "host:12ab", "http://"] {
            assert_eq!(parse_cli_url(bad).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
    }

    #[test]
    fn port_announcement() {
        assert_eq!(announced_port("CLI server listening on port 40123"), Some(40123));
        assert_eq!(announced_port("Listening On Port 7"), Some(7));
        assert_eq!(announced_port("Warning: No COPILOT_CONNECTION_TOKEN was set"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn liveness_options_reach_the_socket() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let get = |level, name| {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: a live socket and a c_int-sized out buffer.
            let r = unsafe {
                libc::getsockopt(s.as_raw_fd(), level, name, &mut v as *mut _ as *mut libc::c_void, &mut len)
            };
            assert_eq!(r, 0);
            v
        };
        let tcp = TcpOptions {
            quickack: false,
            keepalive: Some(Duration::from_secs(7)),
            user_timeout: Some(Duration::from_millis(12_500)),
        };
        set_liveness(s.as_raw_fd(), tcp).unwrap();
        assert_eq!(get(libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
        assert_eq!(get(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 5);
        assert_eq!(get(libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        assert_eq!(get(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 12_500);
    }

    #[test]
    fn missing_explicit_cli_is_typed() {
        let e = resolve_cli_path(Some(Path::new("/nonexistent/copilot"))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CliNotFound);
    }
}
