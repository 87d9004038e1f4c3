//! Behaviours against the real Copilot CLI that are more than one session and a few turns.

mod common;

use common::{connect_shared, own_cli_options, wait_dead};
use copilot_core::{
    Client, ClientOptions, ErrorKind, MessageOptions, SessionConfig, SessionEvent, SessionListFilter, Tool,
    ToolInvocation, ToolResult, Transport, TypedEvent,
};
use fake_model::FakeModel;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn config(model: &FakeModel) -> SessionConfig {
    SessionConfig { model: Some("gpt-4.1".into()), provider: Some(model.provider()), ..Default::default() }
}

async fn wait_for(stream: &mut copilot_core::EventStream, pred: impl Fn(&SessionEvent) -> bool) -> Arc<SessionEvent> {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let ev = stream.recv().await.expect("stream ended");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("event did not arrive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_level_methods() {
    let _strict = common::strict();
    let client = connect_shared().await;
    assert_eq!(client.protocol_version(), Some(3));
    assert_eq!(client.server_version().as_deref(), Some(copilot_core::PINNED_CLI_VERSION));
    let pong = client.ping(Some("x")).await.unwrap();
    assert_eq!(pong.message, "pong: x");
    assert_eq!(pong.protocol_version, Some(3));
    let status = client.get_status().await.unwrap();
    assert_eq!(status.version, copilot_core::PINNED_CLI_VERSION);
    let auth = client.get_auth_status().await.unwrap();
    assert!(!auth.is_authenticated);
    // Offline and unauthenticated: a typed RPC error, not a hang.
    let e = client.list_models().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rpc, "{e}");
    // Foreground only exists in TUI+server mode.
    assert_eq!(client.get_foreground_session_id().await.unwrap(), None);
    assert!(client.set_foreground_session_id("nope").await.is_err());
    // The escape hatch reaches any method.
    let r = client.call("tools.list", json!({})).await.unwrap();
    assert!(r["tools"].as_array().is_some_and(|t| !t.is_empty()), "{r}");
    let e = client.call("no.such.method", json!({})).await.unwrap_err();
    assert_eq!(e.rpc_code(), Some(-32601));
    client.stop().await.unwrap();
    // Stopped: calls fail at once with a typed error.
    assert_eq!(client.ping(None).await.unwrap_err().kind(), ErrorKind::NotConnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_child_lifecycle_and_graceful_stop() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(own_cli_options(Transport::Stdio));
    client.start().await.unwrap();
    let pid = client.cli_pid().unwrap();
    let session = client.create_session(config(&model)).await.unwrap();
    let answer = session.send_and_wait("REPLY over stdio").await.unwrap().unwrap();
    assert_eq!(answer.content(), Some("over stdio"));
    client.stop().await.unwrap();
    assert!(wait_dead(pid, Duration::from_secs(10)).await, "the CLI outlived stop()");
    let e = session.send("again").await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::SessionNotFound | ErrorKind::NotConnected | ErrorKind::TransportClosed),
        "{e}"
    );
    client.stop().await.unwrap(); // idempotent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_client_kills_its_cli() {
    let _strict = common::strict();
    let client = Client::new(own_cli_options(Transport::Stdio));
    client.start().await.unwrap();
    let pid = client.cli_pid().unwrap();
    assert!(common::pid_alive(pid));
    drop(client);
    assert!(wait_dead(pid, Duration::from_secs(10)).await, "the CLI outlived its dropped client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_stop_kills_at_once() {
    let _strict = common::strict();
    let client = Client::new(own_cli_options(Transport::Tcp { port: 0 }));
    client.start().await.unwrap();
    assert!(client.port().is_some());
    let pid = client.cli_pid().unwrap();
    client.force_stop().await;
    assert!(wait_dead(pid, Duration::from_secs(5)).await);
    assert_eq!(client.ping(None).await.unwrap_err().kind(), ErrorKind::NotConnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_killed_mid_turn_without_reconnect() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = Client::new(ClientOptions {
        reconnect: copilot_core::ReconnectPolicy::disabled(),
        ..own_cli_options(Transport::Stdio)
    });
    client.start().await.unwrap();
    let pid = client.cli_pid().unwrap();
    let session = client.create_session(config(&model)).await.unwrap();
    let mut events = session.subscribe();
    let s2 = session.clone();
    let turn =
        tokio::spawn(
            async move { s2.send_and_wait(MessageOptions::new("HANG").timeout(Duration::from_secs(120))).await },
        );
    wait_for(&mut events, |e| e.event_type == "assistant.turn_start").await;
    // Kill the CLI while the turn is in flight.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let started = std::time::Instant::now();
    let e =
        tokio::time::timeout(Duration::from_secs(20), turn).await.expect("send_and_wait hung").unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TurnOutcomeUnknown, "{e}");
    assert!(e.message().contains(session.id()), "the error names the session: {e}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Reconnection is off: every later call fails at once with the cause, typed.
    assert_eq!(client.ping(None).await.unwrap_err().kind(), ErrorKind::TransportClosed);
    assert!(events.recv().await.is_none() || events.recv().await.is_none());
    client.stop().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_mid_stream() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let session = client.create_session(SessionConfig { streaming: Some(true), ..config(&model) }).await.unwrap();
    let mut events = session.subscribe();
    session.send("SLOW 40 250").await.unwrap();
    wait_for(&mut events, |e| e.event_type == "assistant.message_delta").await;
    session.abort().await.unwrap();
    let idle = wait_for(&mut events, |e| e.event_type == "session.idle").await;
    assert_eq!(idle.typed(), TypedEvent::SessionIdle { aborted: true });
    // The session is usable afterwards.
    let answer = session.send_and_wait("REPLY after abort").await.unwrap().unwrap();
    assert_eq!(answer.content(), Some("after abort"));
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_wait_timeout_and_abort_on_timeout() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let session = client.create_session(config(&model)).await.unwrap();
    let mut events = session.subscribe();
    let e = session
        .send_and_wait(MessageOptions::new("HANG").timeout(Duration::from_millis(1500)).abort_on_timeout(true))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("1500ms"), "{e}");
    let idle = wait_for(&mut events, |e| e.event_type == "session.idle").await;
    assert_eq!(idle.data["aborted"], true);
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_second_client() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let a = connect_shared().await;
    let b = connect_shared().await;
    let sa = a.create_session(config(&model)).await.unwrap();
    sa.send_and_wait("REPLY first from A").await.unwrap();
    // B joins the live session without any config (the guide's resumeSession(id)).
    let sb = b.resume_session(sa.id(), None).await.unwrap();
    assert_eq!(sb.id(), sa.id());
    let history = sb.get_messages().await.unwrap();
    assert!(history.iter().any(|e| e.event_type == "user.message" && e.data["content"] == "REPLY first from A"));
    // Both connections see a turn that B starts.
    let mut on_a = sa.subscribe();
    let answer = sb.send_and_wait("REPLY second from B").await.unwrap().unwrap();
    assert_eq!(answer.content(), Some("second from B"));
    let seen_by_a = wait_for(&mut on_a, |e| e.event_type == "assistant.message").await;
    assert_eq!(seen_by_a.content(), Some("second from B"));
    // A detaching leaves the session usable from B.
    sa.disconnect().await.unwrap();
    assert_eq!(sb.send_and_wait("REPLY still here").await.unwrap().unwrap().content(), Some("still here"));
    sb.disconnect().await.unwrap();
    // Cold resume from disk, with the provider again.
    let sc = b.resume_session(sa.id(), Some(config(&model))).await.unwrap();
    assert_eq!(sc.send_and_wait("REPLY cold").await.unwrap().unwrap().content(), Some("cold"));
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_delete() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let mut lifecycle = client.subscribe_lifecycle_type("session.deleted").unwrap();
    let id = format!("list-delete-{}", std::process::id());
    let s = client.create_session(SessionConfig { session_id: Some(id.clone()), ..config(&model) }).await.unwrap();
    assert_eq!(s.id(), id);
    s.send_and_wait("Say hello").await.unwrap();
    s.disconnect().await.unwrap();
    let list = client.list_sessions(None).await.unwrap();
    let me = list.iter().find(|m| m.session_id == id).expect("session listed");
    assert!(!me.start_time.is_empty() && !me.modified_time.is_empty());
    assert_eq!(me.created_at, me.start_time);
    // One session's metadata (the official SDKs' getSessionMetadata), the same shape as the list's.
    let one = client.get_session_metadata(&id).await.unwrap().expect("metadata of a stored session");
    assert_eq!((one.session_id.as_str(), one.start_time.as_str()), (id.as_str(), me.start_time.as_str()));
    assert_eq!(one.created_at, one.start_time);
    assert_eq!(client.get_session_metadata("no-such-session").await.unwrap(), None);
    // The times as times: started within the last minute, modified after it started.
    let (started, modified) = (me.started_at().expect("start time"), me.modified_at().expect("modified time"));
    let age = std::time::SystemTime::now().duration_since(started).expect("started in the past");
    assert!(age < Duration::from_secs(120), "{age:?}");
    assert!(modified >= started);
    // Other tests share this CLI, so the most recent session is one of the listed ones.
    let last = client.get_last_session_id().await.unwrap().expect("a last session id");
    assert!(client.list_sessions(None).await.unwrap().iter().any(|m| m.session_id == last));
    let none = client
        .list_sessions(Some(SessionListFilter { cwd: Some("/nonexistent".into()), ..Default::default() }))
        .await
        .unwrap();
    assert!(none.is_empty());
    client.delete_session(&id).await.unwrap();
    let deleted = tokio::time::timeout(Duration::from_secs(10), lifecycle.recv()).await.unwrap().unwrap();
    assert_eq!(deleted.session_id, id);
    assert!(!client.list_sessions(None).await.unwrap().iter().any(|m| m.session_id == id));
    let e = client.delete_session(&id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SessionNotFound, "{e}");
    let e = client.resume_session(&id, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SessionNotFound, "{e}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_token() {
    let _strict = common::strict();
    let s = common::shared();
    let url = format!("http://127.0.0.1:{}", s.port);
    for token in [None, Some("wrong-token")] {
        let c = Client::new(ClientOptions {
            connection_token: token.map(str::to_owned),
            ..ClientOptions::url(url.clone())
        });
        let e = c.start().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Authentication, "{token:?}: {e}");
        assert!(matches!(e.rpc_code(), Some(-32002..=-32001)), "{e:?}");
    }
    let ok = Client::new(ClientOptions { connection_token: Some(s.token.clone()), ..ClientOptions::url(url) });
    ok.start().await.unwrap();
    ok.ping(None).await.unwrap();
    ok.stop().await.unwrap();
    // A stdio child ignores tokens: the handshake works without one.
    let c = Client::new(own_cli_options(Transport::Stdio));
    c.start().await.unwrap();
    c.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_wire_order_with_lifecycle_and_on_event() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let mut created = client.subscribe_lifecycle_type("session.created").unwrap();
    let early: Arc<Mutex<Vec<String>>> = Arc::default();
    let e2 = early.clone();
    let cfg = SessionConfig {
        streaming: Some(true),
        on_event: Some(Arc::new(move |e: &SessionEvent| e2.lock().unwrap().push(e.event_type.clone()))),
        ..config(&model)
    };
    let session = client.create_session(cfg).await.unwrap();
    let lc = tokio::time::timeout(Duration::from_secs(10), created.recv()).await.unwrap().unwrap();
    assert_eq!(lc.session_id, session.id());
    let mut all = session.subscribe();
    let mut deltas = session.subscribe_type("assistant.message_delta");
    let typed = Arc::new(Mutex::new(Vec::new()));
    let t2 = typed.clone();
    let sub = session
        .on_type("assistant.message", move |e| t2.lock().unwrap().push(e.content().unwrap_or_default().to_owned()));
    session.send_and_wait("REPLY a b c d").await.unwrap();
    // The subscriber saw wire order: its persisted events are exactly the server's stored
    // history, in the same order.
    let mut received = Vec::new();
    while let Some(ev) = all.try_recv() {
        received.push(ev);
    }
    let persisted: Vec<String> = received.iter().filter(|e| !e.ephemeral).map(|e| e.id.clone()).collect();
    let stored: Vec<String> = session.get_messages().await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(persisted.len() >= 4, "{persisted:?}");
    assert_eq!(stored[stored.len() - persisted.len()..], persisted[..]);
    let mut text = String::new();
    while let Some(d) = deltas.try_recv() {
        text.push_str(d.data["deltaContent"].as_str().unwrap());
    }
    assert_eq!(text, "a b c d");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*typed.lock().unwrap(), vec!["a b c d".to_string()]);
    sub.unsubscribe();
    // on_event was registered before session.create went out: it saw session.start.
    assert_eq!(early.lock().unwrap().first().map(String::as_str), Some("session.start"));
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions_on_one_client() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let client = client.clone();
        let cfg = config(&model);
        tasks.spawn(async move {
            let s = client.create_session(cfg).await.unwrap();
            let a = s.send_and_wait(format!("REPLY answer {i}")).await.unwrap().unwrap();
            assert_eq!(a.content().unwrap(), format!("answer {i}"));
            s.disconnect().await.unwrap();
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    // Concurrent send_and_wait on ONE session queue up and each gets its own answer.
    let s = client.create_session(config(&model)).await.unwrap();
    let (x, y) = tokio::join!(s.send_and_wait("REPLY x"), s.send_and_wait("REPLY y"));
    let mut got =
        vec![x.unwrap().unwrap().content().unwrap().to_owned(), y.unwrap().unwrap().content().unwrap().to_owned()];
    got.sort();
    assert_eq!(got, vec!["x", "y"]);
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_delays_only_itself() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let a = client.create_session(config(&model)).await.unwrap();
    let b = client.create_session(config(&model)).await.unwrap();
    // A subscriber on A that never reads, and a callback on A that is slow for every event.
    let mut stalled = a.subscribe();
    let slow_seen = Arc::new(Mutex::new(0usize));
    let s2 = slow_seen.clone();
    a.on(move |_| {
        std::thread::sleep(Duration::from_millis(20));
        *s2.lock().unwrap() += 1;
    });
    // B's turn completes while A's slow callback is still working through A's events: callbacks
    // run off the runtime's workers, so they hold up nothing but themselves.
    a.send("SLOW 20 10").await.unwrap();
    let rb = b.send_and_wait("REPLY from b").await;
    assert_eq!(rb.unwrap().unwrap().content(), Some("from b"));
    let ra = a.send_and_wait("REPLY from a").await;
    assert_eq!(ra.unwrap().unwrap().content(), Some("from a"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(*slow_seen.lock().unwrap() > 10, "the slow callback saw A's events");
    // The stalled subscriber still gets every event of A, in order, when it reads.
    let mut n = 0;
    while let Some(ev) = stalled.try_recv() {
        n += 1;
        if ev.event_type == "session.idle" {
            break;
        }
    }
    assert!(n > 5, "{n}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_wait_answers_its_own_prompt_not_earlier_work() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let s = client.create_session(config(&model)).await.unwrap();
    // A plain send still running (its idle comes later) must not satisfy the next wait.
    s.send("SLOW 3 150").await.unwrap();
    let mine = s.send_and_wait("REPLY mine").await.unwrap().unwrap();
    assert_eq!(mine.content(), Some("mine"));
    // After a failed turn, the next turn gets its own answer (not the failed turn's idle).
    assert_eq!(s.send_and_wait("ERROR 400").await.unwrap_err().kind(), ErrorKind::SessionError);
    assert_eq!(s.send_and_wait("REPLY next").await.unwrap().unwrap().content(), Some("next"));
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_token_on_an_external_server_is_each_sessions_identity() {
    let _strict = common::strict();
    // The guide's per-user pattern: a client per user token against a shared server. Offline
    // the CLI cannot validate the token, and its refusal proves the token reached it.
    let s = common::shared();
    let client = Client::new(ClientOptions {
        connection_token: Some(s.token.clone()),
        github_token: Some("gho_not_a_real_token".into()),
        use_logged_in_user: Some(false),
        ..ClientOptions::url(format!("127.0.0.1:{}", s.port))
    });
    let e =
        client.create_session(SessionConfig { model: Some("gpt-4.1".into()), ..Default::default() }).await.unwrap_err();
    assert!(e.message().contains("GitHub token"), "{e}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_subscription_before_an_implicit_start() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let s = common::shared();
    let client = Client::new(ClientOptions {
        connection_token: Some(s.token.clone()),
        ..ClientOptions::url(format!("127.0.0.1:{}", s.port))
    });
    let mut created = client.subscribe_lifecycle_type("session.created").unwrap();
    // No start(): create_session starts the client.
    let session = client.create_session(config(&model)).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ev = created.recv().await.expect("stream ended");
            if ev.session_id == session.id() {
                return ev;
            }
        }
    })
    .await
    .unwrap();
    assert!(ev.metadata.is_some());
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_fails_before_its_user_message_is_a_session_error() {
    let _strict = common::strict();
    // No provider and no GitHub auth: the CLI emits session.error then session.idle without
    // ever recording the user message. send_and_wait must report that, not time out.
    let client = connect_shared().await;
    let s = client.create_session(SessionConfig { model: Some("gpt-4.1".into()), ..Default::default() }).await.unwrap();
    let e = s.send_and_wait(MessageOptions::new("hello").timeout(Duration::from_secs(30))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SessionError, "{e}");
    assert!(e.message().contains("GitHub"), "{e}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_tool_handler_answers_with_a_failure() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let tool = Tool::new("explode", |_inv: ToolInvocation| async move {
        if true {
            panic!("tool blew up");
        }
        Ok(ToolResult::Text(String::new()))
    })
    .skip_permission(true)
    .parameters(json!({"type": "object", "properties": {}}));
    let session = client.create_session(SessionConfig { tools: vec![tool], ..config(&model) }).await.unwrap();
    let answer = session.send_and_wait("CALL explode {}").await.unwrap().unwrap();
    let text = answer.content().unwrap();
    assert!(text.contains("tool blew up"), "{text}");
    // The model saw a tool message with the failure.
    let last = model.chat_requests().last().unwrap().body.clone();
    let tool_msg = last["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "tool").unwrap().clone();
    assert!(tool_msg["content"].to_string().contains("tool blew up"), "{tool_msg}");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_model_and_session_rpc() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let session = client.create_session(config(&model)).await.unwrap();
    assert!(session.workspace_path().is_some());
    let mut changes = session.subscribe_type("session.model_change");
    session.set_model("gpt-5", None).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), changes.recv()).await.unwrap().unwrap();
    assert_eq!(ev.data["newModel"], "gpt-5");
    let current = session.call("session.model.getCurrent", Value::Null).await.unwrap();
    assert_eq!(current["modelId"], "gpt-5");
    let mode = session.call("session.mode.get", json!({})).await.unwrap();
    assert_eq!(mode, "interactive");
    assert_eq!(session.call("session.x", json!(1)).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_bearer_token_and_system_message_transform() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let calls = Arc::new(Mutex::new(0));
    let c2 = calls.clone();
    let cfg = SessionConfig {
        system_message: Some(json!({"mode": "customize", "sections": {"tone": {"action": "transform"}}})),
        on_system_message_transform: Some(Arc::new(|p: Value| async move {
            let mut sections = p["sections"].clone();
            for (_, s) in sections.as_object_mut().unwrap() {
                let c = s["content"].as_str().unwrap_or_default().to_owned();
                s["content"] = json!(format!("{c}\nTRANSFORMED-BY-TEST"));
            }
            Ok(json!({"sections": sections}))
        })),
        on_provider_token: Some(Arc::new(move |p: Value| {
            *c2.lock().unwrap() += 1;
            assert_eq!(p["providerName"], "default");
            async { Ok(json!("dynamic-token-123")) }
        })),
        ..config(&model)
    };
    let session = client.create_session(cfg).await.unwrap();
    session.send_and_wait("Say hello").await.unwrap();
    let req = model.chat_requests().last().unwrap().clone();
    assert_eq!(req.header("authorization"), Some("Bearer dynamic-token-123"));
    assert!(*calls.lock().unwrap() >= 1);
    let system = req.body["messages"][0]["content"].to_string();
    assert!(system.contains("TRANSFORMED-BY-TEST"), "system prompt not transformed");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_denies_a_tool_and_exit_plan_mode_reaches_its_handler() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let plans = Arc::new(Mutex::new(Vec::<Value>::new()));
    let p2 = plans.clone();
    let tool = Tool::new("get_weather", |_i: ToolInvocation| async { Ok(ToolResult::from("never")) })
        .skip_permission(true)
        .parameters(json!({"type": "object", "properties": {"city": {"type": "string"}}}));
    let cfg = SessionConfig {
        tools: vec![tool],
        on_permission_request: Some(copilot_core::approve_all()),
        on_hook: Some(Arc::new(|p: Value| async move {
            // Deny only the weather tool (the input names the tool calls).
            Ok(if p["hookType"] == "preToolUse" && p["input"].to_string().contains("get_weather") {
                json!({"permissionDecision": "deny", "permissionDecisionReason": "hooks say no"})
            } else {
                Value::Null
            })
        })),
        on_exit_plan_mode: Some(Arc::new(move |p: Value| {
            p2.lock().unwrap().push(p);
            async { Ok(json!({"approved": true, "selectedAction": "interactive"})) }
        })),
        ..config(&model)
    };
    let session = client.create_session(cfg).await.unwrap();
    let answer = session.send_and_wait(r#"CALL get_weather {"city":"Rome"}"#).await.unwrap().unwrap();
    assert!(answer.content().unwrap().contains("hooks say no"), "{:?}", answer.content());
    session.call("session.mode.set", json!({"mode": "plan"})).await.unwrap();
    session
        .send_and_wait(r#"CALL exit_plan_mode {"summary":"Do the thing","actions":["autopilot","interactive"],"recommendedAction":"interactive"}"#)
        .await
        .unwrap();
    let plans = plans.lock().unwrap().clone();
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0]["summary"], "Do the thing");
    client.stop().await.unwrap();
}

/// Writes an executable shell script into the sandbox and returns its path.
fn script(name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let (home, _) = common::sandbox();
    let p = home.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_flags_and_environment_reach_the_cli() {
    let _strict = common::strict();
    let (home, _) = common::sandbox();
    let dump = home.join("spawn-dump");
    std::fs::create_dir_all(&dump).unwrap();
    let wrapper = script(
        "cli-wrapper.sh",
        &format!(
            "echo \"$@\" > {d}/args.txt\nenv > {d}/env.txt\nexec {cli} \"$@\"",
            d = dump.display(),
            cli = common::cli_path().display()
        ),
    );
    let state = home.join("copilot-state");
    let client = Client::new(ClientOptions {
        cli_path: Some(wrapper),
        log_level: Some("debug".into()),
        github_token: Some("gho_not_a_real_token".into()),
        session_idle_timeout_secs: 600,
        copilot_home: Some(state.clone()),
        cli_args: vec!["--no-color".into()],
        ..own_cli_options(Transport::Stdio)
    });
    client.start().await.unwrap();
    client.ping(None).await.unwrap();
    let args = std::fs::read_to_string(dump.join("args.txt")).unwrap();
    let env = std::fs::read_to_string(dump.join("env.txt")).unwrap();
    assert!(args.starts_with("--no-color --headless --no-auto-update --log-level debug --stdio"), "{args}");
    assert!(args.contains("--auth-token-env COPILOT_SDK_AUTH_TOKEN"), "{args}");
    assert!(args.contains("--no-auto-login"), "{args}");
    assert!(args.contains("--session-idle-timeout 600"), "{args}");
    assert!(env.lines().any(|l| l == "COPILOT_SDK_AUTH_TOKEN=gho_not_a_real_token"));
    assert!(env.lines().any(|l| l == format!("COPILOT_HOME={}", state.display())));
    assert!(!env.lines().any(|l| l.starts_with("COPILOT_CONNECTION_TOKEN=")), "stdio gets no connection token");
    client.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_that_dies_at_start_reports_its_stderr() {
    let _strict = common::strict();
    let dying = script("dying-cli.sh", "echo 'fatal: license check exploded' >&2\nexit 3");
    for transport in [Transport::Stdio, Transport::Tcp { port: 0 }] {
        let client = Client::new(ClientOptions { cli_path: Some(dying.clone()), ..own_cli_options(transport.clone()) });
        let e = tokio::time::timeout(Duration::from_secs(20), client.start()).await.expect("start hung").unwrap_err();
        assert!(e.is_transport_failure() || e.kind() == ErrorKind::Connect, "{transport:?}: {e}");
        assert_eq!(e.stderr_tail(), Some("fatal: license check exploded"), "{transport:?}: {e:?}");
    }
    let missing = Client::new(ClientOptions { cli_path: Some("/nonexistent/copilot".into()), ..Default::default() });
    assert_eq!(missing.start().await.unwrap_err().kind(), ErrorKind::CliNotFound);
    let bad_url = Client::new(ClientOptions::url("localhost:notaport"));
    assert_eq!(bad_url.start().await.unwrap_err().kind(), ErrorKind::InvalidConfig);
    let login_on_url = Client::new(ClientOptions { use_logged_in_user: Some(true), ..ClientOptions::url("4321") });
    assert_eq!(login_on_url.start().await.unwrap_err().kind(), ErrorKind::InvalidConfig);
    // Nothing listens on port 1: a typed connect error, quickly.
    let refused = Client::new(ClientOptions::url("127.0.0.1:1"));
    assert_eq!(refused.start().await.unwrap_err().kind(), ErrorKind::Connect);
}

/// When the host process dies without any cleanup (SIGKILL), the kernel kills its CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_dies_with_a_killed_host_process() {
    let _strict = common::strict();
    if std::env::var_os("COPILOT_TEST_HOST_CHILD").is_some() {
        // Child mode: start a CLI, report its pid, then wait to be killed. TCP, so the CLI
        // has no stdin pipe that would tell it its parent is gone.
        let client = Client::new(own_cli_options(Transport::Tcp { port: 0 }));
        client.start().await.unwrap();
        println!("CLI_PID={}", client.cli_pid().unwrap());
        std::future::pending::<()>().await;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "cli_dies_with_a_killed_host_process", "--nocapture", "--test-threads", "1"])
        .env("COPILOT_TEST_HOST_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let pid: u32 = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("child ended early");
            // libtest prints "test <name> ... " without a newline first.
            if let Some((_, p)) = line.split_once("CLI_PID=") {
                return p.trim().parse().unwrap();
            }
        }
    })
    .await
    .unwrap();
    assert!(common::pid_alive(pid));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert!(wait_dead(pid, Duration::from_secs(10)).await, "the CLI outlived its killed host");
}

/// The one implicit-start rule (every language runs this as `ping_before_start`): a client that
/// was never started starts on its first call; a stopped client stays stopped until `start()`;
/// with `auto_start: false` a call before `start()` fails with `not_connected`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_before_start() {
    let _strict = common::strict();
    let s = common::shared();
    let url = || ClientOptions {
        connection_token: Some(s.token.clone()),
        ..ClientOptions::url(format!("127.0.0.1:{}", s.port))
    };
    let client = Client::new(url());
    let pong = client.ping(Some("implicit")).await.unwrap();
    assert_eq!(pong.message, "pong: implicit");
    assert!(client.protocol_version().is_some());
    client.stop().await.unwrap();
    let e = client.ping(None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected, "{e}");
    client.start().await.unwrap();
    client.ping(None).await.unwrap();
    client.stop().await.unwrap();
    let manual = Client::new(ClientOptions { auto_start: false, ..url() });
    assert_eq!(manual.list_sessions(None).await.unwrap_err().kind(), ErrorKind::NotConnected);
    manual.start().await.unwrap();
    manual.ping(None).await.unwrap();
    manual.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_connection_and_official_names() {
    let _strict = common::strict();
    let model = FakeModel::start().await.unwrap();
    let shared = common::shared();
    // The official SDKs' RuntimeConnection, in Rust and as JSON (what every binding passes).
    let rc = copilot_core::RuntimeConnection::Uri {
        url: format!("127.0.0.1:{}", shared.port),
        connection_token: Some(shared.token.clone()),
    };
    let client = Client::new(ClientOptions::for_connection(rc));
    let session = client.create_session(config(&model)).await.unwrap();
    session.send_and_wait("Say hello").await.unwrap();
    // getEvents is getMessages under today's name.
    let (events, messages) = (session.get_events().await.unwrap(), session.get_messages().await.unwrap());
    assert!(events.iter().any(|e| e.event_type == "assistant.message"));
    assert_eq!(events, messages);
    client.stop().await.unwrap();
    let json = serde_json::json!({"connection": {"kind": "uri", "url": format!("127.0.0.1:{}", shared.port)}, "connectionToken": "x"});
    assert_eq!(ClientOptions::from_json(&json).unwrap_err().kind(), ErrorKind::InvalidConfig);
    let json = serde_json::json!({"connection": {"kind": "uri", "url": format!("127.0.0.1:{}", shared.port), "connectionToken": "wrong"}});
    let wrong = Client::new(ClientOptions::from_json(&json).unwrap());
    assert!(wrong.start().await.is_err(), "a wrong connection token is refused");
}
