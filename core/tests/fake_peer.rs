//! What the real CLI cannot do on demand: a scripted peer over an in-memory stream.

use copilot_core::framing::{FrameReader, frame_bytes};
use copilot_core::{Client, ClientOptions, ErrorKind, SessionConfig};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

struct Peer {
    r: FrameReader<ReadHalf<DuplexStream>>,
    w: WriteHalf<DuplexStream>,
}

impl Peer {
    async fn recv(&mut self) -> Value {
        let f = tokio::time::timeout(Duration::from_secs(5), self.r.next_frame()).await.unwrap().unwrap().unwrap();
        serde_json::from_slice(&f).unwrap()
    }
    async fn send(&mut self, v: Value) {
        self.w.write_all(&frame_bytes(v.to_string().as_bytes())).await.unwrap();
    }
    async fn reply(&mut self, req: &Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": result})).await;
    }
}

fn streams() -> (ReadHalf<DuplexStream>, WriteHalf<DuplexStream>, Peer) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    (ar, aw, Peer { r: FrameReader::new(br, 1 << 24), w: bw })
}

async fn connected(max: usize) -> (Client, Peer) {
    let (r, w, mut peer) = streams();
    let opts = ClientOptions { max_message_size: max, ..Default::default() };
    let client = tokio::spawn(Client::from_streams(r, w, opts));
    let hello = peer.recv().await;
    assert_eq!(hello["method"], "connect");
    assert_eq!(hello["params"], json!({}));
    peer.reply(&hello, json!({"ok": true, "protocolVersion": 3, "version": "9.9.9"})).await;
    (client.await.unwrap().unwrap(), peer)
}

#[tokio::test]
async fn refuses_an_unsupported_protocol_version_naming_both() {
    let (r, w, mut peer) = streams();
    let client = tokio::spawn(Client::from_streams(r, w, ClientOptions::default()));
    let hello = peer.recv().await;
    peer.reply(&hello, json!({"ok": true, "protocolVersion": 99, "version": "2.0.0"})).await;
    let e = client.await.unwrap().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::VersionMismatch);
    assert!(e.message().contains("99") && e.message().contains("3..=3"), "{e}");
}

#[tokio::test]
async fn falls_back_to_ping_when_connect_is_unknown() {
    let (r, w, mut peer) = streams();
    let client = tokio::spawn(Client::from_streams(r, w, ClientOptions::default()));
    let hello = peer.recv().await;
    peer.send(json!({"jsonrpc":"2.0","id":hello["id"],"error":{"code":-32601,"message":"Unhandled method connect"}}))
        .await;
    let ping = peer.recv().await;
    assert_eq!(ping["method"], "ping");
    peer.reply(&ping, json!({"message": "pong", "timestamp": "t", "protocolVersion": 3})).await;
    let client = client.await.unwrap().unwrap();
    assert_eq!(client.protocol_version(), Some(3));
    assert_eq!(client.server_version(), None);
}

#[tokio::test]
async fn socket_dropped_mid_reply_fails_pending_calls_fast() {
    let (client, mut peer) = connected(1 << 20).await;
    let c = client.clone();
    let call = tokio::spawn(async move { c.ping(None).await });
    let _req = peer.recv().await;
    peer.w.write_all(b"Content-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\",").await.unwrap();
    drop(peer);
    let e = tokio::time::timeout(Duration::from_secs(5), call).await.unwrap().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TransportClosed, "{e}");
    assert!(e.message().contains("frame body"), "{e}");
}

#[tokio::test]
async fn oversized_and_garbage_frames_are_typed_errors() {
    for (bytes, kind) in [
        (b"Content-Length: 5000\r\n\r\n".to_vec(), ErrorKind::MessageTooLarge),
        (b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), ErrorKind::FrameHeader),
        (b"Content-Length: 3\r\n\r\nabc".to_vec(), ErrorKind::InvalidJson),
    ] {
        let (client, mut peer) = connected(1000).await;
        let c = client.clone();
        let call = tokio::spawn(async move { c.get_status().await });
        let _req = peer.recv().await;
        peer.w.write_all(&bytes).await.unwrap();
        let e = tokio::time::timeout(Duration::from_secs(5), call).await.unwrap().unwrap().unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        // Later calls fail at once with the same cause, never hang.
        assert_eq!(client.ping(None).await.unwrap_err().kind(), kind);
    }
}

