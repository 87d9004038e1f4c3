//! What both subcommands share: the loopback listener, the stdout lines, the
//! stdin command channel and the two ways of closing a socket.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Stdin};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// How long a clean close waits for the other end to close its side too.
const DRAIN: Duration = Duration::from_secs(2);

/// Binds a listener on 127.0.0.1:`port` (0 = any free port) with
/// SO_REUSEADDR, so the proxy can close its port and bind it again while
/// connections accepted from the old listener are still open.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}

/// Prints one line on stdout and flushes it. Stdout is the only channel to
/// the test that drives us: when it is gone, that test is gone, so we exit.
pub fn say(line: &str) {
    let mut out = io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Answers one command: `ok <what>` or `error <why>`.
pub fn answer(result: Result<String, String>) {
    match result {
        Ok(what) => say(&format!("ok {what}")),
        Err(why) => say(&format!("error {why}")),
    }
}

/// The commands that the test writes on our stdin, one per line.
pub struct Commands {
    stdin: BufReader<Stdin>,
}

impl Commands {
    pub fn new() -> Self {
        Self { stdin: BufReader::new(tokio::io::stdin()) }
    }

    /// The next command, split into words (empty for a blank line), or
    /// `None` once stdin is closed (or unreadable).
    pub async fn next(&mut self) -> Option<Vec<String>> {
        let mut line = Vec::new();
        match self.stdin.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(String::from_utf8_lossy(&line).split_whitespace().map(str::to_owned).collect()),
        }
    }
}

/// Closes a socket abortively: SO_LINGER 0 makes the close send an RST
/// instead of a FIN, so the other end reads ECONNRESET.
pub fn reset(stream: TcpStream) {
    // If the option cannot be set, the socket still closes (with a FIN).
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Second half of a clean close, after `shutdown()` already sent our FIN:
/// read and discard whatever the other end still sends until it closes too
/// (or `DRAIN` passes). Closing a socket that holds unread bytes makes the
/// kernel send an RST, which would turn the clean close into a reset.
pub async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(DRAIN, async { while let Ok(1..) = stream.read(&mut sink).await {} }).await;
}
