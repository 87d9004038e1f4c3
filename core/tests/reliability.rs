//! Surviving the CLI, against the real CLI: restarts on the same port (idle and mid-turn), a hung
//! CLI (SIGSTOP), a spawned CLI that dies (restart budget, orphans), cancellation reaching
//! handlers, the inactivity timeout of turns, single-flight start, and kill/restart cycles
//! that must not leak.

mod common;

use common::{ExternalCli, children_matching, next_of, own_cli_options, resources, wait_dead};
use copilot_core::{
    Client, ClientOptions, ErrorKind, EventStream, MessageOptions, ReconnectPolicy, SessionConfig, SessionEvent, Tool,
    ToolInvocation, ToolResult, Transport,
};
use fake_model::FakeModel;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tests of this file count the CLI processes of this test binary: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(model: &FakeModel) -> SessionConfig {
    SessionConfig { model: Some("gpt-4.1".into()), provider: Some(model.provider()), ..Default::default() }
}

/// Quick reconnection for tests: the server comes back within a few seconds.
fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(300),
        max_attempts: 200,
        call_wait: Duration::from_secs(20),
        ..Default::default()
    }
}

fn url_options(port: u16) -> ClientOptions {
    ClientOptions {
        reconnect: fast_reconnect(),
        start_timeout: Duration::from_secs(5),
        ..ClientOptions::url(format!("127.0.0.1:{port}"))
    }
}

async fn wait_event(stream: &mut EventStream, t: &str) -> Arc<SessionEvent> {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let ev = stream.recv().await.expect("session stream ended");
            if ev.event_type == t {
                return ev;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {t}"))
}

fn echo_tool() -> Tool {
    Tool::new(
        "echo_tool",
        |inv: ToolInvocation| async move { Ok(ToolResult::Text(format!("echoed {}", inv.arguments))) },
    )
    .parameters(json!({"type": "object", "properties": {"v": {"type": "string"}}}))
}

async fn answer(session: &copilot_core::Session, prompt: &str) -> String {
    let ev = session
        .send_and_wait(MessageOptions::new(prompt).timeout(Duration::from_secs(60)))
        .await
        .unwrap_or_else(|e| panic!("{prompt}: {e}"))
        .expect("an answer");
    ev.content().unwrap_or_default().to_owned()
}

/// The guide's deployment: the CLI runs as a service that restarts. Killed while idle and
/// killed mid-turn, then started again on the same port: the client reconnects, resumes the
/// session with its tool (approved without a permission handler), and its subscriptions fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_restarted_on_the_same_port_idle_and_mid_turn() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let mut cli = ExternalCli::start(0);
    let client = Client::new(url_options(cli.port));
    let mut life = client.subscribe_lifecycle_types(Some(
        ["connection.lost", "connection.reconnecting", "connection.restored", "connection.gave_up"]
            .map(String::from)
            .to_vec(),
    ));
    let session = client.create_session(SessionConfig { tools: vec![echo_tool()], ..config(&model) }).await.unwrap();
    let mut answers = session.subscribe_type("assistant.message");
    let mut all = session.subscribe();
    assert_eq!(answer(&session, "REPLY one").await, "one");
    assert_eq!(answers.recv().await.unwrap().content(), Some("one"));

    // Killed while idle, restarted on the same port.
    cli.kill();
    let lost = next_of(&mut life, "connection.lost", Duration::from_secs(5)).await;
    assert_eq!(lost.metadata.as_ref().unwrap()["code"], "transport_closed", "{lost:?}");
    next_of(&mut life, "connection.reconnecting", Duration::from_secs(5)).await;
    // A call made while reconnecting waits for the connection (call_wait).
    let c2 = client.clone();
    let waiting = tokio::spawn(async move { c2.ping(Some("during")).await });
    cli.restart();
    let restored = next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
    assert_eq!(restored.metadata.as_ref().unwrap()["sessionsResumed"], 1, "{restored:?}");
    assert_eq!(waiting.await.unwrap().unwrap().message, "pong: during");
    assert_eq!(answer(&session, "REPLY two").await, "two");
    assert_eq!(answers.recv().await.unwrap().content(), Some("two"), "the subscription survived");
    // The session's own tool runs without a permission handler.
    let text = answer(&session, "CALL echo_tool {\"v\":\"x\"}").await;
    assert!(text.contains("echoed"), "{text}");

    // Killed mid-turn: the waiting call fails at once with turn_outcome_unknown.
    let s2 = session.clone();
    let turn = tokio::spawn(async move {
        let r = s2.send_and_wait(MessageOptions::new("HANG").timeout(Duration::from_secs(120))).await;
        (r, Instant::now())
    });
    wait_event(&mut all, "assistant.turn_start").await;
    let killed = Instant::now();
    cli.kill();
    let (r, failed_at) =
        tokio::time::timeout(Duration::from_secs(10), turn).await.expect("send_and_wait hung").unwrap();
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TurnOutcomeUnknown, "{e}");
    assert!(e.message().contains(session.id()), "{e}");
    let took = failed_at.duration_since(killed);
    println!("mid-turn kill: send_and_wait failed {took:?} after the kill");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    cli.restart();
    next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
    assert_eq!(answer(&session, "REPLY three").await, "three");
    client.stop().await.unwrap();
}

