//! Decides what the fake model answers, from the request's `messages`.
//!
//! This module is pure (no I/O) so the directive parsing can be unit-tested.

use serde_json::Value;
use std::time::Duration;

/// Default reply when no directive matches.
pub const DEFAULT_REPLY: &str = "Hello from the fake model.";
/// Maximum number of characters of a tool result echoed back.
pub const TOOL_RESULT_MAX_CHARS: usize = 2000;
/// Defaults for `SLOW` without arguments.
pub const SLOW_DEFAULT_WORDS: u64 = 30;
pub const SLOW_DEFAULT_MS: u64 = 1000;
/// Upper bounds for `SLOW <n> <ms>` so a typo cannot wedge a test forever.
const SLOW_MAX_WORDS: u64 = 100_000;
const SLOW_MAX_MS: u64 = 600_000;

/// What to answer to one chat-completions request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// An assistant text message. Streamed: one chunk per word with `chunk_delay`
    /// between chunks. Non-streamed: sleep `total_delay`, then answer.
    Text { text: String, chunk_delay: Duration, total_delay: Duration },
    /// One tool call per entry: `(tool name, raw arguments string)`.
    ToolCalls(Vec<ToolCall>),
    /// An HTTP error with the given status.
    Error(u16),
    /// Never answer.
    Hang,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

impl Plan {
    fn text(text: impl Into<String>) -> Plan {
        Plan::Text { text: text.into(), chunk_delay: Duration::ZERO, total_delay: Duration::ZERO }
    }
}

