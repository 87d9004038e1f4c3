//! Log forwarding: the core's `tracing` records (level, target, message with its fields) go to
//! the host's log callback, on the dispatcher thread, in the order they were emitted.
//!
//! The library installs its own process-wide `tracing` subscriber the first time
//! `copilot_set_log_callback` is called (refused when the process already has one, e.g. a Rust
//! host that set up `tracing-subscriber`). Records never start the dispatcher thread: after
//! `copilot_shutdown` (which also clears the callback) nothing is forwarded, so a host that
//! ended the thread (a .NET host on Mono) gets no foreign-thread call afterwards.

use crate::rt::{self, Failure, UserData, c_string, lock};
use crate::{COPILOT_ERR_INVALID_ARGUMENT, CopilotStatus};
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// No record is forwarded.
pub const COPILOT_LOG_OFF: CopilotStatus = 0;
/// Errors only.
pub const COPILOT_LOG_ERROR: CopilotStatus = 1;
/// Warnings and errors.
pub const COPILOT_LOG_WARN: CopilotStatus = 2;
/// Information (a server lost, a session moved, a drain, ...), warnings and errors.
pub const COPILOT_LOG_INFO: CopilotStatus = 3;
/// Debugging detail too.
pub const COPILOT_LOG_DEBUG: CopilotStatus = 4;
/// Everything.
pub const COPILOT_LOG_TRACE: CopilotStatus = 5;

/// A log callback that is set.
pub(crate) type LogFn =
    unsafe extern "C" fn(user_data: *mut c_void, level: i32, target: *const c_char, message: *const c_char);

struct Sink {
    cb: LogFn,
    ud: UserData,
    /// Bumped by every change: a record queued for an earlier callback is dropped.
    generation: u64,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The most detailed level forwarded (COPILOT_LOG_*), read by `enabled` on every record.
static LEVEL: AtomicI32 = AtomicI32::new(COPILOT_LOG_OFF);
/// Whether our subscriber is the process's (`Some(false)`: another one was there first).
static INSTALLED: Mutex<Option<bool>> = Mutex::new(None);

fn number(level: &Level) -> i32 {
    match *level {
        Level::ERROR => COPILOT_LOG_ERROR,
        Level::WARN => COPILOT_LOG_WARN,
        Level::INFO => COPILOT_LOG_INFO,
        Level::DEBUG => COPILOT_LOG_DEBUG,
        Level::TRACE => COPILOT_LOG_TRACE,
    }
}

fn filter(level: i32) -> LevelFilter {
    match level {
        COPILOT_LOG_ERROR => LevelFilter::ERROR,
        COPILOT_LOG_WARN => LevelFilter::WARN,
        COPILOT_LOG_INFO => LevelFilter::INFO,
        COPILOT_LOG_DEBUG => LevelFilter::DEBUG,
        COPILOT_LOG_TRACE => LevelFilter::TRACE,
        _ => LevelFilter::OFF,
    }
}

/// `copilot_set_log_callback`: `cb` None (or level OFF) stops forwarding.
pub(crate) fn set(level: i32, cb: Option<LogFn>, ud: UserData) -> Result<(), Failure> {
    if !(COPILOT_LOG_OFF..=COPILOT_LOG_TRACE).contains(&level) {
        return Err(Failure::abi(
            COPILOT_ERR_INVALID_ARGUMENT,
            format!("`level` must be COPILOT_LOG_OFF (0) .. COPILOT_LOG_TRACE (5), got {level}"),
        ));
    }
    let level = if cb.is_some() { level } else { COPILOT_LOG_OFF };
    if level != COPILOT_LOG_OFF {
        let mut installed = lock(&INSTALLED);
        if installed.is_none() {
            *installed = Some(tracing::subscriber::set_global_default(Forwarder::default()).is_ok());
        }
        if *installed == Some(false) {
            return Err(Failure::abi(
                COPILOT_ERR_INVALID_ARGUMENT,
                "the process already has a global tracing subscriber: the library's records go there",
            ));
        }
        // Records are delivered only while the dispatcher runs: start it now.
        rt::enqueue(Box::new(|| {}));
    }
    {
        let mut sink = lock(&SINK);
        let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
        *sink = cb.filter(|_| level != COPILOT_LOG_OFF).map(|cb| Sink { cb, ud, generation });
        LEVEL.store(level, Ordering::SeqCst);
    }
    // The callsites cache their interest and the global maximum level: recompute both.
    tracing::callsite::rebuild_interest_cache();
    // A record of the previous callback that is still queued runs before this returns (unless
    // we are on the dispatcher thread, where none can be running).
    rt::barrier_if_running();
    Ok(())
}

/// For `copilot_shutdown`: no record is forwarded afterwards.
pub(crate) fn clear() {
    let had = lock(&SINK).take().is_some();
    if had {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        LEVEL.store(COPILOT_LOG_OFF, Ordering::SeqCst);
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The library's subscriber: keeps no span state, renders each event's message and fields into
/// one line and queues it for the callback.
#[derive(Default)]
struct Forwarder {
    next_span: AtomicU64,
}

/// Renders the `message` field, then the others as ` key=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) { Interest::always() } else { Interest::never() }
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(filter(LEVEL.load(Ordering::SeqCst)))
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        number(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let level = number(meta.level());
        let (cb, ud, generation) = match &*lock(&SINK) {
            Some(s) if level <= LEVEL.load(Ordering::Relaxed) => (s.cb, s.ud, s.generation),
            _ => return,
        };
        let mut line = Line::default();
        event.record(&mut line);
        line.message.push_str(&line.fields);
        let target = c_string(meta.target().to_owned());
        let message = c_string(line.message);
        rt::enqueue_if_running(Box::new(move || {
            if GENERATION.load(Ordering::SeqCst) == generation {
                unsafe { cb(ud.ptr(), level, target.as_ptr(), message.as_ptr()) };
            }
        }));
    }
}
