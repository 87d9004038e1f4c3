//! The reaper: deletes stored sessions older than a maximum age or idle longer than a maximum
//! idle time — the backend guide's cleanup loop, built in. Never a session open on this client
//! (or pool) unless asked, never one whose lease another instance holds.

use crate::config::SessionMetadata;
use crate::error::{Error, ErrorKind, Result};
use crate::rpc::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What [`crate::Client::cleanup_sessions`] and [`crate::Pool::cleanup_sessions`] delete.
#[derive(Clone, Debug, Default)]
pub struct CleanupOptions {
    /// Delete sessions started longer ago than this.
    pub max_age: Option<Duration>,
    /// Delete sessions not modified for longer than this.
    pub max_idle: Option<Duration>,
    /// Also delete sessions open on this client (they are disconnected first). Default: skip them.
    pub include_open: bool,
}

impl CleanupOptions {
    fn check(&self) -> Result<()> {
        if self.max_age.is_none() && self.max_idle.is_none() {
            return Err(Error::config("cleanup_sessions needs max_age or max_idle (or both)"));
        }
        Ok(())
    }

    /// Whether a session with these times is past a limit, `now` in ms since the epoch.
    fn expired(&self, m: &SessionMetadata, now_ms: i64) -> bool {
        let past = |stamp: &str, limit: Option<Duration>| match (limit, parse_rfc3339_ms(stamp)) {
            (Some(limit), Some(t)) => now_ms - t > limit.as_millis() as i64,
            _ => false,
        };
        past(&m.start_time, self.max_age) || past(&m.modified_time, self.max_idle)
    }
}

impl CleanupOptions {
    /// From JSON: `maxAge`, `maxIdle` (seconds) and `includeOpen` (camelCase or snake_case).
    pub fn from_json(v: &serde_json::Value) -> Result<CleanupOptions> {
        let serde_json::Value::Object(m) = v else {
            return Err(Error::config("cleanup options must be an object"));
        };
        let mut o = CleanupOptions::default();
        for (k, v) in m {
            let secs = || match v.as_f64() {
                Some(s) if (0.0..1e12).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
                _ if v.is_null() => Ok(None),
                _ => Err(Error::config(format!(
                    "cleanup option `{k}` must be a non-negative number of seconds, got {v}"
                ))),
            };
            match k.as_str() {
                "maxAge" | "max_age" => o.max_age = secs()?,
                "maxIdle" | "max_idle" => o.max_idle = secs()?,
                "includeOpen" | "include_open" => {
                    o.include_open = match v {
                        serde_json::Value::Bool(b) => *b,
                        serde_json::Value::Null => false,
                        _ => return Err(Error::config(format!("cleanup option `{k}` must be a boolean, got {v}"))),
                    }
                }
                _ => return Err(Error::config(format!("unknown cleanup option `{k}`"))),
            }
        }
        o.check()?;
        Ok(o)
    }
}

/// Where the reaper lists and deletes: a client, or a pool.
pub(crate) trait Store: Send + Sync {
    fn list(&self) -> BoxFuture<'_, Result<Vec<SessionMetadata>>>;
    fn is_open(&self, id: &str) -> bool;
    /// Whether another holder leases the session now (false without a lease store).
    fn is_leased<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool>;
    fn disconnect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;
}

/// One sweep: what it deleted. A session another instance deleted meanwhile is not an error.
pub(crate) async fn sweep(store: &dyn Store, options: &CleanupOptions) -> Result<Vec<SessionMetadata>> {
    options.check()?;
    let now = now_ms();
    let mut deleted = Vec::new();
    for m in store.list().await? {
        if !options.expired(&m, now) {
            continue;
        }
        if store.is_open(&m.session_id) {
            if !options.include_open {
                continue;
            }
            store.disconnect(&m.session_id).await;
        } else if store.is_leased(&m.session_id).await {
            continue;
        }
        match store.delete(&m.session_id).await {
            Ok(()) => deleted.push(m),
            Err(e) if e.kind() == ErrorKind::SessionNotFound => {}
            Err(e) => return Err(e),
        }
    }
    if !deleted.is_empty() {
        tracing::info!(count = deleted.len(), "the reaper deleted old sessions");
    }
    Ok(deleted)
}