#[tokio::test]
async fn server_requests_without_a_handler_get_defaults_or_method_not_found() {
    let (client, mut peer) = connected(1 << 20).await;
    let c = client.clone();
    let create = tokio::spawn(async move {
        c.create_session(SessionConfig { session_id: Some("s1".into()), ..Default::default() }).await
    });
    let req = peer.recv().await;
    assert_eq!(req["method"], "session.create");
    assert_eq!(req["params"]["sessionId"], "s1");
    assert_eq!(req["params"]["requestPermission"], false);
    // Before the create reply, the session is already routable.
    peer.send(
        json!({"jsonrpc":"2.0","id":1,"method":"exitPlanMode.request","params":{"sessionId":"s1","summary":"x"}}),
    )
    .await;
    assert_eq!(peer.recv().await, json!({"jsonrpc":"2.0","id":1,"result":{"approved":true}}));
    peer.reply(&req, json!({"sessionId": "s1", "workspacePath": "/w"})).await;
    let session = create.await.unwrap().unwrap();
    assert_eq!(session.workspace_path().as_deref(), Some("/w"));
    let cases = [
        (json!({"sessionId":"s1","hookType":"preToolUse","input":{}}), "hooks.invoke", json!({"result":{"output":{}}})),
        (
            json!({"sessionId":"s1","sections":{"tone":{"content":"c"}}}),
            "systemMessage.transform",
            json!({"result":{"sections":{"tone":{"content":"c"}}}}),
        ),
        (json!({"sessionId":"s1"}), "autoModeSwitch.request", json!({"result":{"response":"no"}})),
    ];
    for (i, (params, method, want)) in cases.into_iter().enumerate() {
        let id = 10 + i;
        peer.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params})).await;
        let got = peer.recv().await;
        assert_eq!(got["id"], id);
        assert_eq!(got.get("result"), want.get("result"), "{method}: {got}");
    }
    for (method, params) in [
        ("userInput.request", json!({"sessionId":"s1","question":"q"})),
        ("providerToken.getToken", json!({"sessionId":"s1","providerName":"default"})),
        ("sessionFs.readFile", json!({"sessionId":"s1","path":"/x"})),
        ("hooks.invoke", json!({"sessionId":"unknown"})),
    ] {
        peer.send(json!({"jsonrpc":"2.0","id":"q","method":method,"params":params})).await;
        let got = peer.recv().await;
        assert!(got["error"]["code"].as_i64().unwrap() < 0, "{method}: {got}");
        assert!(got["error"]["message"].as_str().unwrap().len() > 5);
    }
    // Unknown notifications and unknown event types are harmless.
    peer.send(json!({"jsonrpc":"2.0","method":"host.event","params":{}})).await;
    let mut events = session.subscribe();
    peer.send(json!({"jsonrpc":"2.0","method":"session.event","params":{"sessionId":"s1","event":{"id":"e","timestamp":"t","type":"brand.new_type","data":{"k":1},"newField":true}}})).await;
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(ev.event_type, "brand.new_type");
    assert_eq!(ev.extra["newField"], true);
}

/// The hostile-peer cases, in memory: a peer that goes silent, one that answers with ids
/// nobody asked for, and one that sends a malformed header line and then nothing: each ends
/// in a typed error within the configured bound, and a client over given streams cannot
/// reconnect, so it says so (`connection.lost`, then `connection.gave_up`).
#[tokio::test]
async fn hostile_peers_end_in_typed_errors_within_their_bounds() {
    let (r, w, mut peer) = streams();
    let opts = ClientOptions {
        request_timeout: Some(Duration::from_millis(300)),
        heartbeat_interval: None,
        ..Default::default()
    };
    let client = tokio::spawn(Client::from_streams(r, w, opts));
    let hello = peer.recv().await;
    peer.reply(&hello, json!({"protocolVersion": 3})).await;
    let client = client.await.unwrap().unwrap();
    let mut life = client.subscribe_lifecycle_types(Some(vec!["connection.lost".into(), "connection.gave_up".into()]));
    // Silent: the default per-request timeout ends the call.
    let t = std::time::Instant::now();
    let e = client.list_sessions(None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    let _ = peer.recv().await;
    // A reply with an id nobody asked for: ignored (and counted), the call still times out.
    let c = client.clone();
    let call = tokio::spawn(async move { c.ping(None).await });
    let req = peer.recv().await;
    peer.send(json!({"jsonrpc": "2.0", "id": req["id"].as_u64().unwrap() + 1000, "result": {}})).await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // A header line without a colon and with a bare \n: a framing error at once, no waiting.
    let c = client.clone();
    let call = tokio::spawn(async move { c.call_with_timeout("session.list", json!({}), None).await });
    let _ = peer.recv().await;
    peer.w.write_all(b"Content-Length 12\n\n").await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(2), call).await.expect("the reader waited").unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FrameHeader, "{e}");
    let lost = tokio::time::timeout(Duration::from_secs(2), life.recv()).await.unwrap().unwrap();
    assert_eq!(lost.event_type, "connection.lost");
    let gave_up = tokio::time::timeout(Duration::from_secs(2), life.recv()).await.unwrap().unwrap();
    assert_eq!(gave_up.event_type, "connection.gave_up");
    assert_eq!(client.ping(None).await.unwrap_err().kind(), ErrorKind::FrameHeader);
    drop(peer);
}

