mod common;

use common::{Client, STEP, chat, message_text, user_body};
use fake_model::FakeModel;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn models_list() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    for path in ["/v1/models", "/models"] {
        let r = c.request("GET", path, &[], None).await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("application/json"));
        let v = r.json();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["gpt-4.1", "gpt-5", "claude-sonnet-4.5"]);
        assert!(v["data"].as_array().unwrap().iter().all(|m| m["object"] == "model"));
    }
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let r = c.request("GET", "/v1/nope", &[], None).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].is_string());
    // Wrong method on a known path, and a non-JSON body: still answered, connection reusable.
    let r = c.request("GET", "/v1/chat/completions", &[], None).await;
    assert_eq!(r.status, 405);
    c.send("POST", "/v1/chat/completions", &[], Some(b"not json")).await;
    let r = c.read_response().await;
    assert_eq!(r.status, 400);
    let r = c.request("GET", "/models", &[], None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn plain_text_non_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let r = chat(fm.addr(), &user_body("hello", false)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_some());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4.1");
    assert!(v["id"].is_string());
    assert!(v["created"].is_u64());
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from the fake model.");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"], json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}));
}

#[tokio::test]
async fn plain_text_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let mut body = user_body("hello", true);
    body["model"] = json!("claude-sonnet-4.5");
    let r = chat(fm.addr(), &body).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/event-stream"));
    assert_eq!(r.streamed_text(), "Hello from the fake model.");
    let chunks = r.chunks();
    // One chunk per word plus the final one.
    assert_eq!(chunks.len(), 5 + 1);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "Hello ");
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "claude-sonnet-4.5");
        assert_eq!(c["id"], chunks[0]["id"]);
    }
    for c in &chunks[..chunks.len() - 1] {
        assert!(c["choices"][0]["finish_reason"].is_null());
        assert!(c.get("usage").is_none());
    }
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["usage"]["total_tokens"], 15);
}

#[tokio::test]
async fn echo() {
    let fm = FakeModel::start().await.unwrap();
    let text = "<system_reminder>be nice</system_reminder>\nECHO this please\nsecond line";
    assert_eq!(message_text(&chat(fm.addr(), &user_body(text, false)).await), text);
    assert_eq!(chat(fm.addr(), &user_body(text, true)).await.streamed_text(), text);
}

#[tokio::test]
async fn reply() {
    let fm = FakeModel::start().await.unwrap();
    let text = "Current date: today\nREPLY Bonjour le  monde\\nligne 2\n<reminder>x</reminder>";
    assert_eq!(message_text(&chat(fm.addr(), &user_body(text, false)).await), "Bonjour le  monde\nligne 2");
    assert_eq!(chat(fm.addr(), &user_body(text, true)).await.streamed_text(), "Bonjour le  monde\nligne 2");
}

#[tokio::test]
async fn content_parts_and_last_user_message() {
    let fm = FakeModel::start().await.unwrap();
    let body = json!({"model": "gpt-5", "messages": [
        {"role": "user", "content": "REPLY old"},
        {"role": "assistant", "content": "old"},
        {"role": "user", "content": [{"type": "text", "text": "wrapped"}, {"type": "text", "text": "REPLY new"}]}
    ]});
    assert_eq!(message_text(&chat(fm.addr(), &body).await), "new");
}

#[tokio::test]
async fn call_non_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let r = chat(fm.addr(), &user_body("Please CALL get_weather {\"city\": \"Paris\"}", false)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    assert_eq!(choice["message"]["role"], "assistant");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let id = calls[0]["id"].as_str().unwrap();
    assert!(id.starts_with("call_") && id.len() == 13, "{id}");
    assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));

    // No args → "{}".
    let v = chat(fm.addr(), &user_body("CALL list_files", false)).await.json();
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");
}

