//! Shared harness for tests against the real Copilot CLI.
//!
//! One CLI is spawned per test binary as a TCP server (with a connection token) by a client that
//! lives on a background runtime; tests connect to it by URL. Each test runs its own fake model
//! (a BYOK provider) so the requests it records belong to that test alone. Tests that need a CLI
//! of their own (stdio, kill, token) spawn one with [`own_cli_options`].

#![allow(dead_code)]

use copilot_core::{Client, ClientOptions, Transport};
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct Shared {
    pub port: u16,
    pub token: String,
    pub pid: u32,
}

/// Installs (once) and returns the pinned CLI.
pub fn cli_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("COPILOT_CLI_PATH").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/install-cli.sh");
        let out = std::process::Command::new("bash").arg(&script).output().expect("run tests/install-cli.sh");
        assert!(out.status.success(), "install-cli.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// An isolated HOME and working directory for CLIs started by this test binary.
pub fn sandbox() -> (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("copilot-core-tests-{}", std::process::id()));
        let home = base.join("home");
        let work = base.join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        (home, work)
    })
    .clone()
}

/// Options for a CLI this test spawns itself.
pub fn own_cli_options(transport: Transport) -> ClientOptions {
    let (home, work) = sandbox();
    let mut env: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| !k.starts_with("COPILOT_") && k != "HOME").collect();
    env.push(("HOME".into(), home.display().to_string()));
    ClientOptions {
        transport,
        cli_path: Some(cli_path()),
        env: Some(env),
        cwd: Some(work),
        use_logged_in_user: Some(false),
        ..Default::default()
    }
}

/// The shared TCP CLI of this test binary.
pub fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shared-cli".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
                rt.block_on(async move {
                    let token = "shared-test-token".to_string();
                    let mut o = own_cli_options(Transport::Tcp { port: 0 });
                    o.connection_token = Some(token.clone());
                    let owner = Client::new(o);
                    owner.start().await.expect("start the shared CLI");
                    tx.send(Shared { port: owner.port().unwrap(), token, pid: owner.cli_pid().unwrap() }).unwrap();
                    // Keep the owner (and its CLI) alive for the whole test binary.
                    std::future::pending::<()>().await;
                });
            })
            .unwrap();
        rx.recv().expect("shared CLI did not start")
    })
}

/// A client connected to the shared CLI by URL.
pub async fn connect_shared() -> Client {
    let s = shared();
    let client = Client::new(ClientOptions {
        connection_token: Some(s.token.clone()),
        ..ClientOptions::url(format!("127.0.0.1:{}", s.port))
    });
    client.start().await.expect("connect to the shared CLI");
    client
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn pid_alive(pid: u32) -> bool {
    // A zombie is dead for our purposes.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit_once(") ").map(|x| x.1).is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

pub async fn wait_dead(pid: u32, within: std::time::Duration) -> bool {
    let end = std::time::Instant::now() + within;
    while std::time::Instant::now() < end {
        if !pid_alive(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    !pid_alive(pid)
}

/// A CLI server started by the test itself (`copilot --headless --port N`), so the test can
/// kill, stop and restart it on the same port like systemd or compose would.
pub struct ExternalCli {
    pub port: u16,
    pub child: std::process::Child,
}

impl ExternalCli {
    /// Starts a server on `port` (0: a free one) and waits for its announcement.
    pub fn start(port: u16) -> ExternalCli {
        use std::io::BufRead;
        let port = if port == 0 { free_port() } else { port };
        let (home, work) = sandbox();
        let mut cmd = std::process::Command::new(cli_path());
        cmd.args(["--headless", "--no-auto-update", "--port", &port.to_string()])
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| !k.starts_with("COPILOT_") && k != "HOME"))
            .env("HOME", &home)
            .current_dir(&work)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("spawn the CLI");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the CLI exited before listening");
            if line.contains("listening on port") {
                break;
            }
        }
        // Keep draining stdout so the CLI never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        ExternalCli { port, child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGSTOP, then waits until every thread of the CLI is stopped (the signal is asynchronous).
    pub fn stop(&self) {
        self.signal(libc::SIGSTOP);
        let stopped = || {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else { return false };
            tasks.flatten().all(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with(['T', 't']))
            })
        };
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !stopped() {
            assert!(std::time::Instant::now() < end, "the CLI ({}) did not stop", self.pid());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// A new server on the same port.
    pub fn restart(&mut self) {
        self.kill();
        *self = ExternalCli::start(self.port);
    }
}

impl Drop for ExternalCli {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        self.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Open file descriptors, threads and resident memory (KiB) of this process.
pub fn resources() -> (usize, usize, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (fds, field("Threads:") as usize, field("VmRSS:"))
}

/// Children of this process whose command line mentions `needle` (orphan checks).
pub fn children_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(rest) = stat.rsplit_once(") ").map(|x| x.1) else { continue };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        let ppid: u32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == me && state != "Z" && cmd.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// `tests/chaos`: the fault-injection proxy and hostile peer, controlled over stdin.
pub struct Chaos {
    pub port: u16,
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Chaos {
    /// `copilot-chaos <args>`, built by cargo for this test run.
    pub fn start(args: &[&str]) -> Chaos {
        use std::io::BufRead;
        let bin = std::env::var_os("COPILOT_CHAOS_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/copilot-chaos"));
        let mut child = std::process::Command::new(&bin)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (cargo build -p copilot-chaos)", bin.display()));
        let input = child.stdin.take().unwrap();
        let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        let port = line.trim().rsplit(' ').next().and_then(|p| p.parse().ok()).expect("listening on port N");
        Chaos { port, child, input, output }
    }

    /// Sends a command and returns its answer line (`ok …`).
    pub fn cmd(&mut self, c: &str) -> String {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{c}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        assert!(line.starts_with("ok"), "{c}: {line}");
        line.trim().to_owned()
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next lifecycle notification of type `t` (others are skipped), within `within`.
pub async fn next_of(
    stream: &mut copilot_core::EventStream<copilot_core::LifecycleEvent>,
    t: &str,
    within: std::time::Duration,
) -> copilot_core::LifecycleEvent {
    tokio::time::timeout(within, async {
        loop {
            let ev = stream.recv().await.expect("lifecycle stream ended");
            if ev.event_type == t {
                return ev;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {t} within {within:?}"))
}

/// A redis-server of this test on a free loopback port (Debian's `redis-server`; the test
/// script installs it when missing). Killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: std::process::Child,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("copilot-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed (tests/install-services.sh installs it)");
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < end, "redis-server did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        RedisServer { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command and returns the raw reply line(s).
    pub fn cmd(&self, args: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(out.as_bytes()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
        let mut buf = vec![0; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Turns the strict types mode on for this test process (the typed protocol reads every event
/// and result); when the test ends, prints what it counted and fails on anything the types could
/// not read.
pub fn strict() -> StrictGuard {
    copilot_core::protocol::strict::enable();
    StrictGuard
}

pub struct StrictGuard;

impl Drop for StrictGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let s = copilot_core::protocol::strict::stats();
        eprintln!("{}", copilot_core::protocol::strict::report());
        assert!(s.failures.is_empty(), "events or results the types cannot read: {:#?}", s.failures);
    }
}
