//! A lossy path between the client and a real CLI (`tests/chaos` proxy: drop, reset, delay,
//! blackhole, refuse) and hostile peers over real sockets: typed errors, no hang, recovery.

mod common;

use common::{Chaos, ExternalCli, next_of};
use copilot_core::{Client, ClientOptions, ErrorKind, MessageOptions, ReconnectPolicy, SessionConfig};
use fake_model::FakeModel;
use serde_json::json;
use std::time::{Duration, Instant};

fn options(port: u16) -> ClientOptions {
    ClientOptions {
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(300),
            max_attempts: 200,
            call_wait: Duration::from_secs(20),
            ..Default::default()
        },
        heartbeat_interval: Some(Duration::from_millis(500)),
        heartbeat_timeout: Duration::from_secs(1),
        start_timeout: Duration::from_secs(2),
        ..ClientOptions::url(format!("127.0.0.1:{port}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_path_gives_typed_errors_and_recovers() {
    let model = FakeModel::start().await.unwrap();
    let cli = ExternalCli::start(0);
    let mut proxy = Chaos::start(&["proxy", "--target", &cli.port.to_string()]);
    let client = Client::new(options(proxy.port));
    let mut life = client.subscribe_lifecycle().unwrap();
    let session = client
        .create_session(SessionConfig {
            model: Some("gpt-4.1".into()),
            provider: Some(model.provider()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ask = |prompt: &'static str| {
        let s = session.clone();
        tokio::spawn(async move { s.send_and_wait(MessageOptions::new(prompt).timeout(Duration::from_secs(60))).await })
    };

    // reset and drop in the middle of a turn: the turn's outcome is unknown; the client is back.
    for fault in ["reset", "drop"] {
        // A fresh subscription each round: the previous round's turns started too.
        let mut events = session.subscribe_type("assistant.turn_start");
        let turn = ask("HANG");
        tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        let t = Instant::now();
        proxy.cmd(fault);
        let e = tokio::time::timeout(Duration::from_secs(5), turn).await.expect("hung").unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TurnOutcomeUnknown, "{fault}: {e}");
        println!("{fault}: the turn failed after {:?}", t.elapsed());
        next_of(&mut life, "connection.lost", Duration::from_secs(30)).await;
        next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
        session.abort().await.unwrap();
        let ev = session.send_and_wait("REPLY after").await.unwrap().unwrap();
        assert_eq!(ev.content(), Some("after"), "{fault}");
    }

    // delay: slower, still correct.
    proxy.cmd("delay 200");
    let t = Instant::now();
    client.ping(Some("slow")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(400), "{:?}", t.elapsed());
    proxy.cmd("pass");

    // blackhole: only the heartbeat can tell; a call without a deadline fails with `timeout`.
    proxy.cmd("blackhole");
    let t = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(10), client.call_with_timeout("session.list", json!({}), None))
        .await
        .expect("hung in the blackhole")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    println!("blackhole detected after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(4));
    // Attempts into the blackhole time out (handshake deadline); the path comes back.
    next_of(&mut life, "connection.reconnecting", Duration::from_secs(30)).await;
    proxy.cmd("pass");
    next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
    assert_eq!(client.ping(Some("x")).await.unwrap().message, "pong: x");

    // refuse (and cut the open connection): attempts are refused until the port opens again.
    proxy.cmd("refuse");
    proxy.cmd("reset");
    let lost = next_of(&mut life, "connection.lost", Duration::from_secs(30)).await;
    assert_eq!(lost.metadata.as_ref().unwrap()["code"], "transport_closed", "{lost:?}");
    let attempt = next_of(&mut life, "connection.reconnecting", Duration::from_secs(30)).await;
    println!("refused: {:?}", attempt.metadata);
    proxy.cmd("pass");
    next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
    assert_eq!(session.send_and_wait("REPLY last").await.unwrap().unwrap().content(), Some("last"));
    client.stop().await.unwrap();
}

/// Hostile peers over real sockets: each ends in its typed error within the configured bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_over_tcp() {
    for (mode, kind) in [
        ("silent", ErrorKind::Timeout),
        ("unknown-id", ErrorKind::Timeout),
        ("bad-header", ErrorKind::FrameHeader),
        ("garbage-json", ErrorKind::InvalidJson),
        ("huge", ErrorKind::MessageTooLarge),
        ("close-mid-reply", ErrorKind::TransportClosed),
    ] {
        let peer = Chaos::start(&["peer", "--mode", mode, "--answer-pings"]);
        let client = Client::new(ClientOptions {
            request_timeout: Some(Duration::from_secs(1)),
            reconnect: ReconnectPolicy::disabled(),
            ..ClientOptions::url(format!("127.0.0.1:{}", peer.port))
        });
        client.start().await.unwrap_or_else(|e| panic!("{mode}: handshake: {e}"));
        let t = Instant::now();
        let e = tokio::time::timeout(Duration::from_secs(5), client.list_sessions(None))
            .await
            .unwrap_or_else(|_| panic!("{mode}: hung"))
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{mode}: {e}");
        assert!(t.elapsed() < Duration::from_millis(1500), "{mode}: {:?}", t.elapsed());
        client.stop().await.unwrap();
    }
}