/// Re-assemble streamed tool calls: (id, name, arguments) per index.
fn assemble_tool_calls(chunks: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in chunks {
        let Some(tcs) = c["choices"][0]["delta"]["tool_calls"].as_array() else {
            continue;
        };
        for tc in tcs {
            let i = tc["index"].as_u64().unwrap() as usize;
            if i == calls.len() {
                calls.push(Default::default());
            }
            let entry = &mut calls[i];
            if let Some(id) = tc["id"].as_str() {
                entry.0 = id.to_string();
            }
            if let Some(name) = tc["function"]["name"].as_str() {
                entry.1.push_str(name);
            }
            if let Some(args) = tc["function"]["arguments"].as_str() {
                entry.2.push_str(args);
            }
        }
    }
    calls
}

#[tokio::test]
async fn call_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let args = json!({"path": "/tmp/x.txt", "content": "héllo wörld"});
    let r = chat(fm.addr(), &user_body(&format!("CALL write_file {args}"), true)).await;
    assert_eq!(r.status, 200);
    let chunks = r.chunks();
    // Announce, two argument halves, final.
    assert_eq!(chunks.len(), 4);
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["tool_calls"][0]["type"], "function");
    assert_eq!(first["tool_calls"][0]["function"]["arguments"], "");
    let half1 = chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    let half2 = chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    assert!(!half1.is_empty() && !half2.is_empty());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["usage"]["completion_tokens"], 5);

    let calls = assemble_tool_calls(&chunks);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].0.starts_with("call_"));
    assert_eq!(calls[0].1, "write_file");
    assert_eq!(calls[0].2, args.to_string());
    let parsed: Value = serde_json::from_str(&calls[0].2).unwrap();
    assert_eq!(parsed, args);
}

#[tokio::test]
async fn two_call_lines() {
    let fm = FakeModel::start().await.unwrap();
    let text = "do both\nCALL first_tool {\"a\": 1}\nand\nCALL second_tool {\"b\": [2, 3]}\n";
    let v = chat(fm.addr(), &user_body(text, false)).await.json();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "first_tool");
    assert_eq!(calls[0]["function"]["arguments"], "{\"a\": 1}");
    assert_eq!(calls[1]["function"]["name"], "second_tool");
    assert_eq!(calls[1]["function"]["arguments"], "{\"b\": [2, 3]}");
    assert_ne!(calls[0]["id"], calls[1]["id"]);

    let r = chat(fm.addr(), &user_body(text, true)).await;
    let calls = assemble_tool_calls(&r.chunks());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, "first_tool");
    assert_eq!(calls[0].2, "{\"a\": 1}");
    assert_eq!(calls[1].1, "second_tool");
    assert_eq!(calls[1].2, "{\"b\": [2, 3]}");
    assert_ne!(calls[0].0, calls[1].0);
}

#[tokio::test]
async fn tool_result_echo() {
    let fm = FakeModel::start().await.unwrap();
    let body = json!({"model": "gpt-4.1", "messages": [
        {"role": "user", "content": "CALL get_weather {}"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21C"}
    ]});
    assert_eq!(message_text(&chat(fm.addr(), &body).await), "Tool returned: Sunny, 21C");
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    assert_eq!(chat(fm.addr(), &streamed).await.streamed_text(), "Tool returned: Sunny, 21C");

    let mut long = body.clone();
    long["messages"][2]["content"] = json!("x".repeat(5000));
    let text = message_text(&chat(fm.addr(), &long).await);
    assert_eq!(text, format!("Tool returned: {}", "x".repeat(2000)));
}

#[tokio::test]
async fn error_status() {
    let fm = FakeModel::start().await.unwrap();
    for (text, stream, status) in [
        ("ERROR 500", false, 500),
        ("ERROR500", true, 500),
        ("please fail: ERROR 429", false, 429),
        ("ERROR 503", true, 503),
    ] {
        let r = chat(fm.addr(), &user_body(text, stream)).await;
        assert_eq!(r.status, status, "{text}");
        assert_eq!(r.json(), json!({"error": {"message": "fake upstream failure", "type": "server_error"}}));
    }
}

#[tokio::test]
async fn slow_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let start = Instant::now();
    let r = chat(fm.addr(), &user_body("SLOW 3 50", true)).await;
    let elapsed = start.elapsed();
    assert_eq!(r.streamed_text(), "word0 word1 word2");
    let chunks = r.chunks();
    let words: Vec<&Value> = chunks.iter().filter(|c| c["choices"][0]["delta"]["content"].is_string()).collect();
    assert_eq!(words.len(), 3);
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    // The chunks really were spread out in time.
    let first = r.events[0].0;
    let third = r.events[2].0;
    assert!(third.duration_since(first) >= Duration::from_millis(90), "{:?}", third.duration_since(first));
}

