//! Telemetry: the CLI's OpenTelemetry settings (environment of a spawned CLI) and W3C trace
//! context (`traceparent` / `tracestate`) sent with create, resume and send, and handed to tool
//! handlers so a host can restore the span the CLI ran the tool under.

use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The CLI's OpenTelemetry export (the official SDKs' `telemetry` option). Setting it turns the
/// export on (`COPILOT_OTEL_ENABLED=true`); applies to a CLI this client spawns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelemetryConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/json`, `http/protobuf`).
    pub otlp_protocol: Option<String>,
    /// `COPILOT_OTEL_FILE_EXPORTER_PATH`: spans as JSON lines in this file.
    pub file_path: Option<String>,
    /// `COPILOT_OTEL_EXPORTER_TYPE` (`otlp-http`, `file`).
    pub exporter_type: Option<String>,
    /// `COPILOT_OTEL_SOURCE_NAME`.
    pub source_name: Option<String>,
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    pub capture_content: Option<bool>,
}

impl TelemetryConfig {
    /// From JSON: `{otlpEndpoint, otlpProtocol, filePath, exporterType, sourceName,
    /// captureContent}` (snake_case too). Unknown keys and wrong types are `invalid_config`.
    pub fn from_json(v: &Value) -> Result<TelemetryConfig> {
        let Value::Object(m) = v else {
            return Err(Error::config(format!("client option `telemetry` must be an object, got {v}")));
        };
        let mut t = TelemetryConfig::default();
        for (k, v) in m {
            let key = crate::config::camel_key(k);
            let text = |v: &Value| -> Result<Option<String>> {
                match v {
                    Value::Null => Ok(None),
                    Value::String(s) => Ok(Some(s.clone())),
                    other => Err(Error::config(format!("telemetry option `{key}` must be a string, got {other}"))),
                }
            };
            match key.as_str() {
                "otlpEndpoint" => t.otlp_endpoint = text(v)?,
                "otlpProtocol" => t.otlp_protocol = text(v)?,
                "filePath" => t.file_path = text(v)?,
                "exporterType" => t.exporter_type = text(v)?,
                "sourceName" => t.source_name = text(v)?,
                "captureContent" => {
                    t.capture_content = match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(*b),
                        other => {
                            return Err(Error::config(format!(
                                "telemetry option `captureContent` must be a boolean, got {other}"
                            )));
                        }
                    }
                }
                _ => {
                    return Err(Error::config(format!(
                        "unknown telemetry option `{k}` (otlpEndpoint, otlpProtocol, filePath, exporterType, sourceName, captureContent)"
                    )));
                }
            }
        }
        Ok(t)
    }

    /// The environment a spawned CLI gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut e = vec![("COPILOT_OTEL_ENABLED".to_owned(), "true".to_owned())];
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                e.push((k.to_owned(), v.clone()));
            }
        };
        put("OTEL_EXPORTER_OTLP_ENDPOINT", &self.otlp_endpoint);
        put("OTEL_EXPORTER_OTLP_PROTOCOL", &self.otlp_protocol);
        put("COPILOT_OTEL_FILE_EXPORTER_PATH", &self.file_path);
        put("COPILOT_OTEL_EXPORTER_TYPE", &self.exporter_type);
        put("COPILOT_OTEL_SOURCE_NAME", &self.source_name);
        put("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", &self.capture_content.map(|b| b.to_string()));
        e
    }
}

/// A W3C trace context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The trace id (32 hex digits) of a valid `traceparent`.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent.as_deref().filter(|t| valid_traceparent(t)).map(|t| &t[3..35])
    }
}

/// Asks the host for its current trace context (the official `onGetTraceContext`).
#[derive(Clone)]
pub struct TraceContextProvider(pub Arc<dyn Fn() -> TraceContext + Send + Sync>);

impl std::fmt::Debug for TraceContextProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceContextProvider")
    }
}

/// `version-traceid-parentid-flags`: `00-` + 32 + `-` + 16 + `-` + 2 lowercase hex digits, ids
/// not all zero (W3C Trace Context §3.2).
pub fn valid_traceparent(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex(parts[3], 2)
}

/// Checks the trace context a config or message carries.
pub(crate) fn check(traceparent: &Option<String>, tracestate: &Option<String>) -> Result<()> {
    if let Some(t) = traceparent {
        if !valid_traceparent(t) {
            return Err(Error::config(format!(
                "traceparent {t:?} is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)"
            )));
        }
    }
    if tracestate.is_some() && traceparent.is_none() {
        return Err(Error::config("tracestate needs a traceparent"));
    }
    Ok(())
}

/// Puts the trace context on a create / resume / send: the call's own, else the provider's.
pub(crate) fn put(
    params: &mut Map<String, Value>,
    traceparent: &Option<String>,
    tracestate: &Option<String>,
    provider: Option<&TraceContextProvider>,
) {
    if params.contains_key("traceparent") {
        return;
    }
    let ctx = match (traceparent, provider) {
        (Some(_), _) => TraceContext { traceparent: traceparent.clone(), tracestate: tracestate.clone() },
        (None, Some(p)) => (p.0)(),
        (None, None) => return,
    };
    if let Some(tp) = ctx.traceparent.filter(|t| valid_traceparent(t)) {
        params.insert("traceparent".into(), json!(tp));
        if let Some(ts) = ctx.tracestate {
            params.insert("tracestate".into(), json!(ts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_format() {
        assert!(valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(!valid_traceparent(bad), "{bad}");
        }
        let c = TraceContext {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: None,
        };
        assert_eq!(c.trace_id(), Some("0af7651916cd43dd8448eb211c80319c"));
    }

    #[test]
    fn telemetry_env() {
        let t =
            TelemetryConfig::from_json(&json!({"filePath": "/tmp/x", "exporter_type": "file", "captureContent": true}))
                .unwrap();
        let env = t.env();
        assert!(env.contains(&("COPILOT_OTEL_ENABLED".into(), "true".into())));
        assert!(env.contains(&("COPILOT_OTEL_FILE_EXPORTER_PATH".into(), "/tmp/x".into())));
        assert!(env.contains(&("COPILOT_OTEL_EXPORTER_TYPE".into(), "file".into())));
        assert!(env.contains(&("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT".into(), "true".into())));
        for bad in [json!({"nope": 1}), json!({"filePath": 3}), json!(2)] {
            assert_eq!(TelemetryConfig::from_json(&bad).unwrap_err().kind(), crate::ErrorKind::InvalidConfig);
        }
    }
}
