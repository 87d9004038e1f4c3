//! Counters a host can export: calls, errors by code, reconnects, failovers, open sessions and a
//! turn-latency histogram, per client (one CLI server) and per pool. A snapshot is JSON (the same
//! shape in every language); [`prometheus_text`] renders snapshots in the Prometheus text format.

use crate::error::Error;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the turn-latency histogram's buckets; `+Inf` is implied.
pub const TURN_BUCKETS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// The counters of one client (one CLI server). Cheap to update from any task.
#[derive(Default)]
pub struct Metrics {
    calls: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    reconnects: AtomicU64,
    connection_losses: AtomicU64,
    failovers_in: AtomicU64,
    failovers_out: AtomicU64,
    turns: Mutex<Histogram>,
}

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; TURN_BUCKETS.len() + 1],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub(crate) fn call_done(&self, result: Result<(), &Error>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            self.error(e);
        }
    }

    pub(crate) fn error(&self, e: &Error) {
        *self.errors.lock().unwrap().entry(e.code()).or_default() += 1;
    }

    pub(crate) fn turn_done(&self, took: Duration, error: Option<&Error>) {
        match error {
            Some(e) => self.error(e),
            None => {
                let secs = took.as_secs_f64();
                let mut h = self.turns.lock().unwrap();
                let i = TURN_BUCKETS.iter().position(|b| secs <= *b).unwrap_or(TURN_BUCKETS.len());
                h.counts[i] += 1;
                h.count += 1;
                h.sum += secs;
            }
        }
    }

    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_lost(&self) {
        self.connection_losses.fetch_add(1, Ordering::Relaxed);
    }

    /// A session moved here from another server of its pool (`true`), or away (`false`).
    pub(crate) fn failover(&self, arrived: bool) {
        let c = if arrived { &self.failovers_in } else { &self.failovers_out };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now, with the number of sessions open: `{calls, errors: {code: n},
    /// reconnects, connectionLosses, failoversIn, failoversOut, openSessions, turns: {count,
    /// sumSeconds, buckets: [{le, count}] (cumulative)}}`.
    pub fn snapshot(&self, open_sessions: usize) -> Value {
        let h = self.turns.lock().unwrap().clone();
        let mut cumulative = 0;
        let mut buckets: Vec<Value> = TURN_BUCKETS
            .iter()
            .zip(h.counts.iter())
            .map(|(le, n)| {
                cumulative += n;
                json!({"le": le, "count": cumulative})
            })
            .collect();
        buckets.push(json!({"le": "+Inf", "count": h.count}));
        let errors: Map<String, Value> =
            self.errors.lock().unwrap().iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        json!({
            "calls": self.calls.load(Ordering::Relaxed),
            "errors": errors,
            "reconnects": self.reconnects.load(Ordering::Relaxed),
            "connectionLosses": self.connection_losses.load(Ordering::Relaxed),
            "failoversIn": self.failovers_in.load(Ordering::Relaxed),
            "failoversOut": self.failovers_out.load(Ordering::Relaxed),
            "openSessions": open_sessions,
            "turns": {"count": h.count, "sumSeconds": h.sum, "buckets": buckets},
        })
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders client snapshots (each labelled with its server URL) in the Prometheus text
/// exposition format, plus pool-wide counters when given (`{failovers, leases: {...},
/// reaped, healthyServers, ...}` as numbers).
pub fn prometheus_text(servers: &[(String, Value)], pool: Option<&Value>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let simple: [(&str, &str, &str, &str); 6] = [
        ("copilot_calls_total", "counter", "calls", "JSON-RPC requests sent to the CLI server."),
        ("copilot_reconnects_total", "counter", "reconnects", "Connections to the CLI server restored."),
        ("copilot_connection_losses_total", "counter", "connectionLosses", "Connections to the CLI server lost."),
        ("copilot_failovers_in_total", "counter", "failoversIn", "Sessions moved to this server from another."),
        ("copilot_failovers_out_total", "counter", "failoversOut", "Sessions moved away from this server."),
        ("copilot_open_sessions", "gauge", "openSessions", "Sessions open on this server by this client."),
    ];
    for (name, kind, key, help) in simple {
        family(&mut out, name, kind, help);
        for (url, s) in servers {
            let _ = writeln!(out, "{name}{{server=\"{}\"}} {}", escape_label(url), num(s, key));
        }
    }
    family(&mut out, "copilot_errors_total", "counter", "Failed calls and turns, by error code.");
    for (url, s) in servers {
        if let Some(errors) = s.get("errors").and_then(Value::as_object) {
            for (code, n) in errors {
                let _ =
                    writeln!(out, "copilot_errors_total{{server=\"{}\",code=\"{}\"}} {}", escape_label(url), code, n);
            }
        }
    }
    family(&mut out, "copilot_turn_seconds", "histogram", "Duration of answered send-and-wait turns.");
    for (url, s) in servers {
        let t = &s["turns"];
        let url = escape_label(url);
        for b in t.get("buckets").and_then(Value::as_array).into_iter().flatten() {
            let le = match &b["le"] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let _ = writeln!(out, "copilot_turn_seconds_bucket{{server=\"{url}\",le=\"{le}\"}} {}", num(b, "count"));
        }
        let _ = writeln!(out, "copilot_turn_seconds_sum{{server=\"{url}\"}} {}", num(t, "sumSeconds"));
        let _ = writeln!(out, "copilot_turn_seconds_count{{server=\"{url}\"}} {}", num(t, "count"));
    }
    if let Some(pool) = pool {
        family(&mut out, "copilot_server_healthy", "gauge", "1 when the pool can reach the server.");
        for s in pool.get("servers").and_then(Value::as_array).into_iter().flatten() {
            let url = escape_label(s.get("url").and_then(Value::as_str).unwrap_or_default());
            let up = s.get("healthy").and_then(Value::as_bool).unwrap_or(false) as u8;
            let _ = writeln!(out, "copilot_server_healthy{{server=\"{url}\"}} {up}");
        }
        let totals: [(&str, &str, &str); 6] = [
            ("copilot_pool_failovers_total", "failovers", "Sessions moved to another server of the pool."),
            ("copilot_pool_leases_acquired_total", "leasesAcquired", "Session leases acquired."),
            ("copilot_pool_leases_lost_total", "leasesLost", "Session leases lost while held."),
            ("copilot_pool_lease_waits_total", "leaseWaits", "Lease acquisitions that waited for another holder."),
            ("copilot_reaped_sessions_total", "reaped", "Sessions deleted by the reaper."),
            ("copilot_pool_placement_errors_total", "placementErrors", "Sessions that no server could take."),
        ];
        for (name, key, help) in totals {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", num(pool, key));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn snapshot_and_text() {
        let m = Metrics::default();
        m.call_done(Ok(()));
        m.call_done(Err(&Error::new(ErrorKind::Timeout, "x")));
        m.turn_done(Duration::from_millis(70), None);
        m.turn_done(Duration::from_secs(400), None);
        m.turn_done(Duration::from_secs(1), Some(&Error::new(ErrorKind::SessionError, "boom")));
        let s = m.snapshot(3);
        assert_eq!(s["calls"], 2);
        assert_eq!(s["errors"]["timeout"], 1);
        assert_eq!(s["errors"]["session_error"], 1);
        assert_eq!(s["openSessions"], 3);
        assert_eq!(s["turns"]["count"], 2);
        let b = s["turns"]["buckets"].as_array().unwrap();
        assert_eq!(b[0]["count"], 0);
        assert_eq!(b[1]["count"], 1);
        assert_eq!(b.last().unwrap()["count"], 2);
        assert_eq!(b[b.len() - 2]["count"], 1, "400 s is only in +Inf");
        let text = prometheus_text(&[("127.0.0.1:1\"x".into(), s)], None);
        assert!(text.contains("copilot_calls_total{server=\"127.0.0.1:1\\\"x\"} 2"), "{text}");
        assert!(text.contains("copilot_errors_total{server=\"127.0.0.1:1\\\"x\",code=\"timeout\"} 1"), "{text}");
        assert!(text.contains("copilot_turn_seconds_bucket{server=\"127.0.0.1:1\\\"x\",le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("# TYPE copilot_turn_seconds histogram"));
    }
}
