//! `copilot-chaos proxy` in front of an echo server: every mode, seen from
//! both the client and the server side.

mod common;

use common::{Chaos, Got, QUIET, STEP, connect, read_exactly, read_once, read_to_eof};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a connection ended, as the echo server saw it.
#[derive(Debug, PartialEq)]
enum End {
    Eof,
    Error(ErrorKind),
}

/// An echo server on 127.0.0.1 that reports how each connection ended.
struct Echo {
    port: u16,
    ends: mpsc::Receiver<End>,
}

impl Echo {
    fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, ends) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let end = loop {
                        match conn.read(&mut buf) {
                            Ok(0) => break End::Eof,
                            Ok(n) => {
                                if let Err(e) = conn.write_all(&buf[..n]) {
                                    break End::Error(e.kind());
                                }
                            }
                            Err(e) => break End::Error(e.kind()),
                        }
                    };
                    let _ = tx.send(end);
                });
            }
        });
        Echo { port, ends }
    }

    fn proxy(&self) -> Chaos {
        Chaos::spawn(&["proxy", "--target", &self.port.to_string()])
    }

    fn next_end(&self) -> End {
        self.ends.recv_timeout(STEP).expect("the echo server saw no end of connection")
    }
}

/// Writes `msg` and expects it back.
fn round_trip(stream: &mut TcpStream, msg: &[u8]) {
    stream.write_all(msg).unwrap();
    assert_eq!(read_exactly(stream, msg.len()), msg);
}

/// A port on which nothing listens, and that nothing can take while the
/// returned socket lives: the local port of a connected client socket.
fn dead_port() -> (u16, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let holder = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (holder.local_addr().unwrap().port(), holder)
}

#[test]
fn pass_forwards_both_ways_passes_fin_on_and_counts() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    assert_eq!(chaos.count(), 0);
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"hello");
    let mut b = connect(chaos.port);
    round_trip(&mut b, &vec![7u8; 200_000]);
    assert_eq!(chaos.count(), 2);

    // A half-close reaches the server, whose close comes back as a FIN.
    a.shutdown(Shutdown::Write).unwrap();
    assert_eq!(echo.next_end(), End::Eof);
    assert_eq!(read_to_eof(&mut a), b"");
    round_trip(&mut b, b"still here");
    assert!(chaos.close().success());
}

#[test]
fn drop_closes_current_connections_cleanly() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    let mut b = connect(chaos.port);
    round_trip(&mut a, b"a");
    round_trip(&mut b, b"b");
    chaos.ok("drop");
    assert_eq!(read_once(&mut a, STEP), Got::Eof);
    assert_eq!(read_once(&mut b, STEP), Got::Eof);
    assert_eq!(echo.next_end(), End::Eof);
    assert_eq!(echo.next_end(), End::Eof);

    // New connections still go through.
    let mut c = connect(chaos.port);
    round_trip(&mut c, b"after drop");
    assert_eq!(chaos.count(), 3);
}

#[test]
fn reset_closes_current_connections_with_rst() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"a");
    chaos.ok("reset");
    assert_eq!(read_once(&mut a, STEP), Got::Error(ErrorKind::ConnectionReset));
    assert_eq!(echo.next_end(), End::Error(ErrorKind::ConnectionReset));

    let mut b = connect(chaos.port);
    round_trip(&mut b, b"after reset");
}

#[test]
fn delay_holds_every_chunk_in_order_until_pass() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"warm");

    chaos.ok("delay 250");
    let start = Instant::now();
    for piece in [&b"one "[..], b"two ", b"three ", b"four ", b"five"] {
        a.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(read_exactly(&mut a, 23), b"one two three four five");
    let took = start.elapsed();
    // 250 ms each way, about 600 ms in all: the chunks wait side by side. One
    // after another, they would take 250 ms each way for each chunk: 1.5 s.
    assert!(took >= Duration::from_millis(500), "echo came back after {took:?}");
    assert!(took < Duration::from_millis(1200), "echo came back after {took:?}");

    chaos.ok("pass");
    let start = Instant::now();
    round_trip(&mut a, b"fast again");
    assert!(start.elapsed() < Duration::from_millis(250), "{:?}", start.elapsed());
}

#[test]
fn blackhole_swallows_bytes_both_ways_until_pass() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"before");

    chaos.ok("blackhole");
    a.write_all(b"lost").unwrap();
    assert_eq!(read_once(&mut a, QUIET), Got::Nothing);
    // New connections are accepted, and blackholed as well.
    let mut b = connect(chaos.port);
    chaos.wait_count(2);
    b.write_all(b"lost too").unwrap();
    assert_eq!(read_once(&mut b, QUIET), Got::Nothing);

    chaos.ok("pass");
    round_trip(&mut a, b"back");
    round_trip(&mut b, b"back too");
    // The swallowed bytes never reached the server, so nothing else comes.
    assert_eq!(read_once(&mut a, QUIET), Got::Nothing);
}

#[test]
fn bytes_read_during_a_blackhole_stay_lost_even_if_they_were_due_later() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"before");
    chaos.ok("delay 200");
    chaos.ok("blackhole");
    a.write_all(b"lost").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // Forwarding again before "lost" would have been due.
    chaos.ok("delay 200");
    round_trip(&mut a, b"kept");
    assert_eq!(read_once(&mut a, QUIET), Got::Nothing);
}

#[test]
fn refuse_closes_the_listener_until_pass_reopens_the_same_port() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"a");

    chaos.ok("refuse");
    let err = TcpStream::connect(chaos.addr()).expect_err("the listener is closed");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // Connections already open keep working.
    round_trip(&mut a, b"still open");
    chaos.ok("refuse");

    chaos.ok("pass");
    let mut b = connect(chaos.port);
    round_trip(&mut b, b"b");
    assert_eq!(chaos.count(), 2);
}

#[test]
fn unreachable_target_resets_the_client() {
    let (dead, _holder) = dead_port();
    assert_eq!(TcpStream::connect(common::addr(dead)).unwrap_err().kind(), ErrorKind::ConnectionRefused);
    let mut chaos = Chaos::spawn(&["proxy", "--listen", "0", "--target", &dead.to_string()]);
    // The reset may come so fast that the connect itself reports it.
    match TcpStream::connect(chaos.addr()) {
        Ok(mut a) => assert_eq!(read_once(&mut a, STEP), Got::Error(ErrorKind::ConnectionReset)),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    assert_eq!(chaos.count(), 1);
}

#[test]
fn bad_commands_get_errors_and_stdin_eof_ends_the_process() {
    let echo = Echo::start();
    let mut chaos = echo.proxy();
    for bad in ["bogus", "delay", "delay soon", "pass now", ""] {
        let answer = chaos.cmd(bad);
        assert!(answer.starts_with("error "), "{bad:?} got {answer:?}");
    }
    chaos.ok("delay 0");
    assert_eq!(chaos.cmd("  count  "), "ok count 0");
    let mut a = connect(chaos.port);
    round_trip(&mut a, b"x");
    assert!(chaos.close().success());
    // The process is gone, and its connections with it.
    assert_eq!(read_once(&mut a, STEP), Got::Eof);
}

#[test]
fn bad_arguments_exit_with_usage() {
    for args in [&["proxy"][..], &["proxy", "--target", "x"], &["proxy", "--target", "1", "--mode", "silent"], &[]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_copilot-chaos")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    }
    // A proxy to itself would loop.
    let args = ["proxy", "--listen", "4321", "--target", "4321"];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_copilot-chaos")).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("itself"));
}
