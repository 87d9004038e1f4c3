//! Starts one Copilot CLI (TCP, loopback) and measures, in the same run, this SDK next to a
//! minimal raw client (blocking socket, TCP_NODELAY, one write per frame, no framework):
//! ping latency, 64-in-flight ping throughput, a full turn against the fake model, and
//! create+destroy with and without TCP_QUICKACK re-arming. Prints ratios (ours / raw).
//!
//! Not a test: numbers vary by machine; the ratios are what matter.

use copilot_core::framing::frame_bytes;
use copilot_core::{Client, ClientOptions, SessionConfig, Transport};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The raw floor: synchronous, hand-framed JSON-RPC on a plain socket.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
    next: u64,
}

impl Raw {
    fn connect(port: u16, quickack: bool) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut raw = Raw { w: s.try_clone().unwrap(), r: BufReader::with_capacity(1 << 16, s), next: 0 };
        raw.set_quickack(quickack);
        raw.call("connect", json!({"token": TOKEN}), quickack);
        raw
    }
    fn set_quickack(&self, on: bool) {
        if !on {
            return;
        }
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        unsafe {
            libc::setsockopt(
                self.w.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &one as *const _ as *const libc::c_void,
                4,
            );
        }
    }
    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let body = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}).to_string();
        self.w.write_all(&frame_bytes(body.as_bytes())).unwrap();
        self.next
    }
    fn read(&mut self, quickack: bool) -> Value {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("Content-Length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).unwrap();
        self.set_quickack(quickack);
        serde_json::from_slice(&body).unwrap()
    }
    fn call(&mut self, method: &str, params: Value, quickack: bool) -> Value {
        let id = self.send(method, params);
        loop {
            let m = self.read(quickack);
            if m.get("method").is_none() && m["id"] == id {
                return m["result"].clone();
            }
        }
    }
    /// session.send, then read until session.idle.
    fn turn(&mut self, sid: &str, prompt: &str) {
        self.send("session.send", json!({"sessionId": sid, "prompt": prompt}));
        loop {
            let m = self.read(true);
            if m["method"] == "session.event" && m["params"]["event"]["type"] == "session.idle" {
                return;
            }
        }
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(name: &str, ours: f64, raw: f64, unit: &str, higher_is_better: bool) {
    let ratio = if higher_is_better { raw / ours } else { ours / raw };
    println!("{name:<34} {ours:>12.3} {raw:>12.3}  {unit:<7} {ratio:>6.2}x");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Measure from a runtime task, as a backend's request handlers run (block_on's thread is
    // not a worker: every reply would cost it an extra thread wake-up).
    tokio::spawn(run()).await.expect("benchmark task failed");
}

async fn run() {
    let pings = arg("--pings", 2000);
    let inflight_total = arg("--inflight-total", 20000);
    let turns = arg("--turns", 20);
    let creates = arg("--creates", 20);

    let model = fake_model::FakeModel::start().await.unwrap();
    let home = std::env::temp_dir().join(format!("copilot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k != "HOME").collect();
    env.push(("HOME".into(), home.display().to_string()));
    let ours = Client::new(ClientOptions {
        transport: Transport::Tcp { port: 0 },
        connection_token: Some(TOKEN.into()),
        env: Some(env),
        cwd: Some(home.clone()),
        use_logged_in_user: Some(false),
        ..Default::default()
    });
    ours.start().await.expect("start the CLI");
    let port = ours.port().unwrap();
    println!(
        "Copilot CLI {} on 127.0.0.1:{port}; ours = copilot-core, raw = blocking socket client",
        ours.server_version().unwrap_or_default()
    );
    println!("{:<34} {:>12} {:>12}  {:<7} {:>7}", "metric", "ours", "raw", "unit", "ours/raw");

    // Warm up both.
    let mut raw = tokio::task::spawn_blocking(move || Raw::connect(port, true)).await.unwrap();
    for _ in 0..200 {
        ours.ping(None).await.unwrap();
    }
    let (r, _) = tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            raw.call("ping", json!({}), true);
        }
        (raw, ())
    })
    .await
    .unwrap();
    raw = r;

    // 1. Sequential ping latency, interleaved in blocks so drift hits both sides alike.
    let mut o = Vec::with_capacity(pings);
    let mut r = Vec::with_capacity(pings);
    let block = (pings / 10).max(1);
    for _ in 0..10 {
        for _ in 0..block {
            let t = Instant::now();
            ours.ping(None).await.unwrap();
            o.push(ms(t.elapsed()));
        }
        tokio::task::block_in_place(|| {
            for _ in 0..block {
                let t = Instant::now();
                raw.call("ping", json!({}), true);
                r.push(ms(t.elapsed()));
            }
        });
    }
    row("ping p50", pct(&mut o, 0.5), pct(&mut r, 0.5), "ms", false);
    row("ping p99", pct(&mut o, 0.99), pct(&mut r, 0.99), "ms", false);

    // 2. Throughput with 64 requests in flight.
    let t = Instant::now();
    let per = inflight_total / 64;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let c = ours.clone();
        set.spawn(async move {
            for _ in 0..per {
                c.ping(None).await.unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    let ours_rate = (per * 64) as f64 / t.elapsed().as_secs_f64();
    let (raw_rate, raw_back) = tokio::task::spawn_blocking(move || {
        // Keep 64 outstanding: send 64, then send one more for every reply.
        let t = Instant::now();
        let total = per * 64;
        let mut sent = 0;
        for _ in 0..64 {
            raw.send("ping", json!({}));
            sent += 1;
        }
        let mut got = 0;
        while got < total {
            let m = raw.read(true);
            if m.get("method").is_none() {
                got += 1;
                if sent < total {
                    raw.send("ping", json!({}));
                    sent += 1;
                }
            }
        }
        (total as f64 / t.elapsed().as_secs_f64(), raw)
    })
    .await
    .unwrap();
    raw = raw_back;
    row("64-in-flight pings/s", ours_rate, raw_rate, "req/s", true);

    // 3. A full turn (create once, then send + wait for session.idle).
    let provider = model.provider();
    let session = ours
        .create_session(SessionConfig {
            model: Some("gpt-4.1".into()),
            provider: Some(provider.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    session.send_and_wait("warm up").await.unwrap();
    let mut o = Vec::new();
    for _ in 0..turns {
        let t = Instant::now();
        session.send_and_wait("Say hello").await.unwrap();
        o.push(ms(t.elapsed()));
    }
    session.disconnect().await.unwrap();
    let p2 = provider.clone();
    let (mut r, raw_back) = tokio::task::spawn_blocking(move || {
        let res = raw.call("session.create", json!({"model": "gpt-4.1", "provider": p2}), true);
        let sid = res["sessionId"].as_str().unwrap().to_owned();
        raw.turn(&sid, "warm up");
        let mut v = Vec::new();
        for _ in 0..turns {
            let t = Instant::now();
            raw.turn(&sid, "Say hello");
            v.push(ms(t.elapsed()));
        }
        raw.call("session.destroy", json!({"sessionId": sid}), true);
        (v, raw)
    })
    .await
    .unwrap();
    raw = raw_back;
    row("turn p50 (send -> session.idle)", pct(&mut o, 0.5), pct(&mut r, 0.5), "ms", false);

    // 4. create + destroy: the CLI writes these replies in pieces with Nagle on.
    let mut results = Vec::new();
    for quickack in [true, false] {
        let c = Client::new(ClientOptions {
            connection_token: Some(TOKEN.into()),
            tcp_quickack: quickack,
            ..ClientOptions::url(port.to_string())
        });
        c.start().await.unwrap();
        let mut v = Vec::new();
        for _ in 0..creates {
            let t = Instant::now();
            let s = c
                .create_session(SessionConfig { provider: Some(provider.clone()), ..Default::default() })
                .await
                .unwrap();
            s.disconnect().await.unwrap();
            v.push(ms(t.elapsed()));
        }
        c.stop().await.unwrap();
        results.push(pct(&mut v, 0.5));
    }
    let p3 = provider.clone();
    let (mut r, _raw) = tokio::task::spawn_blocking(move || {
        let mut v = Vec::new();
        for _ in 0..creates {
            let t = Instant::now();
            let res = raw.call("session.create", json!({"provider": p3}), true);
            raw.call("session.destroy", json!({"sessionId": res["sessionId"]}), true);
            v.push(ms(t.elapsed()));
        }
        (v, raw)
    })
    .await
    .unwrap();
    let raw_create = pct(&mut r, 0.5);
    row("create+destroy p50 (quickack on)", results[0], raw_create, "ms", false);
    row("create+destroy p50 (quickack off)", results[1], raw_create, "ms", false);

    ours.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&home);
}
