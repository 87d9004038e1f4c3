//! The strict test mode: real traffic checked against the generated types.
//!
//! On when `COPILOT_STRICT_TYPES=1` (or after [`enable`]). Every session event and every typed
//! result is read with its type; what the type cannot read (a wrong JSON type, a missing
//! required field) is a failure; event types, fields and enum values the schema does not know
//! are counted (the types are a view, so they are not failures). Off, it costs one atomic load
//! per event.

use super::events::Event;
use crate::SessionEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

static MODE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 off, 2 on
static UNKNOWN_ENUM: AtomicU64 = AtomicU64::new(0);
static UNKNOWN_VARIANT: AtomicU64 = AtomicU64::new(0);
static STATS: Mutex<Option<Stats>> = Mutex::new(None);

/// What the strict mode saw so far in this process.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub results: u64,
    /// Event types the schema does not list, with how often each came.
    pub unknown_event_types: BTreeMap<String, u64>,
    /// Fields the types do not have (`event-type.data.path.field` or `method.path.field`).
    pub unknown_fields: BTreeMap<String, u64>,
    pub unknown_enum_values: u64,
    pub unknown_union_variants: u64,
    /// What the types could not read.
    pub failures: Vec<String>,
}

/// Whether the strict mode is on.
pub fn enabled() -> bool {
    match MODE.load(Ordering::Relaxed) {
        2 => true,
        1 => false,
        _ => {
            let on = std::env::var("COPILOT_STRICT_TYPES").is_ok_and(|v| v == "1");
            MODE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

/// Turns the strict mode on for this process.
pub fn enable() {
    MODE.store(2, Ordering::Relaxed);
}

/// A snapshot of what was checked.
pub fn stats() -> Stats {
    let mut s = STATS.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
    s.unknown_enum_values = UNKNOWN_ENUM.load(Ordering::Relaxed);
    s.unknown_union_variants = UNKNOWN_VARIANT.load(Ordering::Relaxed);
    s
}

/// The one-line summary the test suites print.
pub fn report() -> String {
    let s = stats();
    let types: Vec<&str> = s.unknown_event_types.keys().map(String::as_str).collect();
    format!(
        "strict types: {} events, {} results checked; unknown: {} event types ({}), {} fields, {} enum values; failures: {}",
        s.events,
        s.results,
        s.unknown_event_types.len(),
        types.join(", "),
        s.unknown_fields.len(),
        s.unknown_enum_values + s.unknown_union_variants,
        s.failures.len()
    )
}

pub(crate) fn unknown_enum_value() {
    UNKNOWN_ENUM.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn unknown_variant() {
    UNKNOWN_VARIANT.fetch_add(1, Ordering::Relaxed);
}

fn with(f: impl FnOnce(&mut Stats)) {
    let mut g = STATS.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Stats::default));
}

/// Checks one event (called by the session for every event, in strict mode only).
pub(crate) fn observe_event(ev: &SessionEvent) {
    if !enabled() {
        return;
    }
    match Event::decode(&ev.event_type, &ev.data) {
        Ok(Event::Unknown) => with(|s| {
            s.events += 1;
            *s.unknown_event_types.entry(ev.event_type.clone()).or_default() += 1;
        }),
        Ok(typed) => {
            let back = event_data(&typed);
            let mut unknown = Vec::new();
            extra_keys(&ev.data, &back, &format!("{}.data", ev.event_type), &mut unknown);
            with(|s| {
                s.events += 1;
                for u in unknown {
                    *s.unknown_fields.entry(u).or_default() += 1;
                }
            });
        }
        Err(e) => with(|s| {
            s.events += 1;
            s.failures.push(format!("event {}: {e}; data: {}", ev.event_type, clip(&ev.data)));
        }),
    }
}

fn event_data(e: &Event) -> Value {
    // The data written back: what the types kept.
    super::events::data_value(e)
}

/// Reads a result as `T`; in strict mode records failures and unknown fields.
pub(crate) fn read<T: DeserializeOwned + Serialize>(v: &Value, method: &str) -> Result<T, serde_json::Error> {
    let r = T::deserialize(v);
    if enabled() {
        match &r {
            Ok(t) => {
                let back = serde_json::to_value(t).unwrap_or(Value::Null);
                let mut unknown = Vec::new();
                extra_keys(v, &back, method, &mut unknown);
                with(|s| {
                    s.results += 1;
                    for u in unknown {
                        *s.unknown_fields.entry(u).or_default() += 1;
                    }
                });
            }
            Err(e) => with(|s| {
                s.results += 1;
                s.failures.push(format!("result of {method}: {e}; value: {}", clip(v)));
            }),
        }
    }
    r
}

fn clip(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 300 {
        return s;
    }
    let mut end = 300;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Keys of `raw` that `typed` (the value written back from the types) lacks, as paths. A raw
/// `null` counts as absent; array items are compared pairwise.
fn extra_keys(raw: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (raw, typed) {
        (Value::Object(r), Value::Object(t)) => {
            for (k, v) in r {
                match t.get(k) {
                    Some(tv) => extra_keys(v, tv, &format!("{path}.{k}"), out),
                    None if v.is_null() => {}
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(r), Value::Array(t)) => {
            for (rv, tv) in r.iter().zip(t) {
                extra_keys(rv, tv, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_keys_are_paths_and_nulls_are_absent() {
        let mut out = Vec::new();
        extra_keys(
            &json!({"a": 1, "b": null, "c": {"d": 1, "e": 2}, "l": [{"x": 1, "y": 2}]}),
            &json!({"a": 1, "c": {"d": 1}, "l": [{"x": 1}]}),
            "t",
            &mut out,
        );
        assert_eq!(out, ["t.c.e", "t.l[].y"]);
    }

    #[test]
    fn events_are_checked_and_counted() {
        enable();
        let ev = |t: &str, data: Value| SessionEvent {
            id: "1".into(),
            timestamp: String::new(),
            parent_id: None,
            event_type: t.into(),
            data,
            ephemeral: false,
            agent_id: None,
            extra: Default::default(),
        };
        let before = stats();
        observe_event(&ev("session.idle", json!({"extraField": true})));
        observe_event(&ev("no.such_event", json!({})));
        observe_event(&ev("assistant.message", json!({"content": 5})));
        let after = stats();
        assert_eq!(after.events - before.events, 3);
        assert!(after.unknown_fields.contains_key("session.idle.data.extraField"), "{after:?}");
        assert!(after.unknown_event_types.contains_key("no.such_event"));
        assert_eq!(after.failures.len() - before.failures.len(), 1, "{:?}", after.failures);
        assert!(after.failures.last().unwrap().starts_with("event assistant.message:"));
    }
}
