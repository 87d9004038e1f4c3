mod common;

use common::{Client, STEP, message_text, user_body};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_fake-model");

/// Spawn the binary and read its single stdout line; returns the child and the port.
async fn spawn(args: &[&str], stdin: Stdio) -> (Child, u16) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fake-model");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(STEP, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("no listening line in time")
        .expect("read stdout");
    let line = line.strip_suffix('\n').expect("line ends with a newline");
    let rest = line
        .strip_prefix("fake-model listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let port: u16 = rest.strip_suffix("/v1").expect("ends with /v1").parse().expect("port");
    assert_ne!(port, 0);
    (child, port)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("fake-model-{}-{nanos}-{name}", std::process::id()))
}

#[tokio::test]
async fn binary_serves_logs_and_exits_on_stdin_eof() {
    let log = temp_path("log.jsonl");
    let (mut child, port) = spawn(&["--log", log.to_str().unwrap()], Stdio::piped()).await;

    let mut c = Client::connect(addr(port)).await;
    let r = c
        .request(
            "POST",
            "/v1/chat/completions",
            &[("Authorization", "Bearer secret")],
            Some(&user_body("REPLY from the binary", false)),
        )
        .await;
    assert_eq!(message_text(&r), "from the binary");
    let r = c.request("GET", "/v1/models", &[], None).await;
    assert_eq!(r.status, 200);

    // Closing stdin makes it exit.
    drop(child.stdin.take());
    let status =
        tokio::time::timeout(STEP, child.wait()).await.expect("fake-model did not exit after stdin EOF").unwrap();
    assert!(status.success(), "{status:?}");

    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/v1/chat/completions");
    assert_eq!(lines[0]["authorization"], "Bearer secret");
    assert_eq!(lines[0]["body"]["messages"][1]["content"], "REPLY from the binary");
    assert_eq!(lines[1]["method"], "GET");
    assert_eq!(lines[1]["path"], "/v1/models");
    assert!(lines[1]["authorization"].is_null());
}

#[tokio::test]
async fn binary_with_null_stdin_keeps_serving_on_given_port() {
    // Find a free port, then ask for it explicitly.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (mut child, got) = spawn(&["--port", &port.to_string()], Stdio::null()).await;
    assert_eq!(got, port);
    // A /dev/null stdin is at EOF immediately; it must not stop the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(child.try_wait().unwrap().is_none(), "exited early");
    let r = common::chat(addr(port), &user_body("SLOW 2 10", true)).await;
    assert_eq!(r.streamed_text(), "word0 word1");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn binary_ignore_stdin_flag() {
    let (mut child, port) = spawn(&["--ignore-stdin"], Stdio::piped()).await;
    drop(child.stdin.take());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(child.try_wait().unwrap().is_none(), "exited despite --ignore-stdin");
    let r = Client::connect(addr(port)).await.request("GET", "/models", &[], None).await;
    assert_eq!(r.status, 200);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn binary_rejects_bad_arguments() {
    let out = Command::new(BIN).arg("--bogus").stdin(Stdio::null()).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
