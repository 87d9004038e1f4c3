//! Several real CLI servers as one pool (sharing one state directory), a real redis-server for
//! leases: placement by rendezvous hashing, failover after SIGKILL, return of the preferred
//! server, drain, leases, the reaper and the metrics.

mod common;

use common::{ExternalCli, RedisServer};
use copilot_core::{
    CleanupOptions, Client, ClientOptions, ErrorKind, LeaseOptions, LeaseStore, Pool, PoolOptions, ReconnectPolicy,
    RedisLeaseStore, Session, SessionConfig,
};
use fake_model::FakeModel;
use serde_json::json;
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(model: &FakeModel, id: &str) -> SessionConfig {
    SessionConfig {
        session_id: Some(id.to_owned()),
        model: Some("gpt-4.1".into()),
        provider: Some(model.provider()),
        ..Default::default()
    }
}

fn pool_options(servers: &[&ExternalCli]) -> PoolOptions {
    let mut o = PoolOptions::new(servers.iter().map(|s| format!("127.0.0.1:{}", s.port)));
    o.health_interval = Duration::from_millis(200);
    o.client = ClientOptions {
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(300),
            max_attempts: 5,
            call_wait: Duration::from_secs(5),
            ..Default::default()
        },
        start_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    o
}

async fn ask(s: &Session, prompt: &str) -> String {
    let ev = s.send_and_wait(prompt).await.unwrap_or_else(|e| panic!("{prompt}: {e}")).expect("an answer");
    ev.content().unwrap_or_default().to_owned()
}

