//! The core's `tracing` records, forwarded to Python's `logging` (logger `copilot`).
//!
//! A layer keeps the records at or above a threshold — the `copilot` logger's effective level,
//! read from Python at import and whenever a client or pool is made or started
//! ([`set_level`]) — formats them and queues them. One thread of ours takes the GIL and calls
//! `logger.log(level, text, extra={"target": ..., "fields": {...}})` for each. A runtime thread
//! never waits for the GIL to log: when the queue is full the record is dropped (counted, and
//! said with the next batch). Records below the threshold cost one atomic load (the global
//! max level hint is rebuilt when the threshold changes).

use crate::gate;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::cell::Cell;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Python's level below which records are not forwarded (WARNING until Python says).
static THRESHOLD: AtomicU8 = AtomicU8::new(30);
/// Records dropped because the queue was full, since the last batch.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Records queued at most.
const QUEUE: usize = 4096;

struct Queue {
    /// The process whose thread reads it: a forked child makes its own.
    pid: u32,
    tx: SyncSender<Record>,
}

static SENDER: Mutex<Option<Queue>> = Mutex::new(None);

thread_local! {
    /// Set on the logging thread: what it logs itself (a dropped delivery) is not forwarded.
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

struct Record {
    level: u8,
    target: &'static str,
    text: String,
    fields: Vec<(&'static str, String)>,
}

fn py_level(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

fn filter_for(threshold: u8) -> LevelFilter {
    match threshold {
        0..=5 => LevelFilter::TRACE,
        6..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=40 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// A record's `message` and its other fields, as text.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push((field.name(), format!("{value:?}")));
        }
    }
}

struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> Interest {
        // Asked again at every record: the threshold changes at run time.
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        meta.is_event() && py_level(meta.level()) >= THRESHOLD.load(Ordering::Relaxed) && !ON_LOG_THREAD.with(Cell::get)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(filter_for(THRESHOLD.load(Ordering::Relaxed)))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        let mut text = f.message;
        if !f.rest.is_empty() {
            text.push_str(" (");
            for (i, (k, v)) in f.rest.iter().enumerate() {
                let _ = write!(text, "{}{k}={v}", if i > 0 { ", " } else { "" });
            }
            text.push(')');
        }
        queue(Record { level: py_level(meta.level()), target: meta.target(), text, fields: f.rest });
    }
}

fn queue(r: Record) {
    let mut q = SENDER.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if q.as_ref().is_none_or(|q| q.pid != pid) {
        let (tx, rx) = sync_channel(QUEUE);
        if std::thread::Builder::new().name("copilot-log".into()).spawn(move || run(rx)).is_err() {
            return;
        }
        *q = Some(Queue { pid, tx });
    }
    if q.as_ref().is_none_or(|queue| queue.tx.try_send(r).is_err()) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// The logging thread: hands the queued records to `logging.getLogger("copilot")`.
fn run(rx: Receiver<Record>) {
    ON_LOG_THREAD.with(|c| c.set(true));
    let mut logger: Option<Py<PyAny>> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        let _ = gate::enter("log records", |py| -> PyResult<()> {
            let lg = match &logger {
                Some(l) => l.bind(py).clone(),
                None => {
                    let l = py.import("logging")?.call_method1("getLogger", ("copilot",))?;
                    logger = Some(l.clone().unbind());
                    l
                }
            };
            if dropped > 0 {
                let text = format!("{dropped} log records of the Rust core were dropped (the queue was full)");
                lg.call_method1("log", (30, text))?;
            }
            for r in batch {
                let fields = PyDict::new(py);
                for (k, v) in &r.fields {
                    fields.set_item(*k, v)?;
                }
                let extra = PyDict::new(py);
                extra.set_item("target", r.target)?;
                extra.set_item("fields", fields)?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("extra", extra)?;
                if let Err(e) = lg.call_method("log", (r.level, r.text), Some(&kwargs)) {
                    e.print(py);
                }
            }
            Ok(())
        });
    }
}

/// Forwards records at or above this Python level from now on.
pub fn set_level(level: i64) {
    let t = level.clamp(0, 255) as u8;
    if THRESHOLD.swap(t, Ordering::Relaxed) != t {
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Installs the layer as the global subscriber (once; a subscriber set before is kept), at the
/// `copilot` logger's effective level.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let level: i64 =
        py.import("logging")?.call_method1("getLogger", ("copilot",))?.call_method0("getEffectiveLevel")?.extract()?;
    set_level(level);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(ToPython));
    Ok(())
}

/// The `copilot` logger's effective level now decides which records of the core are forwarded.
#[pyfunction]
pub fn set_log_level(level: i64) {
    set_level(level);
}
