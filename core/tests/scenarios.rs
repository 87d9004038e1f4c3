//! Runs the shared, language-neutral scenarios of `tests/scenarios/` against the real CLI.
//!
//! The runner drives sessions the way every language binding does: through the host bridge
//! (`copilot_core::host`), answering host requests from the scenario and reading one ordered
//! stream of events, requests and completions. So the payloads and reply defaults the scenarios
//! pin are the ones every binding hands to its host.

mod common;

use copilot_core::host::{self, HostMessage, HostOptions, RequestKind};
use copilot_core::{MessageOptions, SessionConfig, SessionEvent, tool_from_json};
use fake_model::FakeModel;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(scenario_dir().join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What the host saw during one turn.
#[derive(Default)]
struct Seen {
    /// Types of every event, in order (the all-events subscription).
    types: Vec<String>,
    events: Vec<Arc<SessionEvent>>,
    /// Types seen by the turn's type-filtered subscription.
    filtered: Vec<String>,
    /// `(kind, payload)` of every host request.
    requests: Vec<(String, Value)>,
    hooks: Vec<String>,
}

/// A handler answer from the scenario: `{"reply": v}`, `{"replies": [v, …]}` (one per call, the
/// last repeats) or `{"fail": "message"}`.
#[derive(Clone)]
struct Answer {
    spec: Value,
    calls: Arc<Mutex<usize>>,
}

impl Answer {
    fn new(spec: Value) -> Self {
        Answer { spec, calls: Arc::default() }
    }
    fn next(&self) -> Result<Value, String> {
        if let Some(f) = self.spec.get("fail").and_then(Value::as_str) {
            return Err(f.to_owned());
        }
        if let Some(list) = self.spec.get("replies").and_then(Value::as_array) {
            let mut n = self.calls.lock().unwrap();
            let v = list.get(*n).or(list.last()).cloned().unwrap_or(Value::Null);
            *n += 1;
            return Ok(v);
        }
        Ok(self.spec.get("reply").cloned().unwrap_or(Value::Null))
    }
}

/// The host side of a scenario: which handlers exist and what they answer.
struct Host {
    tools: HashMap<String, Answer>,
    kinds: HashMap<RequestKind, Answer>,
    hooks: HashMap<String, Answer>,
    /// `"hooks": true`: every hook type, answered with null.
    all_hooks: bool,
}

fn build(s: &Value, model: &FakeModel) -> (SessionConfig, HostOptions, Host) {
    let mut wire = json!({"model": "gpt-4.1", "provider": model.provider()});
    for key in ["streaming", "systemMessage", "mode"] {
        if let Some(v) = s.get(key) {
            wire[key] = v.clone();
        }
    }
    let mut config = SessionConfig::from_json(&wire).unwrap();
    let mut host = Host { tools: HashMap::new(), kinds: HashMap::new(), hooks: HashMap::new(), all_hooks: false };
    for t in s.get("tools").and_then(Value::as_array).cloned().unwrap_or_default() {
        let mut def = t.as_object().unwrap().clone();
        let answer = match (def.remove("result"), def.remove("fail"), def.remove("reply")) {
            (Some(r), _, _) => json!({"reply": r}),
            (_, Some(f), _) => json!({"fail": f}),
            (_, _, Some(r)) => json!({"reply": r}),
            _ => json!({"reply": null}),
        };
        let tool = tool_from_json(&Value::Object(def)).unwrap();
        host.tools.insert(tool.name.clone(), Answer::new(answer));
        config.tools.push(tool);
    }
    // The first scenarios' short forms.
    if let Some(p) = s.get("permission").and_then(Value::as_str) {
        let spec = match p {
            "fail" => json!({"fail": "permission handler exploded"}),
            "reject" => json!({"reply": {"kind": "reject", "feedback": s.get("permissionFeedback")}}),
            other => json!({"reply": other}),
        };
        host.kinds.insert(RequestKind::Permission, Answer::new(spec));
    }
    if let Some(u) = s.get("userInput") {
        let spec = match u.get("fail") {
            Some(f) => json!({"fail": f}),
            None => json!({"reply": u}),
        };
        host.kinds.insert(RequestKind::UserInput, Answer::new(spec));
    }
    host.all_hooks = s.get("hooks").and_then(Value::as_bool) == Some(true);
    // The general form: raw host replies per kind.
    for (kind, spec) in s.get("handlers").and_then(Value::as_object).cloned().unwrap_or_default() {
        if kind == "hooks" {
            for (hook, spec) in spec.as_object().unwrap() {
                host.hooks.insert(hook.clone(), Answer::new(spec.clone()));
            }
        } else {
            let k = RequestKind::from_name(&kind).unwrap_or_else(|| panic!("unknown handler kind {kind}"));
            host.kinds.insert(k, Answer::new(spec));
        }
    }
    let options = HostOptions {
        kinds: host.kinds.keys().copied().chain(host.all_hooks.then_some(RequestKind::Hook)).collect(),
        tools: None,
        hooks: (!host.all_hooks && !host.hooks.is_empty()).then(|| host.hooks.keys().cloned().collect()),
    };
    (config, options, host)
}

impl Host {
    fn answer(&self, kind: RequestKind, name: Option<&str>) -> Result<Value, String> {
        match kind {
            RequestKind::Tool => self.tools[name.unwrap()].next(),
            RequestKind::Hook if self.all_hooks => Ok(Value::Null),
            RequestKind::Hook => self.hooks.get(name.unwrap_or_default()).map_or(Ok(Value::Null), Answer::next),
            other => self.kinds[&other].next(),
        }
    }
}

/// Matches a payload against a scenario pattern: `"<string>"`, `"<number>"`, `"<bool>"`,
/// `"<object>"`, `"<array>"`, `"<any>"`, `"<string|null>"`, `"<sessionId>"`; objects must have
/// exactly the pattern's keys (`subset`: at least them); arrays match element by element.
fn matches(pattern: &Value, value: &Value, sid: &str, subset: bool, at: &str) -> Result<(), String> {
    let fail = || Err(format!("{at}: expected {pattern}, got {value}"));
    match (pattern, value) {
        (Value::String(p), v) if p.starts_with('<') && p.ends_with('>') => {
            let ok = match p.as_str() {
                "<string>" => v.is_string(),
                "<number>" => v.is_number(),
                "<bool>" => v.is_boolean(),
                "<object>" => v.is_object(),
                "<array>" => v.is_array(),
                "<any>" => true,
                "<string|null>" => v.is_string() || v.is_null(),
                "<sessionId>" => v.as_str() == Some(sid),
                other => panic!("unknown pattern {other}"),
            };
            if ok { Ok(()) } else { fail() }
        }
        (Value::Object(p), Value::Object(v)) => {
            if !subset {
                let mut pk: Vec<_> = p.keys().collect();
                let mut vk: Vec<_> = v.keys().collect();
                pk.sort();
                vk.sort();
                if pk != vk {
                    return Err(format!("{at}: keys {vk:?}, expected {pk:?} (value {value})"));
                }
            }
            for (k, pv) in p {
                let got = v.get(k).ok_or_else(|| format!("{at}: no `{k}` in {value}"))?;
                matches(pv, got, sid, subset, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(v)) if p.len() == v.len() => {
            p.iter().zip(v).enumerate().try_for_each(|(i, (p, v))| matches(p, v, sid, subset, &format!("{at}[{i}]")))
        }
        (p, v) if p == v => Ok(()),
        _ => fail(),
    }
}

fn assert_subsequence(what: &str, want: &[String], got: &[String]) {
    let mut it = got.iter();
    for w in want {
        assert!(it.any(|g| g == w), "{what}: expected {want:?} in order, got {got:?}");
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<(copilot_core::Result<Value>, bool)>>>>;

async fn run(name: &str) {
    let _strict = common::strict();
    common::init_tracing();
    let sc = load(name);
    assert_eq!(sc["name"], name);
    let model = FakeModel::start().await.unwrap();
    let client = common::connect_shared().await;
    let (mut config, options, host) = build(&sc["session"], &model);
    let (port, mut stream) = host::attach(&mut config, options).unwrap();
    let all = port.subscribe(None);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let filtered_sub = Arc::new(Mutex::new(None::<u64>));
    let waiters: Waiters = Arc::default();
    // The binding's side: one task reads the session's ordered stream.
    let reader = {
        let (seen, filtered_sub, waiters) = (seen.clone(), filtered_sub.clone(), waiters.clone());
        tokio::spawn(async move {
            while let Some(msg) = stream.recv().await {
                match msg {
                    HostMessage::Event { event, subscriptions } => {
                        let mut s = seen.lock().unwrap();
                        if subscriptions.contains(&all) {
                            s.types.push(event.event_type.clone());
                            s.events.push(event.clone());
                        }
                        if filtered_sub.lock().unwrap().is_some_and(|f| subscriptions.contains(&f)) {
                            s.filtered.push(event.event_type.clone());
                        }
                    }
                    HostMessage::Request(req) => {
                        {
                            let mut s = seen.lock().unwrap();
                            s.requests.push((req.kind.name().to_owned(), req.payload.clone()));
                            if req.kind == RequestKind::Hook {
                                s.hooks.push(req.name.clone().unwrap_or_default());
                            }
                        }
                        match host.answer(req.kind, req.name.as_deref()) {
                            Ok(v) => req.responder.reply(v),
                            Err(m) => req.responder.fail(m),
                        }
                    }
                    HostMessage::Completion { call, result } => {
                        // Have the turn's events reached the host before its result?
                        let idle_seen = seen.lock().unwrap().types.iter().any(|t| t == "session.idle");
                        if let Some(tx) = waiters.lock().unwrap().remove(&call) {
                            let _ = tx.send((result, idle_seen));
                        }
                    }
                    // Answers here are immediate: nothing is left to cancel.
                    HostMessage::Cancelled { .. } | HostMessage::End => {}
                }
            }
        })
    };
    let session = client.create_session(config).await.unwrap();
    let sid = session.id().to_owned();
    for (i, turn) in sc["turns"].as_array().unwrap().iter().enumerate() {
        let ctx = format!("{name} turn {i}");
        let filter = turn.get("subscribe").map(|t| strings(Some(t)));
        let fsub = filter.map(|types| port.subscribe(Some(types)));
        *filtered_sub.lock().unwrap() = fsub;
        *seen.lock().unwrap() = Seen::default();
        let prompt = turn["prompt"].as_str().unwrap().to_owned();
        let (tx, rx) = oneshot::channel();
        waiters.lock().unwrap().insert(i as u64, tx);
        let s = session.clone();
        port.spawn_call(i as u64, async move {
            let ev = s.send_and_wait(MessageOptions::new(prompt).timeout(Duration::from_secs(90))).await?;
            Ok(ev.map_or(Value::Null, |e| serde_json::to_value(&e).unwrap()))
        });
        let (result, idle_seen) = rx.await.unwrap();
        if let Some(f) = fsub {
            port.unsubscribe(f);
        }
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        let x = &turn["expect"];
        if let Some(code) = x.get("error").and_then(Value::as_str) {
            let e = result.expect_err(&ctx);
            assert_eq!(e.code(), code, "{ctx}: {e}");
            continue;
        }
        let answer_event = result.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let answer = answer_event["data"]["content"].as_str().unwrap_or_default().to_owned();
        if let Some(a) = x.get("answer").and_then(Value::as_str) {
            assert_eq!(answer, a, "{ctx}");
        }
        for s in strings(x.get("answerContains")) {
            assert!(answer.contains(&s), "{ctx}: answer {answer:?} lacks {s:?}");
        }
        let types = &seen.types;
        assert_subsequence(&ctx, &strings(x.get("events")), types);
        for t in strings(x.get("noEvents")) {
            assert!(!types.contains(&t), "{ctx}: unexpected {t} in {types:?}");
        }
        if let Some(tc) = x.get("toolComplete") {
            let last = seen.events.iter().rev().find(|e| e.event_type == "tool.execution_complete");
            let last = last.unwrap_or_else(|| panic!("{ctx}: no tool.execution_complete"));
            assert_eq!(last.data["success"], tc["success"], "{ctx}: {}", last.data);
            if let Some(s) = tc.get("contains").and_then(Value::as_str) {
                assert!(last.data.to_string().contains(s), "{ctx}: {} lacks {s:?}", last.data);
            }
        }
        let kinds_of = |k: &str| -> Vec<Value> {
            seen.requests.iter().filter(|(kind, _)| kind == k).map(|(_, p)| p.clone()).collect()
        };
        if x.get("permissionKinds").is_some() {
            let got: Vec<String> =
                kinds_of("permission").iter().map(|p| p["kind"].as_str().unwrap_or_default().to_owned()).collect();
            assert_eq!(got, strings(x.get("permissionKinds")), "{ctx}");
        }
        if x.get("userInputQuestions").is_some() {
            let got: Vec<String> =
                kinds_of("userInput").iter().map(|p| p["question"].as_str().unwrap_or_default().to_owned()).collect();
            assert_eq!(got, strings(x.get("userInputQuestions")), "{ctx}");
        }
        assert_subsequence(&format!("{ctx} hooks"), &strings(x.get("hooks")), &seen.hooks);
        if let Some(want) = x.get("requests").and_then(Value::as_array) {
            let got: Vec<Value> = seen.requests.iter().map(|(k, p)| json!({"kind": k, "payload": p})).collect();
            assert_eq!(got.len(), want.len(), "{ctx}: host requests {got:?}");
            for (j, (w, g)) in want.iter().zip(&got).enumerate() {
                matches(w, g, &sid, false, &format!("{ctx} request {j}")).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        for (ty, want) in x.get("eventData").and_then(Value::as_object).cloned().unwrap_or_default() {
            let ev = seen.events.iter().rev().find(|e| e.event_type == ty);
            let ev = ev.unwrap_or_else(|| panic!("{ctx}: no {ty} event in {types:?}"));
            matches(&want, &ev.data, &sid, true, &format!("{ctx} {ty}")).unwrap_or_else(|e| panic!("{e}"));
        }
        if x.get("filteredEvents").is_some() {
            assert_eq!(seen.filtered, strings(x.get("filteredEvents")), "{ctx}: filtered subscription");
        }
        if x.get("resultAfterEvents").and_then(Value::as_bool) == Some(true) {
            assert!(idle_seen, "{ctx}: the result arrived before the turn's session.idle reached the host");
        }
        if x.get("deltasConcatenate").and_then(Value::as_bool) == Some(true) {
            let id = answer_event["data"]["messageId"].as_str().unwrap();
            let deltas: String = seen
                .events
                .iter()
                .filter(|e| e.event_type == "assistant.message_delta" && e.data["messageId"] == id)
                .map(|e| e.data["deltaContent"].as_str().unwrap_or_default())
                .collect();
            assert!(types.iter().filter(|t| *t == "assistant.message_delta").count() >= 2, "{ctx}: {types:?}");
            assert_eq!(deltas, answer, "{ctx}");
        }
    }
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();
    drop(session);
    drop(port);
    // The stream ends once the session and every port clone are gone.
    tokio::time::timeout(Duration::from_secs(10), reader).await.expect("the host stream did not end").unwrap();
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { run(stringify!($name)).await }
        )*
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    plain_turn,
    streaming_deltas,
    tool_round_trip,
    tool_failure,
    permission_approve,
    permission_reject,
    permission_handler_fails,
    user_input,
    hooks,
    model_error,
    tool_payload,
    permission_payload,
    user_input_defaults,
    hook_payloads,
    handler_throws,
    system_message_transform,
    exit_plan_mode,
    provider_token,
    filtered_subscription,
    result_after_events,
    own_tool_without_permission_handler,
);

#[test]
fn every_scenario_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
        .collect();
    files.sort();
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    names.sort();
    assert_eq!(files, names, "tests/scenarios and the runner's list differ");
}

#[test]
fn payload_patterns() {
    let p = json!({"sessionId": "<sessionId>", "n": "<number>", "o": {"a": [1, "<string>"]}, "x": "<string|null>"});
    assert!(matches(&p, &json!({"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": null}), "s", false, "p").is_ok());
    assert!(matches(&p, &json!({"sessionId": "t", "n": 1, "o": {"a": [1, "b"]}, "x": null}), "s", false, "p").is_err());
    assert!(
        matches(&p, &json!({"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": null, "more": 1}), "s", false, "p")
            .is_err()
    );
    assert!(matches(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "s", true, "p").is_ok());
}
