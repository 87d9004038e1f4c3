//! The core's `tracing` output, to a JS function (`setLogHandler` of the package).
//!
//! A minimal process-wide `tracing` subscriber, installed the first time a handler is set:
//! each event at or above the chosen level becomes one call of a weak thread-safe function
//! (it never keeps Node alive) with the JSON text of `[level, target, message, fields]`.
//! Spans are not tracked (the core logs events). Without a handler nothing is recorded and
//! every callsite is disabled (the interest cache is rebuilt on each change).

use super::{JsSink, invalid};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};

/// The handler, when one is set.
static SINK: Mutex<Option<Arc<JsSink>>> = Mutex::new(None);
/// The most verbose level recorded: 0 off, 1 error … 5 trace.
static LEVEL: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn rank(l: &Level) -> usize {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

struct JsLog;

impl JsLog {
    fn wanted(meta: &Metadata<'_>) -> bool {
        rank(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    }
}

/// The event's `message` and its other fields.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, v: Value) {
        if field.name() == "message" {
            self.message = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.rest.insert(field.name().to_owned(), v);
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, json!(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

impl Subscriber for JsLog {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if Self::wanted(meta) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        Self::wanted(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match LEVEL.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if !Self::wanted(meta) {
            return;
        }
        let Some(sink) = SINK.lock().unwrap().clone() else { return };
        let mut f = Fields::default();
        event.record(&mut f);
        let record = json!([name(meta.level()), meta.target(), f.message, Value::Object(f.rest)]);
        sink.call(record.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Sends the core's log records at `level` (`error`, `warn`, `info` (default), `debug`,
/// `trace`) and above to `handler`, as the JSON text of `[level, target, message, fields]`;
/// null stops. The handler is weak: it never keeps Node alive.
#[napi(ts_args_type = "handler: ((record: string) => void) | null, level?: string | undefined | null")]
pub fn set_log_handler(handler: Option<JsSink>, level: Option<String>) -> Result<()> {
    let rank = match handler {
        None => 0,
        Some(_) => match level.as_deref().unwrap_or("info") {
            "error" => 1,
            "warn" | "warning" => 2,
            "info" => 3,
            "debug" => 4,
            "trace" => 5,
            other => {
                return Err(invalid(format!(
                    "log level must be one of error, warn, info, debug, trace; got {other:?}"
                )));
            }
        },
    };
    if rank > 0 {
        INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(JsLog).is_ok());
    }
    *SINK.lock().unwrap() = handler.map(Arc::new);
    LEVEL.store(rank, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}