#[tokio::test]
async fn slow_non_streamed() {
    let fm = FakeModel::start().await.unwrap();
    let start = Instant::now();
    let text = message_text(&chat(fm.addr(), &user_body("SLOW 2 60", false)).await);
    assert_eq!(text, "word0 word1");
    assert!(start.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn keep_alive_two_requests() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let r1 = c.post_json("/v1/chat/completions", &user_body("REPLY one", false)).await;
    assert_eq!(r1.header("connection"), Some("keep-alive"));
    assert_eq!(message_text(&r1), "one");
    // A streamed reply on the same connection, then a plain one after it.
    let r2 = c.post_json("/chat/completions", &user_body("REPLY two words", true)).await;
    assert_eq!(r2.streamed_text(), "two words");
    let r3 = c.post_json("/v1/chat/completions", &user_body("REPLY three", false)).await;
    assert_eq!(message_text(&r3), "three");
    // All three came in on one connection.
    assert_eq!(fm.requests().len(), 3);

    // Connection: close is honoured.
    let r4 = c.request("POST", "/v1/chat/completions", &[("Connection", "close")], Some(&user_body("x", false))).await;
    assert_eq!(r4.header("connection"), Some("close"));
    assert!(c.closed_within(STEP).await);
}

#[tokio::test]
async fn pipelined_requests() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let mut raw = Vec::new();
    for text in ["REPLY a", "REPLY b"] {
        let body = user_body(text, false).to_string();
        raw.extend_from_slice(
            format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                .as_bytes(),
        );
    }
    c.send_raw(&raw).await;
    assert_eq!(message_text(&c.read_response().await), "a");
    assert_eq!(message_text(&c.read_response().await), "b");
}

