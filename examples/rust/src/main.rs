//! The main job: start the Copilot CLI, open a session, ask a question, print the answer.
//!
//! Offline by default: the model is `tests/fake-model`, run in-process as a BYOK provider.
//! With `OPENAI_API_KEY` set it uses OpenAI (or `OPENAI_BASE_URL`) as the BYOK provider; with
//! `COPILOT_GITHUB_TOKEN` set it uses GitHub Copilot itself. `COPILOT_MODEL` picks the model.
//!
//!     cargo run -p copilot-examples -- "What is the weather in Paris?"

use copilot_core::{
    Client, ClientOptions, MessageOptions, SessionConfig, Tool, ToolInvocation, ToolResult, approve_all,
};
use serde_json::json;
use std::io::Write;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> copilot_core::Result<()> {
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let model_name = std::env::var("COPILOT_MODEL").unwrap_or_else(|_| "gpt-4.1".into());
    let mut options = ClientOptions::default();
    let mut fake = None;
    let provider = if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        let base = std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "https://api.openai.com/v1".into());
        eprintln!("[demo] model: {model_name} via {base} (BYOK)");
        Some(json!({"type": "openai", "baseUrl": base, "apiKey": key}))
    } else if let Ok(token) = std::env::var("COPILOT_GITHUB_TOKEN") {
        eprintln!("[demo] model: {model_name} via GitHub Copilot");
        options.github_token = Some(token);
        None
    } else {
        let m = fake_model::FakeModel::start().await.map_err(|e| {
            copilot_core::Error::new(copilot_core::ErrorKind::Io, format!("cannot start the fake model: {e}"))
        })?;
        eprintln!(
            "[demo] model: offline fake model at {} (set OPENAI_API_KEY or COPILOT_GITHUB_TOKEN for a real one)",
            m.base_url()
        );
        let p = m.provider();
        fake = Some(m);
        Some(p)
    };
    // Offline, the fake model follows directives: ask it to call our tool.
    let question = if question.is_empty() {
        if fake.is_some() {
            r#"CALL get_weather {"city":"Paris"}"#.to_string()
        } else {
            "What is the weather in Paris?".to_string()
        }
    } else {
        question
    };

    let client = Client::new(options);
    client.start().await?;
    let status = client.get_status().await?;
    eprintln!("[demo] Copilot CLI {} (protocol {})", status.version, status.protocol_version.unwrap_or_default());

    let weather = Tool::new("get_weather", |inv: ToolInvocation| async move {
        let city = inv.arguments["city"].as_str().unwrap_or("somewhere").to_owned();
        Ok(ToolResult::Text(format!("Sunny, 21C in {city}")))
    })
    .description("Get the current weather for a city")
    .parameters(json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}));

    let session = client
        .create_session(SessionConfig {
            model: Some(model_name),
            provider,
            streaming: Some(true),
            tools: vec![weather],
            on_permission_request: Some(approve_all()),
            ..Default::default()
        })
        .await?;
    eprintln!("[demo] session {}", session.id());
    session.on_type("tool.execution_start", |e| {
        eprintln!("[demo] tool call: {} {}", e.data["toolName"].as_str().unwrap_or("?"), e.data["arguments"]);
    });
    session.on_type("assistant.message_delta", |e| {
        print!("{}", e.data["deltaContent"].as_str().unwrap_or_default());
        let _ = std::io::stdout().flush();
    });
    eprintln!("[demo] > {question}");
    let answer = session.send_and_wait(MessageOptions::new(question)).await?;
    println!();
    match answer.as_ref().and_then(|a| a.content()) {
        Some(text) => eprintln!("[demo] answer: {text}"),
        None => eprintln!("[demo] (no answer)"),
    }
    session.disconnect().await?;
    client.stop().await?;
    drop(fake);
    Ok(())
}
