//! The Rust figure of the delivery benchmark: `flood_rust PORT N` connects to `flood_peer`,
//! opens a session with an `on` callback, sends one prompt and prints one JSON line with the
//! events delivered per second into the callback (and whether all N arrived, in order).

use copilot_core::{Client, ClientOptions, MessageOptions, SessionConfig};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().unwrap();
    let n: usize = args[2].parse().unwrap();
    let client = Client::new(ClientOptions::url(format!("127.0.0.1:{port}")));
    let session = client.create_session(SessionConfig::default()).await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let in_order = Arc::new(AtomicBool::new(true));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (c, o) = (count.clone(), in_order.clone());
    let _sub = session.on(move |ev| match ev.event_type.as_str() {
        "assistant.message_delta" => {
            let i = c.fetch_add(1, Ordering::Relaxed);
            let want = format!("{i} ");
            if ev.data["deltaContent"].as_str() != Some(want.as_str()) {
                o.store(false, Ordering::Relaxed);
            }
        }
        "session.idle" => {
            let _ = done_tx.send(());
        }
        _ => {}
    });
    let t0 = Instant::now();
    session.send_and_wait(MessageOptions::new("flood").timeout(Duration::from_secs(600))).await.unwrap();
    tokio::task::spawn_blocking(move || done_rx.recv().unwrap()).await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let got = count.load(Ordering::Relaxed);
    println!(
        "{{\"lang\":\"rust\",\"events\":{got},\"expected\":{n},\"in_order\":{},\"seconds\":{secs:.4},\"per_sec\":{:.0}}}",
        in_order.load(Ordering::Relaxed),
        got as f64 / secs
    );
    client.stop().await.unwrap();
}