/// Hears each background sweep's result (what it deleted, or why it failed).
pub type SweepCallback = Arc<dyn Fn(Result<&[SessionMetadata]>) + Send + Sync>;

/// A background reaper: sweeps every `interval` until stopped or dropped.
pub struct Reaper {
    task: tokio::task::JoinHandle<()>,
}

impl Reaper {
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        interval: Duration,
        options: CleanupOptions,
        on_sweep: SweepCallback,
    ) -> Result<Reaper> {
        options.check()?;
        if interval.is_zero() {
            return Err(Error::config("the reaper's interval must be above zero"));
        }
        // Also from a host thread outside any runtime (a binding's synchronous call).
        let handle = tokio::runtime::Handle::try_current().unwrap_or_else(|_| crate::runtime().handle().clone());
        let task = handle.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match sweep(store.as_ref(), &options).await {
                    Ok(d) => on_sweep(Ok(&d)),
                    Err(e) => {
                        tracing::warn!("the reaper's sweep failed: {e}");
                        on_sweep(Err(e));
                    }
                }
            }
        });
        Ok(Reaper { task })
    }

    /// Stops sweeping (a sweep in progress is abandoned).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-11-23T19:43:22.726Z`, offsets and
/// any number of fraction digits accepted).
pub(crate) fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let ms = format!("{:0<3}", &digits[..digits.len().min(3)]);
        frac_ms = ms.parse().ok()?;
    }
    let offset_min = match &s[i..] {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + frac_ms)
}

/// Unix ms → `YYYY-MM-DDTHH:MM:SS.mmmZ` (the inverse of [`parse_rfc3339_ms`] for UTC).
pub(crate) fn format_rfc3339_ms(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // The civil date from days (Howard Hinnant's algorithm, inverted).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        for ms in [0, 1_795_463_002_726, 951_782_400_500, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(format_rfc3339_ms(1_795_463_002_726), "2026-11-23T19:43:22.726Z");
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("2026-11-23T19:43:22.726Z"), Some(1_795_463_002_726));
        assert_eq!(parse_rfc3339_ms("2026-11-23T20:43:22.7261+01:00"), Some(1_795_463_002_726));
        assert_eq!(parse_rfc3339_ms("2000-02-29T00:00:00.5Z"), Some(951_782_400_500));
        for bad in ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T19:43:22", "2026-11-23T19:43:22.Z", "x"] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry() {
        let m = |start: &str, modified: &str| SessionMetadata {
            session_id: "s".into(),
            start_time: start.into(),
            modified_time: modified.into(),
            created_at: start.into(),
            summary: None,
            is_remote: false,
            context: None,
            extra: Default::default(),
        };
        let now = parse_rfc3339_ms("2026-01-01T01:00:00Z").unwrap();
        let age = CleanupOptions { max_age: Some(Duration::from_secs(1800)), ..Default::default() };
        assert!(age.expired(&m("2026-01-01T00:00:00Z", "2026-01-01T00:59:00Z"), now));
        assert!(!age.expired(&m("2026-01-01T00:31:00Z", "2026-01-01T00:31:00Z"), now));
        let idle = CleanupOptions { max_idle: Some(Duration::from_secs(600)), ..Default::default() };
        assert!(!idle.expired(&m("2026-01-01T00:00:00Z", "2026-01-01T00:59:00Z"), now));
        assert!(idle.expired(&m("2026-01-01T00:00:00Z", "2026-01-01T00:40:00Z"), now));
        assert!(!idle.expired(&m("garbage", "garbage"), now), "unparsable times are kept");
        assert!(CleanupOptions::default().check().is_err());
    }
}