/// A hung CLI (SIGSTOP: the socket stays open, nothing answers) is declared dead by the
/// heartbeat within its bound; the pending call fails with `timeout`; after SIGCONT the client
/// is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_cli_is_detected_by_the_heartbeat() {
    let _serial = SERIAL.lock().await;
    let cli = ExternalCli::start(0);
    let client = Client::new(ClientOptions {
        heartbeat_interval: Some(Duration::from_millis(500)),
        heartbeat_timeout: Duration::from_millis(1000),
        start_timeout: Duration::from_secs(2),
        ..url_options(cli.port)
    });
    client.start().await.unwrap();
    client.ping(None).await.unwrap();
    cli.stop();
    let started = Instant::now();
    // No per-call deadline: only the heartbeat can end this call.
    let e = tokio::time::timeout(Duration::from_secs(10), client.call_with_timeout("session.list", json!({}), None))
        .await
        .expect("the call hung")
        .unwrap_err();
    let took = started.elapsed();
    println!("SIGSTOP detected after {took:?}: {e}");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retriable());
    assert!(took < Duration::from_millis(500 + 1000 + 1500), "took {took:?}");
    cli.signal(libc::SIGCONT);
    let pong = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match client.ping(Some("back")).await {
                Ok(p) => return p,
                Err(e) => {
                    assert!(e.is_retriable(), "{e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .await
    .expect("the client did not recover");
    assert_eq!(pong.message, "pong: back");
    client.stop().await.unwrap();
}

/// A spawned CLI that dies is restarted and the session resumed; once the restart budget is
/// spent the client gives up with `reconnect_failed` and leaves no process behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_cli_is_restarted_within_its_budget() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(ClientOptions {
        reconnect: ReconnectPolicy { max_restarts: 2, ..fast_reconnect() },
        ..own_cli_options(Transport::Stdio)
    });
    let mut life = client.subscribe_lifecycle().unwrap();
    let session = client.create_session(config(&model)).await.unwrap();
    assert_eq!(answer(&session, "REPLY a").await, "a");
    let mut pids = vec![client.cli_pid().unwrap()];
    for round in 0..2 {
        unsafe { libc::kill(*pids.last().unwrap() as i32, libc::SIGKILL) };
        let restored = next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
        assert_eq!(restored.metadata.as_ref().unwrap()["restarted"], true);
        let pid = client.cli_pid().unwrap();
        assert!(!pids.contains(&pid), "round {round}: a new CLI");
        pids.push(pid);
        assert_eq!(answer(&session, &format!("REPLY r{round}")).await, format!("r{round}"));
    }
    unsafe { libc::kill(*pids.last().unwrap() as i32, libc::SIGKILL) };
    let gave_up = next_of(&mut life, "connection.gave_up", Duration::from_secs(30)).await;
    assert_eq!(gave_up.metadata.as_ref().unwrap()["code"], "reconnect_failed", "{gave_up:?}");
    let e = client.ping(None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReconnectFailed, "{e}");
    assert!(e.message().contains("restart budget"), "{e}");
    // The client's sessions ended with it, and say why.
    assert_eq!(session.send("x").await.unwrap_err().kind(), ErrorKind::ReconnectFailed);
    for pid in &pids {
        assert!(wait_dead(*pid, Duration::from_secs(5)).await, "CLI {pid} still runs");
    }
    assert!(children_matching("copilot").is_empty(), "orphans: {:?}", children_matching("copilot"));
    // start() tries again.
    client.start().await.unwrap();
    client.ping(None).await.unwrap();
    client.stop().await.unwrap();
}

