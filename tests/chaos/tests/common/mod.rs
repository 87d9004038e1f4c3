//! Helpers shared by the tests: drive the `copilot-chaos` binary the way a
//! test of any language would (spawn, read the port line, write commands,
//! close stdin), and plain blocking sockets with timeouts.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Upper bound for anything that should happen at once.
pub const STEP: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);

/// A running `copilot-chaos`; killed on drop if still running.
pub struct Chaos {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub port: u16,
}

impl Chaos {
    /// Spawns `copilot-chaos ARGS` and waits for `listening on port N`.
    pub fn spawn(args: &[&str]) -> Chaos {
        let mut child = Command::new(env!("CARGO_BIN_EXE_copilot-chaos"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn copilot-chaos");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        // A thread reads stdout so that every wait can have a timeout.
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut chaos = Chaos { child, stdin, lines, port: 0 };
        let first = chaos.line();
        let port = first.strip_prefix("listening on port ").unwrap_or_else(|| panic!("unexpected line {first:?}"));
        chaos.port = port.parse().expect("port number");
        assert_ne!(chaos.port, 0);
        chaos
    }

    /// The next stdout line.
    pub fn line(&mut self) -> String {
        self.lines.recv_timeout(STEP).expect("copilot-chaos said nothing in time")
    }

    /// Writes one command line and returns the answer line.
    pub fn cmd(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{command}").and_then(|()| stdin.flush()).expect("write command");
        self.line()
    }

    /// Sends a command that must succeed with exactly `ok <command>`.
    pub fn ok(&mut self, command: &str) {
        assert_eq!(self.cmd(command), format!("ok {command}"));
    }

    /// `count` → n.
    pub fn count(&mut self) -> u64 {
        let answer = self.cmd("count");
        answer.strip_prefix("ok count ").unwrap_or_else(|| panic!("bad answer {answer:?}")).parse().unwrap()
    }

    /// Waits until `count` reaches `n` (connections are counted when the
    /// proxy accepts them, a moment after the client's connect returned).
    pub fn wait_count(&mut self, n: u64) {
        let deadline = Instant::now() + STEP;
        while self.count() < n {
            assert!(Instant::now() < deadline, "count never reached {n}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes stdin and waits for the process to exit.
    pub fn close(mut self) -> ExitStatus {
        drop(self.stdin.take());
        wait_exit(&mut self.child)
    }

    pub fn addr(&self) -> SocketAddr {
        addr(self.port)
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most `STEP`) for a child to exit.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "copilot-chaos did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Connects with a read timeout set.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr(port), STEP).expect("connect");
    stream.set_read_timeout(Some(STEP)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// What one read saw.
#[derive(Debug, PartialEq)]
pub enum Got {
    Data(Vec<u8>),
    /// A clean end of stream (FIN).
    Eof,
    /// Nothing within the wait; the connection is still open.
    Nothing,
    /// Any other error (a reset, typically).
    Error(ErrorKind),
}

/// One read, waiting at most `wait`.
pub fn read_once(stream: &mut TcpStream, wait: Duration) -> Got {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let got = match stream.read(&mut buf) {
        Ok(0) => Got::Eof,
        Ok(n) => Got::Data(buf[..n].to_vec()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Got::Nothing,
        Err(e) => Got::Error(e.kind()),
    };
    stream.set_read_timeout(Some(STEP)).unwrap();
    got
}

/// Reads exactly `n` bytes (within `STEP`).
pub fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("read_exact");
    buf
}

/// Reads everything until the other end closes; panics on a reset.
pub fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read to a clean end of stream");
    all
}
