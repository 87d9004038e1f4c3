//! The official SDKs' features we added for issue 12, against the real CLI: UI elicitation,
//! host slash commands, the session filesystem, the GitHub token provider, trace context with
//! the CLI's OpenTelemetry file export, and the client's `mode: "empty"`. (The auto-mode switch
//! and MCP OAuth requests need a rate-limited Copilot API or an OAuth-protected MCP server, which
//! this offline machine cannot provide: `fake_peer.rs` drives them with a scripted peer.)

mod common;

use common::{connect_shared, own_cli_options, strict};
use copilot_core::config::CommandDef;
use copilot_core::session_fs::SessionFsConfig;
use copilot_core::telemetry::TelemetryConfig;
use copilot_core::{Client, ErrorKind, JsonHandler, SessionConfig, Tool, ToolInvocation, Transport};
use fake_model::FakeModel;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

fn handler<F, Fut>(f: F) -> Option<Arc<dyn JsonHandler>>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = copilot_core::Result<Value>> + Send + 'static,
{
    Some(Arc::new(f))
}

fn byok(model: &FakeModel) -> SessionConfig {
    SessionConfig { model: Some("gpt-4.1".into()), provider: Some(model.provider()), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elicitation_round_trip_through_the_ui_helpers() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let s2 = seen.clone();
    let config = SessionConfig {
        on_elicitation: handler(move |req: Value| {
            s2.lock().unwrap().push(req.clone());
            async move {
                let props = &req["requestedSchema"]["properties"];
                let msg = req["message"].as_str().unwrap_or_default().to_owned();
                Ok(if msg.contains("decline") {
                    json!("decline")
                } else if props.get("confirmed").is_some() {
                    json!({"action": "accept", "content": {"confirmed": true}})
                } else if let Some(options) = props["selection"]["enum"].as_array() {
                    json!({"action": "accept", "content": {"selection": options[1]}})
                } else if props.get("value").is_some() {
                    // The bare form: an object without `action` is accepted content.
                    json!({"value": format!("typed for {msg}")})
                } else {
                    json!({"action": "accept", "content": {"anything": 7}})
                })
            }
        }),
        ..byok(&model)
    };
    let session = client.create_session(config).await.unwrap();
    assert_eq!(session.info().pointer("/capabilities/ui/elicitation"), Some(&json!(true)));
    assert_eq!(session.ui("confirm", json!({"message": "Deploy?"})).await.unwrap(), json!(true));
    assert_eq!(session.ui("confirm", json!({"message": "please decline"})).await.unwrap(), json!(false));
    let pick = session.ui("select", json!({"message": "Env?", "options": ["dev", "prod"]})).await.unwrap();
    assert_eq!(pick, json!("prod"));
    let text = session.ui("input", json!({"message": "Name?", "options": {"maxLength": 40}})).await.unwrap();
    assert_eq!(text, json!("typed for Name?"));
    let schema = json!({"type": "object", "properties": {"anything": {"type": "number"}}});
    let raw = session.ui("elicitation", json!({"message": "Raw", "requestedSchema": schema})).await.unwrap();
    assert_eq!(raw, json!({"action": "accept", "content": {"anything": 7}}));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(seen[0]["sessionId"], session.id());
        assert_eq!(seen[0]["message"], "Deploy?");
        assert!(seen[0]["requestId"].is_string());
        assert_eq!(seen[3]["requestedSchema"]["properties"]["value"]["maxLength"], 40);
    }
    session.disconnect().await.unwrap();

    // Without an elicitation handler the session has no such capability: a typed error, and
    // nothing is sent.
    let plain = client.create_session(byok(&model)).await.unwrap();
    let e = plain.ui("confirm", json!({"message": "Deploy?"})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    // Bad helper input is typed too.
    let e = plain.ui("select", json!({"message": "Env?", "options": []})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    plain.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_slash_commands_run_their_handlers() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let s2 = seen.clone();
    let config = SessionConfig {
        commands: vec![
            CommandDef { name: "deploy".into(), description: Some("Deploy the service".into()) },
            CommandDef { name: "broken".into(), description: None },
        ],
        on_command: handler(move |req: Value| {
            s2.lock().unwrap().push(req.clone());
            async move {
                if req["commandName"] == "broken" {
                    return Err(copilot_core::Error::new(ErrorKind::HandlerFailed, "the deploy target is locked"));
                }
                Ok(Value::Null)
            }
        }),
        ..byok(&model)
    };
    let session = client.create_session(config).await.unwrap();
    let listed = session.call("session.commands.list", json!({})).await.unwrap();
    let deploy = listed["commands"].as_array().unwrap().iter().find(|c| c["name"] == "deploy").cloned();
    let deploy = deploy.unwrap_or_else(|| panic!("deploy is not listed: {listed}"));
    assert_eq!(deploy["kind"], "client");
    assert_eq!(deploy["description"], "Deploy the service");

    let ok = session.call("session.commands.execute", json!({"commandName": "deploy", "args": "prod now"})).await;
    assert_eq!(ok.unwrap().get("error"), None);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0]["sessionId"], session.id());
        assert_eq!(seen[0]["commandName"], "deploy");
        assert_eq!(seen[0]["args"], "prod now");
        assert_eq!(seen[0]["command"], "/deploy prod now");
    }
    // A failing handler: its message comes back as the command's error.
    let failed = session.call("session.commands.execute", json!({"commandName": "broken", "args": ""})).await;
    let text = match failed {
        Ok(v) => v.to_string(),
        Err(e) => e.to_string(),
    };
    assert!(text.contains("the deploy target is locked"), "{text}");
    session.disconnect().await.unwrap();
}