/// The user messages of the session's history (a retriable error — the call met a dying
/// connection — is retried, as a host would).
async fn user_messages(s: &Session) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(20);
    let events = loop {
        match s.get_messages().await {
            Ok(ev) => break ev,
            Err(e) if e.is_retriable() && Instant::now() < end => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("get_messages: {e}"),
        }
    };
    events
        .iter()
        .filter(|e| e.event_type == "user.message")
        .map(|e| e.data["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn healthy(pool: &Pool, url: &str) -> bool {
    pool.servers().as_array().unwrap().iter().any(|s| s["url"] == url && s["healthy"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_failover_return_drain_and_metrics() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let mut servers = [ExternalCli::start(0), ExternalCli::start(0), ExternalCli::start(0)];
    let pool = Pool::new(pool_options(&servers.iter().collect::<Vec<_>>())).unwrap();
    pool.start().await.unwrap();
    let urls = pool.urls();

    // Placement: each session is on the first server of its ranking; twelve fixed ids spread.
    let ids: Vec<String> = (0..12).map(|i| format!("pool-placement-{i}")).collect();
    let mut sessions = Vec::new();
    for id in &ids {
        let s = pool.create_session(config(&model, id)).await.unwrap();
        assert_eq!(s.server().as_deref(), Some(pool.ranking(id)[0].as_str()), "{id}");
        sessions.push(s);
    }
    let used: std::collections::HashSet<_> = sessions.iter().map(|s| s.server().unwrap()).collect();
    assert!(used.len() >= 2, "twelve sessions all landed on one server: {used:?}");
    for s in &sessions {
        assert_eq!(ask(s, &format!("REPLY one {}", s.id())).await, format!("one {}", s.id()));
    }

    // Failover: the server of session 0 is killed; its sessions continue on their next server.
    let victim_url = sessions[0].server().unwrap();
    let victim = urls.iter().position(|u| *u == victim_url).unwrap();
    let moved: Vec<&Session> = sessions.iter().filter(|s| s.server().as_deref() == Some(&victim_url)).collect();
    let killed_at = Instant::now();
    servers[victim].kill();
    until("the victim's sessions to move", Duration::from_secs(20), || {
        moved.iter().all(|s| s.server().is_some_and(|u| u != victim_url))
    })
    .await;
    let failover = killed_at.elapsed();
    for s in &moved {
        let expected = pool.ranking(s.id()).into_iter().find(|u| *u != victim_url).unwrap();
        assert_eq!(s.server().unwrap(), expected, "{} moved to the next server of its ranking", s.id());
        assert_eq!(ask(s, &format!("REPLY two {}", s.id())).await, format!("two {}", s.id()));
        assert_eq!(
            user_messages(s).await,
            vec![format!("REPLY one {}", s.id()), format!("REPLY two {}", s.id())],
            "the whole history followed the session"
        );
    }
    let m = pool.metrics();
    assert!(m["failovers"].as_u64().unwrap() >= moved.len() as u64, "{m}");
    assert_eq!(m["servers"][victim]["healthy"], false, "{m}");
    assert!(m["servers"][victim]["failoversOut"].as_u64().unwrap() >= moved.len() as u64, "{m}");
    eprintln!("failover of {} session(s) took {:?}", moved.len(), failover);

    // The server comes back (same port, same state directory): at their next prompt its
    // sessions return to it, detached from the interim server, with the whole history.
    let port = servers[victim].port;
    servers[victim] = ExternalCli::start(port);
    until("the victim to be healthy again", Duration::from_secs(30), || healthy(&pool, &victim_url)).await;
    for s in &moved {
        assert_eq!(ask(s, &format!("REPLY three {}", s.id())).await, format!("three {}", s.id()));
        assert_eq!(s.server().as_deref(), Some(victim_url.as_str()), "{} returned to its server", s.id());
        assert_eq!(user_messages(s).await.len(), 3, "{}", s.id());
    }

    // Drain: the next prompt of a session on the drained server runs elsewhere.
    let drained_url = sessions[1].server().unwrap();
    pool.drain(&drained_url).unwrap();
    let on_drained: Vec<&Session> = sessions.iter().filter(|s| s.server().as_deref() == Some(&drained_url)).collect();
    for s in &on_drained {
        assert!(!ask(s, "REPLY drained").await.is_empty());
        assert_ne!(s.server().as_deref(), Some(drained_url.as_str()));
    }
    let open_on_drained =
        pool.servers().as_array().unwrap().iter().find(|s| s["url"] == drained_url).unwrap()["openSessions"]
            .as_u64()
            .unwrap();
    assert_eq!(open_on_drained, 0, "{}", pool.servers());
    assert!(pool.server_for("a-new-session").is_some_and(|u| u != drained_url || urls.len() == 1));
    pool.undrain(&drained_url).unwrap();

    // Metrics: per server and for the pool, and as Prometheus text.
    let m = pool.metrics();
    let calls: u64 = m["servers"].as_array().unwrap().iter().map(|s| s["calls"].as_u64().unwrap()).sum();
    let turns: u64 = m["servers"].as_array().unwrap().iter().map(|s| s["turns"]["count"].as_u64().unwrap()).sum();
    assert!(calls > 40 && turns >= 12 + 2 * moved.len() as u64, "{m}");
    assert_eq!(m["openSessions"], 12, "{m}");
    let text = pool.metrics_prometheus();
    for needle in [
        format!("copilot_calls_total{{server=\"{}\"}}", urls[0]),
        "copilot_pool_failovers_total ".to_owned(),
        format!("copilot_server_healthy{{server=\"{victim_url}\"}} 1"),
        "# TYPE copilot_turn_seconds histogram".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle} missing from\n{text}");
    }
    for s in &sessions {
        s.disconnect().await.unwrap();
    }
    assert_eq!(pool.metrics()["openSessions"], 0);
    pool.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_on_a_server_without_the_state_is_not_found_clearly() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let a = ExternalCli::start(0);
    let pool = Pool::new(pool_options(&[&a])).unwrap();
    let e = pool.resume_session("no-such-session-anywhere", Some(config(&model, "x"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SessionNotFound, "{e}");
    assert!(e.message().contains("share their state directory"), "{e}");
    // Bad options are typed errors.
    let bad = PoolOptions::from_json(&json!({"urls": 5})).err().unwrap();
    assert_eq!(bad.kind(), ErrorKind::InvalidConfig);
    assert!(bad.message().contains("urls"), "{bad}");
    for v in [json!({"urls": []}), json!({"urls": ["a:1", "a:1"]})] {
        let o = PoolOptions::from_json(&v).unwrap();
        assert_eq!(Pool::new(o).err().unwrap().kind(), ErrorKind::InvalidConfig, "{v}");
    }
    let o = PoolOptions::from_json(&json!({"urls": "a:1", "reconnect": false})).unwrap();
    assert_eq!(Pool::new(o).err().unwrap().kind(), ErrorKind::InvalidConfig);
    let e = PoolOptions::from_json(&json!({"urls": "a:1", "cliUrl": "b:2"})).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    let e = PoolOptions::from_json(&json!({"urls": "a:1", "lease": {"redisUrl": "http://x"}})).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    // No server reachable: a typed, retriable error.
    let dead = Pool::new(PoolOptions::new([format!("127.0.0.1:{}", common::free_port())])).unwrap();
    let e = dead.create_session(config(&model, "y")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoServer, "{e}");
    assert!(e.is_retriable());
    pool.stop().await.unwrap();
    // A stopped pool stays stopped (a background reaper does not start it again) until start().
    assert_eq!(pool.list_sessions(None).await.unwrap_err().kind(), ErrorKind::NotConnected);
    pool.start().await.unwrap();
    pool.list_sessions(None).await.unwrap();
    pool.stop().await.unwrap();
}

/// A prompt sent at once after its server died races the background failover: one of them
/// moves the session, the other finds it moved, and the prompt is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_right_after_the_server_died_is_answered() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let mut servers = [ExternalCli::start(0), ExternalCli::start(0)];
    let pool = Pool::new(pool_options(&[&servers[0], &servers[1]])).unwrap();
    for round in 0..3 {
        let id = format!("prompt-after-death-{round}");
        let s = pool.create_session(config(&model, &id)).await.unwrap();
        assert_eq!(ask(&s, "REPLY first").await, "first");
        let i = pool.urls().iter().position(|u| Some(u) == s.server().as_ref()).unwrap();
        servers[i].kill();
        // The prompt may still go out on the dying connection before its end is read: then
        // the outcome is honestly unknown (the history tells), never another error.
        match s.send_and_wait("REPLY second").await {
            Ok(answer) => assert_eq!(answer.unwrap().content(), Some("second"), "round {round}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TurnOutcomeUnknown, "round {round}: {e}");
                assert_eq!(user_messages(&s).await, vec!["REPLY first"], "the dead server never got it");
                assert_eq!(ask(&s, "REPLY second").await, "second", "round {round}");
            }
        }
        assert_eq!(user_messages(&s).await, vec!["REPLY first", "REPLY second"]);
        s.disconnect().await.unwrap();
        let port = servers[i].port;
        servers[i] = ExternalCli::start(port);
        let url = pool.urls()[i].clone();
        until("the server to be back", Duration::from_secs(30), || healthy(&pool, &url)).await;
    }
    pool.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_keep_two_instances_apart() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let redis = RedisServer::start();
    let (a, b) = (ExternalCli::start(0), ExternalCli::start(0));
    let instance = |owner: &str, ttl_ms: u64| {
        let mut o = pool_options(&[&a, &b]);
        let mut l = LeaseOptions::redis(&redis.url()).unwrap();
        l.owner = owner.to_owned();
        l.ttl = Duration::from_millis(ttl_ms);
        l.wait = Duration::from_millis(800);
        o.lease = Some(l);
        Pool::new(o).unwrap()
    };
    let one = instance("instance-1", 3000);
    let two = instance("instance-2", 600);
    let s1 = one.create_session(config(&model, "leased-session")).await.unwrap();
    let first_token = s1.lease_token().unwrap();
    assert_eq!(ask(&s1, "REPLY mine").await, "mine");

    // The second instance waits, then gets a typed, retriable error naming the holder.
    let t = Instant::now();
    let e = two.resume_session("leased-session", Some(config(&model, "leased-session"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseHeld, "{e}");
    assert!(e.is_retriable() && e.message().contains("instance-1"), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(700), "{:?}", t.elapsed());
    // The lease outlives its ttl while held: renewal works.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(ask(&s1, "REPLY still mine").await, "still mine");

    // Released on disconnect: the second instance takes it, with a higher fencing token.
    s1.disconnect().await.unwrap();
    let s2 = {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match two.resume_session("leased-session", Some(config(&model, "leased-session"))).await {
                Ok(s) => break s,
                Err(e) if e.kind() == ErrorKind::LeaseHeld && Instant::now() < end => {}
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert!(s2.lease_token().unwrap() > first_token);
    assert_eq!(ask(&s2, "REPLY yours").await, "yours");
    assert_eq!(user_messages(&s2).await, vec!["REPLY mine", "REPLY still mine", "REPLY yours"]);

    // Taken behind its back (the key now names someone else): the next call fails lease_lost.
    redis.cmd(&["SET", "copilot:lease:leased-session", "intruder|999", "PX", "60000"]);
    let e = {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match s2.get_messages().await {
                Err(e) => break e,
                Ok(_) => {
                    assert!(Instant::now() < end, "the lost lease went unnoticed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    assert_eq!(e.kind(), ErrorKind::LeaseLost, "{e}");
    assert_eq!(s2.send_and_wait("REPLY no").await.unwrap_err().kind(), ErrorKind::LeaseLost);
    assert!(two.metrics()["leasesLost"].as_u64().unwrap() >= 1);
    // Disconnecting still works and leaves the intruder's key alone.
    s2.disconnect().await.unwrap();
    assert!(redis.cmd(&["GET", "copilot:lease:leased-session"]).contains("intruder|999"));
    assert!(one.metrics()["leasesAcquired"].as_u64().unwrap() >= 1);
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_deletes_old_sessions_but_not_open_ones() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let redis = RedisServer::start();
    let a = ExternalCli::start(0);
    let client = Client::new(ClientOptions::url(format!("127.0.0.1:{}", a.port)));
    // (A session is listed once it has a message.)
    let old = client.create_session(config(&model, "reap-old")).await.unwrap();
    ask(&old, "REPLY old").await;
    old.disconnect().await.unwrap();
    let open = client.create_session(config(&model, "reap-open")).await.unwrap();
    ask(&open, "REPLY open").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fresh = client.create_session(config(&model, "reap-fresh")).await.unwrap();
    ask(&fresh, "REPLY fresh").await;
    fresh.disconnect().await.unwrap();
    let idle = CleanupOptions { max_idle: Some(Duration::from_secs(1)), ..Default::default() };
    let deleted: Vec<String> =
        client.cleanup_sessions(idle.clone()).await.unwrap().into_iter().map(|m| m.session_id).collect();
    assert!(deleted.contains(&"reap-old".to_owned()), "{deleted:?}");
    assert!(!deleted.contains(&"reap-open".to_owned()) && !deleted.contains(&"reap-fresh".to_owned()), "{deleted:?}");
    let all = CleanupOptions { include_open: true, ..idle.clone() };
    let deleted: Vec<String> = client.cleanup_sessions(all).await.unwrap().into_iter().map(|m| m.session_id).collect();
    assert!(deleted.contains(&"reap-open".to_owned()), "{deleted:?}");
    assert_eq!(open.get_messages().await.unwrap_err().kind(), ErrorKind::SessionNotFound);
    assert_eq!(client.cleanup_sessions(CleanupOptions::default()).await.unwrap_err().kind(), ErrorKind::InvalidConfig);

    // The background reaper, announced on the lifecycle stream.
    let mut life = client.subscribe_lifecycle_type("reaper.swept").unwrap();
    let reaper = client
        .start_reaper(
            Duration::from_millis(200),
            CleanupOptions { max_age: Some(Duration::from_millis(1)), ..Default::default() },
        )
        .unwrap();
    let swept = tokio::time::timeout(Duration::from_secs(10), life.recv()).await.unwrap().unwrap();
    let ids = &swept.metadata.as_ref().unwrap()["deleted"];
    assert!(ids.as_array().unwrap().contains(&json!("reap-fresh")), "{swept:?}");
    reaper.stop();

    // Across a pool with leases: a session leased by another instance is skipped.
    let mut o = pool_options(&[&a]);
    o.lease = Some(LeaseOptions::redis(&redis.url()).unwrap());
    let pool = Pool::new(o).unwrap();
    let leased = pool.create_session(config(&model, "reap-leased")).await.unwrap();
    let gone = pool.create_session(config(&model, "reap-gone")).await.unwrap();
    ask(&gone, "REPLY gone").await;
    gone.disconnect().await.unwrap();
    ask(&leased, "REPLY leased").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A second instance of the same pool sweeps: "reap-leased" is open (and leased) elsewhere.
    let mut o2 = pool_options(&[&a]);
    o2.lease = Some(LeaseOptions::redis(&redis.url()).unwrap());
    let other = Pool::new(o2).unwrap();
    let deleted: Vec<String> = other.cleanup_sessions(idle).await.unwrap().into_iter().map(|m| m.session_id).collect();
    assert!(deleted.contains(&"reap-gone".to_owned()) && !deleted.contains(&"reap-leased".to_owned()), "{deleted:?}");
    assert_eq!(other.metrics()["reaped"], deleted.len() as u64);
    leased.disconnect().await.unwrap();
    pool.stop().await.unwrap();
    other.stop().await.unwrap();
    client.stop().await.unwrap();

    // A background reaper does not keep its pool alive: dropped, the pool is gone for it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pool = Pool::new(pool_options(&[&a])).unwrap();
    let on_sweep: copilot_core::reaper::SweepCallback = std::sync::Arc::new(move |r| {
        let _ = tx.send(r.err().map(|e| e.message().to_owned()));
    });
    let reaper = pool
        .start_reaper(
            Duration::from_millis(100),
            CleanupOptions { max_age: Some(Duration::from_secs(3600)), ..Default::default() },
            Some(on_sweep),
        )
        .unwrap();
    drop(pool);
    let dropped = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Some(e)) = rx.recv().await {
                break e;
            }
        }
    })
    .await
    .unwrap();
    assert!(dropped.contains("dropped"), "{dropped}");
    reaper.stop();
}

/// A server that stops answering (SIGSTOP: its socket stays open) is declared lost by the
/// heartbeat, and its sessions continue elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_failed_over_by_the_heartbeat() {
    let _serial = SERIAL.lock().await;
    let model = FakeModel::start().await.unwrap();
    let servers = [ExternalCli::start(0), ExternalCli::start(0)];
    let mut o = pool_options(&[&servers[0], &servers[1]]);
    o.client.heartbeat_interval = Some(Duration::from_millis(500));
    o.client.heartbeat_timeout = Duration::from_millis(700);
    let pool = Pool::new(o).unwrap();
    let s = pool.create_session(config(&model, "silent-server-session")).await.unwrap();
    assert_eq!(ask(&s, "REPLY before").await, "before");
    let first = s.server().unwrap();
    let i = pool.urls().iter().position(|u| *u == first).unwrap();
    servers[i].stop();
    until("the session to leave the silent server", Duration::from_secs(20), || s.server().is_some_and(|u| u != first))
        .await;
    assert_eq!(ask(&s, "REPLY after").await, "after");
    assert_eq!(user_messages(&s).await, vec!["REPLY before", "REPLY after"]);
    // Awake again, it is the session's preferred server: the session returns at its next
    // prompt, and that server must not answer from the copy it held when it froze.
    servers[i].signal(libc::SIGCONT);
    until("the frozen server to be healthy again", Duration::from_secs(30), || healthy(&pool, &first)).await;
    assert_eq!(ask(&s, "REPLY again").await, "again");
    assert_eq!(s.server().as_deref(), Some(first.as_str()));
    assert_eq!(user_messages(&s).await, vec!["REPLY before", "REPLY after", "REPLY again"]);
    s.disconnect().await.unwrap();
    pool.stop().await.unwrap();
}

/// A store call dropped half-way (its task aborted while Redis was slow) must not leave its
/// reply to be read as the next call's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_redis_call_leaves_no_stale_reply() {
    let redis = RedisServer::start();
    let store = RedisLeaseStore::new(&redis.url(), "cancel-test:").unwrap();
    assert_eq!(store.holder("s").await.unwrap(), None);
    redis.cmd(&["CLIENT", "PAUSE", "400", "ALL"]);
    let cut =
        tokio::time::timeout(Duration::from_millis(100), store.try_acquire("s", "me", Duration::from_secs(30))).await;
    assert!(cut.is_err(), "the call should still be waiting for Redis");
    // The next call reads its own reply (a GET, not the abandoned EVAL's number). Whether
    // Redis ran the abandoned command depends on when it saw the connection close.
    let holder = store.holder("s").await.unwrap();
    let next = match holder.as_deref() {
        None => 1,
        Some("me|1") => {
            assert_eq!(store.try_acquire("s", "other", Duration::from_secs(30)).await.unwrap(), None);
            store.release("s", "me", 1).await.unwrap();
            2
        }
        Some(other) => panic!("unexpected holder {other}"),
    };
    assert_eq!(store.try_acquire("s", "other", Duration::from_secs(30)).await.unwrap(), Some(next));
    assert_eq!(store.holder("s").await.unwrap(), Some(format!("other|{next}")));
}