/// Text of a message `content`: a string, or an array of parts whose text
/// parts are joined with `"\n"`. Anything else becomes its JSON text
/// (`null` becomes the empty string).
pub fn content_text(content: Option<&Value>) -> String {
    match content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => {
                    let is_text = o.get("type").and_then(Value::as_str).is_none_or(|t| t == "text");
                    if is_text { o.get("text").and_then(Value::as_str) } else { None }
                }
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// Decide the plan for a chat-completions request body.
pub fn plan(body: &Value) -> Plan {
    plan_request(body, None)
}

/// Decide the plan for a request, knowing its `Authorization` header. Besides the user-text
/// directives, two look at the request itself: `SYSTEM <needle>` answers `system has <needle>`
/// or `system lacks <needle>` (is the text in a system message?), and `AUTH` answers
/// `auth: <Authorization header>` (`auth: none` without one).
pub fn plan_request(body: &Value, authorization: Option<&str>) -> Plan {
    plan_body(body, authorization)
}

/// Text of the request's system messages, joined with newlines.
fn system_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
                .map(|m| content_text(m.get("content")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn plan_body(body: &Value, authorization: Option<&str>) -> Plan {
    let empty = Vec::new();
    let messages = body.get("messages").and_then(Value::as_array).unwrap_or(&empty);

    let last_is_tool = messages.last().is_some_and(|m| m.get("role").and_then(Value::as_str) == Some("tool"));
    if last_is_tool {
        let last = &messages[messages.len() - 1];
        let content = content_text(last.get("content"));
        let truncated: String = content.chars().take(TOOL_RESULT_MAX_CHARS).collect();
        return Plan::text(format!("Tool returned: {truncated}"));
    }

    let user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();

    let p = plan_for_user_text(&user_text);
    // SYSTEM and AUTH rank after REPLY (and before ECHO and the default).
    let weak = match &p {
        Plan::Text { text, .. } => text == DEFAULT_REPLY || text == &user_text,
        _ => false,
    };
    if weak {
        let lines: Vec<&str> = user_text.lines().collect();
        if let Some(needle) = lines
            .iter()
            .find_map(|l| find_word(l, "SYSTEM").map(|e| l[e..].trim().to_owned()).filter(|n| !n.is_empty()))
        {
            let verdict = if system_text(body).contains(&needle) { "has" } else { "lacks" };
            return Plan::text(format!("system {verdict} {needle}"));
        }
        if lines.iter().any(|l| find_word(l, "AUTH").is_some()) {
            return Plan::text(format!("auth: {}", authorization.unwrap_or("none")));
        }
    }
    p
}

/// Decide the plan from the text of the last user message.
pub fn plan_for_user_text(text: &str) -> Plan {
    let lines: Vec<&str> = text.lines().collect();

    let calls: Vec<ToolCall> = lines.iter().filter_map(|l| parse_call(l)).collect();
    if !calls.is_empty() {
        return Plan::ToolCalls(calls);
    }
    if let Some(status) = lines.iter().find_map(|l| parse_error(l)) {
        return Plan::Error(status);
    }
    if lines.iter().any(|l| find_word(l, "HANG").is_some()) {
        return Plan::Hang;
    }
    if let Some((n, ms)) = lines.iter().find_map(|l| parse_slow(l)) {
        let text = (0..n).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        return Plan::Text {
            text,
            chunk_delay: Duration::from_millis(ms),
            total_delay: Duration::from_millis(n.saturating_mul(ms)),
        };
    }
    if let Some(reply) = lines.iter().find_map(|l| parse_reply(l)) {
        return Plan::text(reply);
    }
    if lines.iter().any(|l| find_word(l, "ECHO").is_some()) {
        return Plan::text(text);
    }
    Plan::text(DEFAULT_REPLY)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte offsets just after each occurrence of `keyword` in `line` that starts
/// at a word boundary (start of line or preceded by a non-word character).
fn keyword_ends<'a>(line: &'a str, keyword: &'a str) -> impl Iterator<Item = usize> + 'a {
    line.match_indices(keyword).filter_map(move |(i, _)| {
        let before_ok = line[..i].chars().next_back().is_none_or(|c| !is_word_char(c));
        before_ok.then_some(i + keyword.len())
    })
}

/// Byte offset just after the first whole-word occurrence of `keyword`.
fn find_word(line: &str, keyword: &str) -> Option<usize> {
    keyword_ends(line, keyword).find(|&end| line[end..].chars().next().is_none_or(|c| !is_word_char(c)))
}

/// `CALL <toolName> <json-args>`: args are the rest of the line, trimmed; default `{}`.
fn parse_call(line: &str) -> Option<ToolCall> {
    keyword_ends(line, "CALL").find_map(|end| {
        let rest = &line[end..];
        // The keyword must be followed by whitespace, then a tool name.
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let rest = rest.trim_start();
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return None;
        }
        let args = rest[name_end..].trim();
        Some(ToolCall {
            name: name.to_string(),
            arguments: if args.is_empty() { "{}".to_string() } else { args.to_string() },
        })
    })
}

/// `ERROR <status>` or `ERROR<status>`, status in 400..=599.
fn parse_error(line: &str) -> Option<u16> {
    keyword_ends(line, "ERROR").find_map(|end| {
        let rest = line[end..].trim_start_matches([' ', '\t']);
        let digits_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_len == 0 || digits_len > 3 {
            return None;
        }
        if rest[digits_len..].chars().next().is_some_and(is_word_char) {
            return None;
        }
        let status: u16 = rest[..digits_len].parse().ok()?;
        (400..=599).contains(&status).then_some(status)
    })
}

/// `SLOW` optionally followed by `<n>` and `<ms>`.
fn parse_slow(line: &str) -> Option<(u64, u64)> {
    let end = find_word(line, "SLOW")?;
    let mut nums = line[end..].split_whitespace().map_while(|t| t.parse::<u64>().ok());
    let n = nums.next().unwrap_or(SLOW_DEFAULT_WORDS).min(SLOW_MAX_WORDS);
    let ms = nums.next().unwrap_or(SLOW_DEFAULT_MS).min(SLOW_MAX_MS);
    Some((n, ms))
}

/// `REPLY <text>`: the rest of the line (one separating space removed);
/// a literal `\n` becomes a newline.
fn parse_reply(line: &str) -> Option<String> {
    let end = keyword_ends(line, "REPLY").find(|&end| {
        let rest = &line[end..];
        rest.is_empty() || rest.starts_with([' ', '\t'])
    })?;
    let rest = &line[end..];
    let rest = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('\t')).unwrap_or(rest);
    let rest = rest.strip_suffix('\r').unwrap_or(rest);
    Some(rest.replace("\\n", "\n"))
}

/// Split text into streaming pieces on spaces, keeping the spaces so that the
/// concatenation equals `text`. Always returns at least one piece.
pub fn word_chunks(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split(' ').collect();
    let last = parts.len() - 1;
    parts.iter().enumerate().map(|(i, w)| if i < last { format!("{w} ") } else { (*w).to_string() }).collect()
}

/// Split a string into two halves by characters.
pub fn halves(s: &str) -> (String, String) {
    let n = s.chars().count() / 2;
    let split = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    (s[..split].to_string(), s[split..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(text: &str) -> Value {
        json!({"model": "m", "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]})
    }

    fn text_of(p: Plan) -> String {
        match p {
            Plan::Text { text, .. } => text,
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn default_reply() {
        assert_eq!(text_of(plan(&user("hi there"))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&json!({}))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&Value::Null)), DEFAULT_REPLY);
    }

    #[test]
    fn tool_result() {
        let body = json!({"messages": [
            {"role": "user", "content": "CALL x {}"},
            {"role": "assistant", "content": null},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}
        ]});
        assert_eq!(text_of(plan(&body)), "Tool returned: Sunny");
        let long = "é".repeat(3000);
        let body = json!({"messages": [{"role": "tool", "content": [{"type": "text", "text": long}]}]});
        let t = text_of(plan(&body));
        assert_eq!(t.chars().count(), "Tool returned: ".len() + TOOL_RESULT_MAX_CHARS);
    }

    #[test]
    fn call_lines() {
        let p = plan(&user("<ctx>\nplease CALL get_weather {\"city\": \"Paris\"}  \nCALL noargs\n</ctx>"));
        assert_eq!(
            p,
            Plan::ToolCalls(vec![
                ToolCall { name: "get_weather".into(), arguments: "{\"city\": \"Paris\"}".into() },
                ToolCall { name: "noargs".into(), arguments: "{}".into() },
            ])
        );
        // Not a directive: part of a word, or no tool name.
        assert_eq!(text_of(plan(&user("RECALL foo {}"))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&user("CALL"))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&user("CALLx y"))), DEFAULT_REPLY);
    }

    #[test]
    fn call_wins_over_others() {
        assert!(matches!(plan(&user("ERROR 500\nCALL t {}")), Plan::ToolCalls(_)));
    }

    #[test]
    fn errors() {
        assert_eq!(plan(&user("ERROR 500")), Plan::Error(500));
        assert_eq!(plan(&user("x ERROR500 y")), Plan::Error(500));
        assert_eq!(plan(&user("ERROR 429")), Plan::Error(429));
        assert_eq!(text_of(plan(&user("ERROR 5000"))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&user("ERROR"))), DEFAULT_REPLY);
        assert_eq!(text_of(plan(&user("ERROR 200"))), DEFAULT_REPLY);
        assert!(matches!(plan(&user("ERROR 503\nHANG")), Plan::Error(503)));
    }

    #[test]
    fn hang() {
        assert_eq!(plan(&user("please HANG now")), Plan::Hang);
        assert_eq!(text_of(plan(&user("HANGING"))), DEFAULT_REPLY);
    }

    #[test]
    fn slow() {
        match plan(&user("SLOW")) {
            Plan::Text { text, chunk_delay, total_delay } => {
                assert_eq!(text.split(' ').count(), 30);
                assert!(text.starts_with("word0 word1"));
                assert_eq!(chunk_delay, Duration::from_millis(1000));
                assert_eq!(total_delay, Duration::from_millis(30_000));
            }
            other => panic!("{other:?}"),
        }
        match plan(&user("go SLOW 3 50")) {
            Plan::Text { text, chunk_delay, .. } => {
                assert_eq!(text, "word0 word1 word2");
                assert_eq!(chunk_delay, Duration::from_millis(50));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn system_and_auth() {
        let body = json!({"messages": [
            {"role": "system", "content": "You are MARKER-1."},
            {"role": "user", "content": "SYSTEM MARKER-1"}]});
        assert_eq!(text_of(plan(&body)), "system has MARKER-1");
        let body = json!({"messages": [{"role": "user", "content": "SYSTEM MARKER-2"}]});
        assert_eq!(text_of(plan(&body)), "system lacks MARKER-2");
        let body = json!({"messages": [{"role": "user", "content": "AUTH"}]});
        assert_eq!(text_of(plan_request(&body, Some("Bearer t"))), "auth: Bearer t");
        assert_eq!(text_of(plan(&body)), "auth: none");
        let body = json!({"messages": [{"role": "user", "content": "REPLY x\nAUTH"}]});
        assert_eq!(text_of(plan(&body)), "x");
    }

    #[test]
    fn reply_and_echo() {
        assert_eq!(text_of(plan(&user("REPLY Hi  there\\nsecond"))), "Hi  there\nsecond");
        assert_eq!(text_of(plan(&user("a\nREPLY done\r\nb"))), "done");
        assert_eq!(text_of(plan(&user("ECHO\nline2"))), "ECHO\nline2");
        assert_eq!(text_of(plan(&user("REPLY x\nECHO"))), "x");
    }

    #[test]
    fn content_parts() {
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "first"},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "REPLY parts"}
        ]}]});
        assert_eq!(text_of(plan(&body)), "parts");
    }

    #[test]
    fn chunking() {
        assert_eq!(word_chunks("a b  c"), vec!["a ", "b ", " ", "c"]);
        assert_eq!(word_chunks(""), vec![""]);
        assert_eq!(halves("{}"), ("{".to_string(), "}".to_string()));
        assert_eq!(halves("héllo"), ("hé".to_string(), "llo".to_string()));
        assert_eq!(halves(""), (String::new(), String::new()));
    }
}