/// `abort()` cancels a running tool handler: its token fires at once and the CLI gets the
/// failure answer (the turn ends). A timeout with abort does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_reaches_running_handlers() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(own_cli_options(Transport::Stdio));
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let (cancelled_tx, mut cancelled_rx) = tokio::sync::mpsc::unbounded_channel();
    let tool = Tool::new("wait_forever", move |inv: ToolInvocation| {
        // The core drops this future when it cancels; the token is for work outside it, like
        // this task.
        let (started_tx, cancelled_tx) = (started_tx.clone(), cancelled_tx.clone());
        tokio::spawn(async move {
            let _ = started_tx.send(());
            let _ = cancelled_tx.send(inv.cancel.cancelled().await);
        });
        std::future::pending::<copilot_core::Result<ToolResult>>()
    });
    let session = client.create_session(SessionConfig { tools: vec![tool], ..config(&model) }).await.unwrap();
    let mut events = session.subscribe();
    session.send("CALL wait_forever {}").await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), started_rx.recv()).await.unwrap().unwrap();
    let t = Instant::now();
    session.abort().await.unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(2), cancelled_rx.recv()).await.unwrap().unwrap();
    assert!(reason.contains("aborted"), "{reason}");
    println!("abort reached the handler in {:?}", t.elapsed());
    wait_event(&mut events, "session.idle").await;

    // A send_and_wait timeout with abort_on_timeout cancels the handler too.
    let e = session
        .send_and_wait(
            MessageOptions::new("CALL wait_forever {}").timeout(Duration::from_secs(3)).abort_on_timeout(true),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    let reason = tokio::time::timeout(Duration::from_secs(2), cancelled_rx.recv()).await.unwrap().unwrap();
    assert!(reason.contains("aborted"), "{reason}");
    session.disconnect().await.unwrap();

    // Through the host bridge (every binding): the host hears `Cancelled` for its request.
    let declared = copilot_core::tool_from_json(&json!({"name": "host_wait"})).unwrap();
    let mut cfg = SessionConfig { tools: vec![declared], ..config(&model) };
    let (port, mut host) = copilot_core::host::attach(&mut cfg, copilot_core::HostOptions::default()).unwrap();
    port.subscribe(Some(vec!["session.idle".into()]));
    let session = client.create_session(cfg).await.unwrap();
    session.send("CALL host_wait {}").await.unwrap();
    let mut held = None;
    let cancelled = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match host.recv().await.expect("host stream ended") {
                copilot_core::HostMessage::Request(req) => {
                    assert_eq!(req.name.as_deref(), Some("host_wait"));
                    held = Some(req); // not answered: the handler "runs"
                    session.abort().await.unwrap();
                }
                copilot_core::HostMessage::Cancelled { request, reason } => return (request, reason),
                _ => {}
            }
        }
    })
    .await
    .expect("no Cancelled on the host stream");
    let req = held.expect("the request came first");
    assert_eq!(cancelled.0, req.id);
    assert!(cancelled.1.contains("aborted"), "{}", cancelled.1);
    assert!(req.cancel.is_cancelled());
    req.responder.reply(json!("late")); // harmless
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();
}