/// An in-memory session filesystem: files and directories by path.
#[derive(Default)]
struct MemFs {
    files: BTreeMap<String, String>,
    dirs: BTreeSet<String>,
    ops: BTreeMap<String, usize>,
}

fn parent_dirs(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = std::path::Path::new(path).parent();
    while let Some(d) = p {
        let s = d.display().to_string();
        if s.is_empty() {
            break;
        }
        out.push(s);
        p = d.parent();
    }
    out
}

impl MemFs {
    fn serve(&mut self, req: &Value) -> Value {
        let op = req["operation"].as_str().unwrap_or_default().to_owned();
        *self.ops.entry(op.clone()).or_default() += 1;
        let path = req["path"].as_str().unwrap_or_default().to_owned();
        let enoent = || json!({"error": {"code": "ENOENT", "message": format!("ENOENT: no such file {path}")}});
        match op.as_str() {
            "readFile" => self.files.get(&path).map(|c| json!(c)).unwrap_or_else(enoent),
            "writeFile" | "appendFile" => {
                let add = req["content"].as_str().unwrap_or_default();
                let f = self.files.entry(path.clone()).or_default();
                if op == "writeFile" {
                    f.clear();
                }
                f.push_str(add);
                self.dirs.extend(parent_dirs(&path));
                Value::Null
            }
            "exists" => json!(self.files.contains_key(&path) || self.dirs.contains(&path)),
            "stat" => {
                if let Some(c) = self.files.get(&path) {
                    json!({"isFile": true, "isDirectory": false, "size": c.len(), "mtime": 0, "birthtime": 0})
                } else if self.dirs.contains(&path) {
                    json!({"isFile": false, "isDirectory": true, "size": 0, "mtime": 0, "birthtime": 0})
                } else {
                    enoent()
                }
            }
            "mkdir" => {
                self.dirs.insert(path.clone());
                self.dirs.extend(parent_dirs(&path));
                Value::Null
            }
            "readdir" | "readdirWithTypes" => {
                if !self.dirs.contains(&path) {
                    return enoent();
                }
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let mut entries = BTreeMap::new();
                for f in self.files.keys().filter_map(|k| k.strip_prefix(&prefix)) {
                    let (name, is_dir) = match f.split_once('/') {
                        Some((d, _)) => (d, true),
                        None => (f, false),
                    };
                    entries.entry(name.to_owned()).or_insert(is_dir);
                }
                for d in self.dirs.iter().filter_map(|k| k.strip_prefix(&prefix)) {
                    entries.insert(d.split('/').next().unwrap().to_owned(), true);
                }
                if op == "readdir" {
                    json!(entries.keys().collect::<Vec<_>>())
                } else {
                    json!(
                        entries
                            .iter()
                            .map(|(n, d)| json!({"name": n, "type": if *d { "directory" } else { "file" }}))
                            .collect::<Vec<_>>()
                    )
                }
            }
            "rm" => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                self.files.retain(|k, _| k != &path && !k.starts_with(&prefix));
                self.dirs.retain(|k| k != &path && !k.starts_with(&prefix));
                Value::Null
            }
            "rename" => {
                let (src, dest) = (req["src"].as_str().unwrap_or_default(), req["dest"].as_str().unwrap_or_default());
                match self.files.remove(src) {
                    Some(c) => {
                        self.files.insert(dest.to_owned(), c);
                        Value::Null
                    }
                    None => json!({"error": {"code": "ENOENT", "message": format!("no such file {src}")}}),
                }
            }
            other => json!({"error": {"code": "UNKNOWN", "message": format!("unsupported {other}")}}),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_lives_in_the_hosts_filesystem() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    let mut o = own_cli_options(Transport::Stdio);
    o.session_fs = Some(SessionFsConfig {
        initial_cwd: "/workspace".into(),
        session_state_path: "/session-state".into(),
        conventions: "posix".into(),
        sqlite: false,
    });
    let client = Client::new(o);
    client.start().await.unwrap();

    // Every session of such a client needs its provider.
    let e = client.create_session(byok(&model)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");

    let fs = Arc::new(Mutex::new(MemFs::default()));
    let f2 = fs.clone();
    let config = SessionConfig {
        on_session_fs: handler(move |req: Value| {
            let r = f2.lock().unwrap().serve(&req);
            async move { Ok(r) }
        }),
        ..byok(&model)
    };
    let session = client.create_session(config).await.unwrap();
    let answer = session.send_and_wait("REPLY stored elsewhere").await.unwrap().unwrap();
    assert_eq!(answer.content(), Some("stored elsewhere"));
    let workspace = session.workspace_path().unwrap();
    assert!(workspace.starts_with("/session-state"), "{workspace}");
    session.disconnect().await.unwrap();

    client.stop().await.unwrap();
    let fs = fs.lock().unwrap();
    let (path, log) = fs
        .files
        .iter()
        .find(|(p, _)| p.starts_with(&workspace) && p.ends_with("events.jsonl"))
        .unwrap_or_else(|| panic!("no events.jsonl in {:?} (ops {:?})", fs.files.keys(), fs.ops));
    assert!(log.contains("stored elsewhere") && log.contains("assistant.message"), "{path}: {log}");
    assert!(fs.ops.get("writeFile").or(fs.ops.get("appendFile")).is_some(), "{:?}", fs.ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_token_provider_is_asked_for_the_sessions_token() {
    let _strict = strict();
    let client = connect_shared().await;
    let asked = Arc::new(Mutex::new(Vec::<Value>::new()));
    let a2 = asked.clone();
    let config = SessionConfig {
        model: Some("gpt-4.1".into()),
        on_github_token: handler(move |req: Value| {
            a2.lock().unwrap().push(req);
            async { Ok(json!({"accessToken": "gho_test_token", "expiresIn": 7200})) }
        }),
        ..Default::default()
    };
    let e = client.create_session(config).await.unwrap_err();
    // Offline, the CLI cannot check the token with GitHub: creation fails after asking.
    assert!(e.to_string().contains("GitHub token validation failed"), "{e}");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["reason"], "initial");
    assert_eq!(asked[0]["host"], "https://github.com");
    assert!(asked[0]["sessionId"].as_str().is_some_and(|s| !s.is_empty()), "{asked:?}");

    // A provider that cancels: creation is refused, without falling back to another login.
    let config = SessionConfig {
        model: Some("gpt-4.1".into()),
        on_github_token: handler(|_| async { Ok(Value::Null) }),
        ..Default::default()
    };
    let e = client.create_session(config).await.unwrap_err();
    assert!(e.to_string().contains("cancelled"), "{e}");

    // A static token beside a provider, or a BYOK provider with it: refused before the CLI.
    for config in [
        SessionConfig {
            github_token: Some("x".into()),
            on_github_token: handler(|_| async { Ok(json!("t")) }),
            ..Default::default()
        },
        SessionConfig {
            provider: Some(json!({"type": "openai", "baseUrl": "http://127.0.0.1:9/v1"})),
            on_github_token: handler(|_| async { Ok(json!("t")) }),
            ..Default::default()
        },
    ] {
        assert_eq!(client.create_session(config).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_reaches_the_cli_its_spans_and_the_tool() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    let dir = tempdir("otel");
    let file = dir.join("spans.jsonl");
    let mut o = own_cli_options(Transport::Stdio);
    o.telemetry = Some(TelemetryConfig {
        exporter_type: Some("file".into()),
        file_path: Some(file.display().to_string()),
        ..Default::default()
    });
    let host_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let provider_tp = format!("00-{host_trace}-00f067aa0ba902b7-01");
    o.trace_context =
        Some(copilot_core::telemetry::TraceContextProvider(Arc::new(move || copilot_core::telemetry::TraceContext {
            traceparent: Some(provider_tp.clone()),
            tracestate: Some("host=1".into()),
        })));
    let client = Client::new(o);
    let seen = Arc::new(Mutex::new(None::<(Option<String>, Option<String>)>));
    let s2 = seen.clone();
    let tool = Tool::new("trace_probe", move |inv: ToolInvocation| {
        *s2.lock().unwrap() = Some((inv.traceparent.clone(), inv.tracestate.clone()));
        async { Ok(copilot_core::ToolResult::Text("probed".into())) }
    })
    .description("records its trace context")
    .parameters(json!({"type": "object", "properties": {}}))
    .skip_permission(true);
    let session = client.create_session(SessionConfig { tools: vec![tool], ..byok(&model) }).await.unwrap();
    session.send_and_wait("CALL trace_probe {}").await.unwrap();
    let (tp, ts) = seen.lock().unwrap().clone().expect("the tool did not run");
    let tp = tp.expect("the tool call carried no traceparent");
    assert_eq!(&tp[3..35], host_trace, "{tp}");
    assert_eq!(ts.as_deref(), Some("host=1"));

    // A message's own trace context wins over the provider's.
    let own_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut msg = copilot_core::MessageOptions::new("CALL trace_probe {}");
    msg.traceparent = Some(format!("00-{own_trace}-b7ad6b7169203331-01"));
    session.send_and_wait(msg).await.unwrap();
    let (tp, _) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(&tp.unwrap()[3..35], own_trace);

    // A malformed traceparent is a typed error, nothing is sent.
    let mut bad = copilot_core::MessageOptions::new("hello");
    bad.traceparent = Some("00-xyz".into());
    assert_eq!(session.send(bad).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();

    // The CLI exported its spans under the host's traces.
    let spans = std::fs::read_to_string(&file).unwrap_or_default();
    for trace in [host_trace, own_trace] {
        assert!(spans.lines().any(|l| l.contains("\"type\":\"span\"") && l.contains(trace)), "no span of {trace}");
    }

    // Telemetry settings configure a CLI this client starts, not a server reached by URL.
    let mut o = copilot_core::ClientOptions::url("127.0.0.1:9");
    o.telemetry = Some(TelemetryConfig::default());
    assert_eq!(Client::new(o).start().await.unwrap_err().kind(), ErrorKind::InvalidConfig);
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("copilot-official-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_mode_hardens_sessions() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    // Needs a place for session state.
    let mut o = own_cli_options(Transport::Stdio);
    o.empty_mode = true;
    assert_eq!(o.check().unwrap_err().kind(), ErrorKind::InvalidConfig);
    o.copilot_home = Some(tempdir("empty-home"));
    let client = Client::new(o);
    client.start().await.unwrap();

    let e = client.create_session(byok(&model)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    assert!(e.to_string().contains("availableTools"), "{e}");

    let session = client
        .create_session(SessionConfig { available_tools: Some(vec!["view".into()]), ..byok(&model) })
        .await
        .unwrap();
    session.send_and_wait("REPLY hardened").await.unwrap();
    let system = |m: &FakeModel| {
        let req = m.chat_requests().last().cloned().unwrap();
        req.body["messages"][0]["content"].as_str().unwrap_or_default().to_owned()
    };
    let hardened = system(&model);
    assert!(!hardened.contains("<environment_context>"), "the environment section is still there");
    let tools: Vec<String> = model.chat_requests().last().unwrap().body["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["function"]["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(tools, vec!["view".to_owned()]);
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();

    // The same session config on a default client keeps the section (the check above can fail).
    let client = connect_shared().await;
    let session = client
        .create_session(SessionConfig { available_tools: Some(vec!["view".into()]), ..byok(&model) })
        .await
        .unwrap();
    session.send_and_wait("REPLY default").await.unwrap();
    assert!(system(&model).contains("<environment_context>"));
    session.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_server_asking_for_oauth_gets_the_hosts_token() {
    let _strict = strict();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let asked = Arc::new(Mutex::new(Vec::<Value>::new()));
    let a2 = asked.clone();
    let mut servers = serde_json::Map::new();
    let url = format!("http://{}/mcp", model.addr());
    servers.insert("issues".into(), json!({"type": "http", "url": url, "tools": ["*"]}));
    let config = SessionConfig {
        mcp_servers: Some(servers),
        on_permission_request: Some(copilot_core::approve_all()),
        on_mcp_auth: handler(move |req: Value| {
            a2.lock().unwrap().push(req);
            async { Ok(json!({"accessToken": fake_model::MCP_TOKEN, "tokenType": "Bearer"})) }
        }),
        ..byok(&model)
    };
    let session = client.create_session(config).await.unwrap();
    let mut status = session.subscribe_type("session.mcp_server_status_changed");
    // The server answers 401 until the host's token arrives; then it connects.
    let connected = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(ev) = status.recv().await {
            if ev.data["status"] == "connected" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(connected, Ok(true), "the MCP server never connected");
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(asked[0]["sessionId"], session.id());
        assert_eq!(asked[0]["serverName"], "issues");
        assert_eq!(asked[0]["serverUrl"], url.as_str());
        assert!(asked[0]["requestId"].is_string());
    }
    let answer = session.send_and_wait("CALL issues-issue_count {}").await.unwrap().unwrap();
    assert_eq!(answer.content(), Some("Tool returned: 42 open issues"));
    let authorized = model
        .requests()
        .iter()
        .filter(|r| r.path == "/mcp" && r.header("authorization") == Some(&format!("Bearer {}", fake_model::MCP_TOKEN)))
        .count();
    assert!(authorized >= 2, "the MCP server saw {authorized} authorized requests");
    session.disconnect().await.unwrap();
}
