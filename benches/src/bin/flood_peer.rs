//! A scripted Copilot CLI stand-in for the delivery benchmark (not a test, no CLI): it answers
//! the handshake and `session.create`, and answers each `session.send` by flooding N
//! `assistant.message_delta` events (data `{messageId, deltaContent: "<i> "}`), then one
//! `assistant.message` and `session.idle`, all pre-encoded and written in large chunks, so the
//! client's delivery path is what is measured.
//!
//!   flood_peer [--events N]     prints `flood-peer listening on PORT`, serves until stdin ends

use copilot_core::framing::frame_bytes;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

fn read_frame(r: &mut BufReader<TcpStream>) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn frame(v: &Value) -> Vec<u8> {
    frame_bytes(v.to_string().as_bytes())
}

fn event(sid: &str, i: usize, ty: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "session.event", "params": {"sessionId": sid, "event": {
        "id": format!("ev-{i}"), "timestamp": "2026-01-01T00:00:00.000Z", "parentId": null,
        "type": ty, "data": data, "ephemeral": ty == "assistant.message_delta"}}})
}

fn serve(stream: TcpStream, events: usize) {
    stream.set_nodelay(true).ok();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::with_capacity(1 << 16, stream);
    while let Some(msg) = read_frame(&mut r) {
        let Some(id) = msg.get("id").cloned() else { continue };
        let method = msg["method"].as_str().unwrap_or_default().to_owned();
        let params = &msg["params"];
        let result = match method.as_str() {
            "connect" => json!({"protocolVersion": 3, "version": "flood-peer"}),
            "ping" => json!({"message": "pong", "timestamp": 0, "protocolVersion": 3}),
            "session.create" | "session.resume" => json!({"sessionId": params["sessionId"], "workspacePath": null}),
            "session.send" => json!({"messageId": "m-1"}),
            _ => json!({}),
        };
        if w.write_all(&frame(&json!({"jsonrpc": "2.0", "id": id, "result": result}))).is_err() {
            return;
        }
        if method == "session.send" {
            let sid = params["sessionId"].as_str().unwrap_or_default().to_owned();
            let mut buf = Vec::with_capacity(1 << 20);
            let mut next = 0;
            buf.extend(frame(&event(
                &sid,
                next,
                "user.message",
                json!({"content": params["prompt"], "messageId": "m-1"}),
            )));
            for i in 0..events {
                next += 1;
                buf.extend(frame(&event(
                    &sid,
                    next,
                    "assistant.message_delta",
                    json!({"messageId": "a-1", "deltaContent": format!("{i} ")}),
                )));
                if buf.len() > 1 << 20 {
                    if w.write_all(&buf).is_err() {
                        return;
                    }
                    buf.clear();
                }
            }
            buf.extend(frame(&event(
                &sid,
                next + 1,
                "assistant.message",
                json!({"messageId": "a-1", "content": "done"}),
            )));
            buf.extend(frame(&event(&sid, next + 2, "session.idle", json!({}))));
            if w.write_all(&buf).is_err() {
                return;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("flood-peer listening on {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    // Serve until stdin ends (the bench script holds it open).
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    for s in listener.incoming().flatten() {
        std::thread::spawn(move || serve(s, events));
    }
}