/// The inactivity timeout: a silent turn fails after `idle_timeout`, a long streaming turn
/// whose events keep coming does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_timeout_restarts_on_every_event() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(own_cli_options(Transport::Stdio));
    let session = client.create_session(SessionConfig { streaming: Some(true), ..config(&model) }).await.unwrap();
    let idle = Duration::from_millis(1500);
    // 8 words, one every 400 ms: 3.2 s in all, never 1.5 s without an event.
    let ev = session
        .send_and_wait(MessageOptions::new("SLOW 8 400").timeout(Duration::from_secs(60)).idle_timeout(idle))
        .await
        .unwrap()
        .unwrap();
    assert!(ev.content().unwrap().contains("word7"), "{ev:?}");
    let t = Instant::now();
    let e = session
        .send_and_wait(
            MessageOptions::new("HANG").timeout(Duration::from_secs(60)).idle_timeout(idle).abort_on_timeout(true),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("idle timeout"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();
}

/// Concurrent starts (explicit and implicit) make one CLI and one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_is_single_flight() {
    let _serial = SERIAL.lock().await;
    let client = Client::new(own_cli_options(Transport::Tcp { port: 0 }));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = client.clone();
        tasks
            .push(tokio::spawn(async move { if i % 2 == 0 { c.start().await } else { c.ping(None).await.map(drop) } }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(children_matching("copilot").len(), 1, "{:?}", children_matching("copilot"));
    client.stop().await.unwrap();
}

/// Kill/restart cycles of a spawned CLI with a session open: descriptors, threads and memory
/// come back to their level. `COPILOT_SOAK_CYCLES` sets the count (default 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_restart_cycles_do_not_leak() {
    let _serial = SERIAL.lock().await;
    let cycles: usize = std::env::var("COPILOT_SOAK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(ClientOptions {
        reconnect: ReconnectPolicy { max_restarts: u32::MAX, ..fast_reconnect() },
        ..own_cli_options(Transport::Stdio)
    });
    let mut life = client.subscribe_lifecycle_type("connection.restored").unwrap();
    let session = client.create_session(config(&model)).await.unwrap();
    let mut answers = session.subscribe_type("assistant.message");
    assert_eq!(answer(&session, "REPLY warm").await, "warm");
    answers.recv().await.unwrap();
    let warm = resources();
    let t = Instant::now();
    let mut after_first = warm;
    for i in 0..cycles {
        unsafe { libc::kill(client.cli_pid().unwrap() as i32, libc::SIGKILL) };
        next_of(&mut life, "connection.restored", Duration::from_secs(30)).await;
        client.ping(None).await.unwrap();
        if i == 0 {
            after_first = resources();
        }
    }
    assert_eq!(answer(&session, "REPLY after").await, "after");
    assert_eq!(answers.recv().await.unwrap().content(), Some("after"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let end = resources();
    println!(
        "{cycles} kill/restart cycles in {:?}: fds {} -> {} (after 1: {}), threads {} -> {} (after 1: {}), RSS {} KiB -> {} KiB (after 1: {} KiB)",
        t.elapsed(),
        warm.0,
        end.0,
        after_first.0,
        warm.1,
        end.1,
        after_first.1,
        warm.2,
        end.2,
        after_first.2
    );
    assert!(end.0 <= after_first.0 + 2, "descriptors leak: {after_first:?} -> {end:?}");
    assert!(end.1 <= after_first.1 + 2, "threads leak: {after_first:?} -> {end:?}");
    assert!(end.2 < after_first.2 + 8 * 1024, "memory grows: {after_first:?} -> {end:?}");
    client.stop().await.unwrap();
    assert!(children_matching("copilot").is_empty());
}