#[tokio::test]
async fn chunked_request_body() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let body = user_body("REPLY from chunks", false).to_string();
    let (a, b) = body.split_at(body.len() / 3);
    let mut raw = String::from(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
    );
    raw.push_str(&format!("{:x};ext=1\r\n{a}\r\n", a.len()));
    raw.push_str(&format!("{:X}\r\n{b}\r\n", b.len()));
    raw.push_str("0\r\n\r\n");
    c.send_raw(raw.as_bytes()).await;
    assert_eq!(message_text(&c.read_response().await), "from chunks");
    assert_eq!(fm.requests()[0].body, serde_json::from_str::<Value>(&body).unwrap());
    // Connection still usable afterwards.
    let r = c.request("GET", "/v1/models", &[], None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn expect_100_continue() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let body = user_body("REPLY continued", false).to_string();
    c.send_raw(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    c.send_raw(body.as_bytes()).await;
    assert_eq!(message_text(&c.read_response().await), "continued");
}

#[tokio::test]
async fn concurrent_request_during_slow_stream() {
    let fm = FakeModel::start().await.unwrap();
    let addr = fm.addr();
    let slow = tokio::spawn(async move { chat(addr, &user_body("SLOW 5 200", true)).await });
    // Give the slow stream time to start.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let text = message_text(&chat(addr, &user_body("REPLY quick", false)).await);
    assert_eq!(text, "quick");
    assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
    assert!(!slow.is_finished());
    let slow = slow.await.unwrap();
    assert_eq!(slow.streamed_text(), "word0 word1 word2 word3 word4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runtime_and_many_clients() {
    let fm = FakeModel::start().await.unwrap();
    let addr = fm.addr();
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(tokio::spawn(async move {
            let r = chat(addr, &user_body(&format!("REPLY n{i}"), i % 2 == 0)).await;
            let text = if i % 2 == 0 { r.streamed_text() } else { message_text(&r) };
            assert_eq!(text, format!("n{i}"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(fm.requests().len(), 20);
}

#[tokio::test]
async fn hang_never_answers() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let body = user_body("HANG", true).to_string();
    c.send("POST", "/v1/chat/completions", &[], Some(body.as_bytes())).await;
    // No answer, connection stays open.
    assert!(!c.closed_within(Duration::from_millis(300)).await);
    // Other requests are still served.
    assert_eq!(message_text(&chat(fm.addr(), &user_body("x", false)).await), "Hello from the fake model.");
    assert_eq!(fm.requests().len(), 2);
    // Shutting down closes the hanging connection.
    tokio::time::timeout(STEP, fm.shutdown()).await.expect("shutdown timed out");
    assert!(c.closed_within(STEP).await);
}

#[tokio::test]
async fn client_disconnect_mid_stream() {
    let fm = FakeModel::start().await.unwrap();
    {
        let mut c = Client::connect(fm.addr()).await;
        let body = user_body("SLOW 20 20", true).to_string();
        c.send("POST", "/v1/chat/completions", &[], Some(body.as_bytes())).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Dropped here, mid-stream.
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server is unaffected.
    assert_eq!(message_text(&chat(fm.addr(), &user_body("REPLY ok", false)).await), "ok");
}

#[tokio::test]
async fn records_requests() {
    let fm = FakeModel::start().await.unwrap();
    let mut c = Client::connect(fm.addr()).await;
    let body = user_body("REPLY hi", false);
    let r = c
        .request(
            "POST",
            "/v1/chat/completions?api-version=1",
            &[("Authorization", "Bearer fake-key"), ("X-Custom-Header", "Yes")],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 200);
    c.request("GET", "/v1/models", &[], None).await;

    let reqs = fm.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions?api-version=1");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer fake-key"));
    assert_eq!(reqs[0].header("AUTHORIZATION"), Some("Bearer fake-key"));
    assert_eq!(reqs[0].header("x-custom-header"), Some("Yes"));
    assert!(reqs[0].headers.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));
    assert!(reqs[0].headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer fake-key"));
    assert_eq!(reqs[0].body, body);
    assert_eq!(reqs[1].method, "GET");
    assert_eq!(reqs[1].path, "/v1/models");
    assert_eq!(reqs[1].body, Value::Null);
    assert_eq!(fm.chat_requests().len(), 1);

    fm.clear_requests();
    assert!(fm.requests().is_empty());
    chat(fm.addr(), &user_body("again", false)).await;
    assert_eq!(fm.requests().len(), 1);
}

#[tokio::test]
async fn urls_and_provider() {
    let fm = FakeModel::start().await.unwrap();
    let port = fm.port();
    assert_ne!(port, 0);
    assert_eq!(fm.base_url(), format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(
        fm.provider(),
        json!({"type": "openai", "baseUrl": format!("http://127.0.0.1:{port}/v1"), "apiKey": "fake-key"})
    );
}

#[tokio::test]
async fn drop_and_shutdown_stop_the_server() {
    async fn refused_soon(addr: std::net::SocketAddr) -> bool {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    let fm = FakeModel::start().await.unwrap();
    let addr = fm.addr();
    let mut c = Client::connect(addr).await;
    assert_eq!(c.request("GET", "/v1/models", &[], None).await.status, 200);
    drop(fm);
    assert!(refused_soon(addr).await, "still accepting after drop");
    assert!(c.closed_within(STEP).await, "open connection not closed after drop");

    let fm = FakeModel::start().await.unwrap();
    let addr = fm.addr();
    fm.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
