//! `copilot-chaos peer`: the handshake, then every hostile mode, driven with
//! raw framed bytes.

mod common;

use common::{Chaos, Got, QUIET, connect, read_exactly, read_once, read_to_eof};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;

fn peer(mode: &str, extra: &[&str]) -> Chaos {
    let mut args = vec!["peer", "--mode", mode];
    args.extend_from_slice(extra);
    Chaos::spawn(&args)
}

fn send(stream: &mut TcpStream, message: Value) {
    let body = message.to_string();
    write!(stream, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
}

fn request(stream: &mut TcpStream, id: u64, method: &str) {
    send(stream, json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}}));
}

/// Reads the header of one frame (strict: exactly `Content-Length: N\r\n\r\n`)
/// and returns N.
fn read_header(stream: &mut TcpStream) -> usize {
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).expect("read header");
        header.push(byte[0]);
    }
    let text = String::from_utf8(header).unwrap();
    let n = text.strip_prefix("Content-Length: ").and_then(|t| t.strip_suffix("\r\n\r\n"));
    n.unwrap_or_else(|| panic!("bad header {text:?}")).parse().unwrap()
}

fn read_message(stream: &mut TcpStream) -> Value {
    let n = read_header(stream);
    serde_json::from_slice(&read_exactly(stream, n)).expect("a JSON body")
}

/// `connect` and its exact greeting.
fn greet(stream: &mut TcpStream, id: u64) {
    request(stream, id, "connect");
    assert_eq!(
        read_message(stream),
        json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": 3, "version": "chaos"}})
    );
}

fn assert_pong(message: &Value, id: u64) {
    assert_eq!(message["id"], json!(id));
    assert_eq!(message["result"]["message"], "pong");
    assert_eq!(message["result"]["protocolVersion"], 3);
    assert!(message["result"]["timestamp"].is_string());
}

/// Nothing arrives, and the socket stays open.
fn assert_quiet(stream: &mut TcpStream) {
    assert_eq!(read_once(stream, QUIET), Got::Nothing);
}

#[test]
fn silent_answers_the_handshake_then_nothing_not_even_pings() {
    let mut chaos = peer("silent", &[]);
    let mut s = connect(chaos.port);
    // A ping before `connect` is part of the handshake.
    request(&mut s, 1, "ping");
    assert_pong(&read_message(&mut s), 1);
    greet(&mut s, 2);
    request(&mut s, 3, "session.create");
    assert_quiet(&mut s);
    request(&mut s, 4, "ping");
    assert_quiet(&mut s);
    // Notifications and replies are not requests.
    send(&mut s, json!({"jsonrpc": "2.0", "method": "note"}));
    send(&mut s, json!({"jsonrpc": "2.0", "id": 9, "result": {}}));
    assert_quiet(&mut s);
    assert_eq!(chaos.count(), 4);

    // Each connection has its own handshake; the count is for all of them.
    let mut t = connect(chaos.port);
    greet(&mut t, 1);
    request(&mut t, 2, "session.create");
    assert_quiet(&mut t);
    assert_eq!(chaos.count(), 6);
    assert!(chaos.close().success());
}

#[test]
fn answer_pings_keeps_the_heartbeat_alive_in_silent_mode() {
    let mut chaos = peer("silent", &["--answer-pings"]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    request(&mut s, 2, "session.create");
    request(&mut s, 3, "ping");
    assert_pong(&read_message(&mut s), 3);
    assert_quiet(&mut s);
    assert_eq!(chaos.count(), 3);
}

#[test]
fn unknown_id_answers_with_ids_nobody_asked_for() {
    let plain = peer("unknown-id", &[]);
    let mut s = connect(plain.port);
    greet(&mut s, 1);
    request(&mut s, 7, "session.create");
    assert_eq!(read_message(&mut s), json!({"jsonrpc": "2.0", "id": 1007, "result": {}}));
    request(&mut s, 8, "ping");
    assert_pong(&read_message(&mut s), 1008);
    send(&mut s, json!({"jsonrpc": "2.0", "id": "abc", "method": "x"}));
    assert_eq!(read_message(&mut s)["id"], json!("chaos-\"abc\""));

    let with_pings = peer("unknown-id", &["--answer-pings"]);
    let mut t = connect(with_pings.port);
    greet(&mut t, 1);
    request(&mut t, 2, "ping");
    assert_pong(&read_message(&mut t), 2);
    request(&mut t, 3, "session.list");
    assert_eq!(read_message(&mut t)["id"], 1003);
}

#[test]
fn bad_header_sends_a_colonless_header_then_nothing() {
    let chaos = peer("bad-header", &[]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    request(&mut s, 2, "session.create");
    assert_eq!(read_exactly(&mut s, 19), b"Content-Length 12\n\n");
    assert_quiet(&mut s);
    request(&mut s, 3, "ping");
    assert_quiet(&mut s);
}

#[test]
fn bad_header_poisons_the_connection_even_with_answer_pings() {
    let mut chaos = peer("bad-header", &["--answer-pings"]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    request(&mut s, 2, "ping");
    assert_pong(&read_message(&mut s), 2);
    request(&mut s, 3, "session.create");
    assert_eq!(read_exactly(&mut s, 19), b"Content-Length 12\n\n");
    request(&mut s, 4, "ping");
    assert_quiet(&mut s);
    assert_eq!(chaos.count(), 4);
}

#[test]
fn garbage_json_sends_well_framed_bodies_that_are_not_json() {
    let chaos = peer("garbage-json", &[]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    for id in 2..4 {
        request(&mut s, id, "session.create");
        let n = read_header(&mut s);
        let body = read_exactly(&mut s, n);
        assert!(serde_json::from_slice::<Value>(&body).is_err(), "{:?}", String::from_utf8_lossy(&body));
    }
    assert_quiet(&mut s);
}

#[test]
fn huge_announces_four_gib_then_nothing() {
    let chaos = peer("huge", &[]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    request(&mut s, 2, "session.create");
    assert_eq!(read_header(&mut s), 4_294_967_296);
    assert_quiet(&mut s);
}

#[test]
fn close_mid_reply_cuts_the_body_then_closes_cleanly() {
    let chaos = peer("close-mid-reply", &[]);
    let mut s = connect(chaos.port);
    greet(&mut s, 1);
    request(&mut s, 2, "session.create");
    let n = read_header(&mut s);
    let part = read_to_eof(&mut s);
    assert!(!part.is_empty() && part.len() < n, "{} of {n} body bytes", part.len());
    let whole = json!({"jsonrpc": "2.0", "id": 2, "result": {}}).to_string();
    assert_eq!(n, whole.len());
    assert!(whole.as_bytes().starts_with(&part));

    // Other connections are served as usual.
    let mut t = connect(chaos.port);
    greet(&mut t, 1);
}

#[test]
fn peer_commands_and_arguments() {
    let mut chaos = peer("silent", &["--listen", "0"]);
    assert_eq!(chaos.count(), 0);
    assert!(chaos.cmd("drop").starts_with("error "));
    assert!(chaos.cmd("").starts_with("error "));
    assert!(chaos.close().success());

    for args in [&["peer"][..], &["peer", "--mode", "rude"], &["peer", "--mode", "huge", "--target", "1"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_copilot-chaos")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