/// The requests the real CLI sends only with a rate-limited Copilot API (auto-mode switch), an
/// OAuth-protected MCP server (MCP OAuth) or a reachable GitHub (token refresh after an
/// authentication error), driven by the scripted peer: the wire the handlers produce.
#[tokio::test]
async fn auto_mode_switch_mcp_oauth_and_token_refresh_answer_on_the_wire() {
    use std::sync::{Arc, Mutex};
    let (client, mut peer) = connected(1 << 20).await;
    let asked = Arc::new(Mutex::new(Vec::<Value>::new()));
    let (a1, a2) = (asked.clone(), asked.clone());
    let config = SessionConfig {
        session_id: Some("s2".into()),
        on_auto_mode_switch: Some(Arc::new(|_req: Value| async { Ok(json!("yes_always")) })),
        on_mcp_auth: Some(Arc::new(|req: Value| async move {
            assert_eq!(req["serverName"], "issues");
            Ok(json!({"accessToken": "mcp-token", "expiresIn": 600}))
        })),
        on_github_token: Some(Arc::new(move |req: Value| {
            a1.lock().unwrap().push(req.clone());
            async move { Ok(json!(format!("gho_{}", req["reason"].as_str().unwrap_or_default()))) }
        })),
        on_elicitation: Some(Arc::new(move |req: Value| {
            a2.lock().unwrap().push(req);
            async { Err(copilot_core::Error::new(ErrorKind::HandlerFailed, "the form broke")) }
        })),
        ..Default::default()
    };
    let c = client.clone();
    let create = tokio::spawn(async move { c.create_session(config).await });
    let req = peer.recv().await;
    assert_eq!(req["method"], "session.create");
    let p = &req["params"];
    assert_eq!((p["requestAutoModeSwitch"].clone(), p["requestElicitation"].clone()), (json!(true), json!(true)));
    let registration = p["gitHubTokenProviderRegistrationId"].as_str().unwrap().to_owned();
    assert_eq!(p.get("gitHubToken"), None);
    // The CLI asks for the token during create.
    peer.send(json!({"jsonrpc":"2.0","id":"t1","method":"gitHubToken.getToken","params":{
        "sessionId":"s2","registrationId":registration,"host":"https://github.com","reason":"initial"}}))
        .await;
    let got = peer.recv().await;
    assert_eq!(got["result"], json!({"kind":"token","accessToken":"gho_initial","expiresIn":28800}));
    peer.reply(&req, json!({"sessionId": "s2"})).await;
    // With an MCP OAuth handler the client registers for its broadcast.
    let interest = peer.recv().await;
    assert_eq!(interest["method"], "session.eventLog.registerInterest");
    assert_eq!(interest["params"], json!({"sessionId":"s2","eventType":"mcp.oauth_required"}));
    peer.reply(&interest, json!({})).await;
    let _session = create.await.unwrap().unwrap();

    peer.send(json!({"jsonrpc":"2.0","id":"a1","method":"autoModeSwitch.request","params":{
        "sessionId":"s2","errorCode":"user_weekly_rate_limited","retryAfterSeconds":60}}))
        .await;
    assert_eq!(peer.recv().await["result"], json!({"response":"yes_always"}));

    let event = |t: &str, data: Value| json!({"jsonrpc":"2.0","method":"session.event","params":{"sessionId":"s2","event":{"id":t,"timestamp":"t","type":t,"data":data}}});
    peer.send(event(
        "mcp.oauth_required",
        json!({"requestId":"m1","serverName":"issues","serverUrl":"https://mcp.example/","reason":"initial"}),
    ))
    .await;
    let answer = peer.recv().await;
    assert_eq!(answer["method"], "session.mcp.oauth.handlePendingRequest");
    assert_eq!(
        answer["params"],
        json!({"sessionId":"s2","requestId":"m1","result":{"kind":"token","accessToken":"mcp-token","expiresIn":600}})
    );
    peer.reply(&answer, json!({"success": true})).await;

    // A failing elicitation handler: the form is cancelled, not left pending.
    peer.send(event(
        "elicitation.requested",
        json!({"requestId":"e1","message":"Pick","requestedSchema":{"type":"object","properties":{}}}),
    ))
    .await;
    let answer = peer.recv().await;
    assert_eq!(answer["method"], "session.ui.handlePendingElicitation");
    assert_eq!(answer["params"]["result"], json!({"action":"cancel"}));
    peer.reply(&answer, json!({"success": true})).await;

    // An authentication error: the provider is asked again and the new token installed.
    peer.send(event("session.error", json!({"errorType":"authentication","message":"Bad credentials"}))).await;
    let install = peer.recv().await;
    assert_eq!(install["method"], "session.gitHubAuth.setCredentials");
    assert_eq!(
        install["params"],
        json!({"sessionId":"s2","credentials":{"type":"token","host":"https://github.com","token":"gho_refresh"}})
    );
    peer.reply(&install, json!({"success": true})).await;
    let asked = asked.lock().unwrap();
    let reasons: Vec<_> = asked.iter().filter_map(|r| r["reason"].as_str()).collect();
    assert_eq!(reasons, ["initial", "refresh"]);
    assert!(asked.iter().all(|r| r["sessionId"] == "s2"), "{asked:?}");
}
