//! Replays the committed fuzz corpus (`tests/fuzz/corpus/{framing,rpc}`) and every saved crash or
//! hang (`tests/fuzz/regressions/{framing,rpc}-*`) through the same checks as the AFL++ harnesses
//! (`tests/fuzz/src/checks.rs`, included here). Each input runs on its own thread with a wall-clock
//! deadline, so a panic or a hang fails the test and names the file.

#[path = "../../tests/fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Wall-clock bound for one input (they take milliseconds; the checks bound their own waits in
/// virtual time, so this only catches a busy loop).
const DEADLINE: Duration = Duration::from_secs(60);

fn fuzz_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz");
    dir.canonicalize().unwrap_or(dir)
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("cannot list a fuzz directory").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .collect();
    out.sort();
    out
}

/// Runs `check` on one input on a fresh thread; the failure, if any.
fn run_one(check: fn(&tokio::runtime::Runtime, &[u8]), path: &Path) -> Option<String> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (done_tx, done_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let rt = checks::runtime();
        check(&rt, &data);
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(DEADLINE) {
        Ok(()) => {
            worker.join().expect("the check thread ended badly");
            None
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().expect_err("the check thread ended without finishing");
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("{}: panicked: {message}", path.display()))
        }
        // The thread is left behind; the test fails anyway.
        Err(mpsc::RecvTimeoutError::Timeout) => Some(format!("{}: hang (no result in {DEADLINE:?})", path.display())),
    }
}

fn replay(target: &str, check: fn(&tokio::runtime::Runtime, &[u8])) {
    let corpus = files(&fuzz_dir().join("corpus").join(target), "");
    assert!(corpus.len() >= 10, "tests/fuzz/corpus/{target} is missing or nearly empty ({} files)", corpus.len());
    let regressions = files(&fuzz_dir().join("regressions"), &format!("{target}-"));
    let failures: Vec<String> = corpus.iter().chain(&regressions).filter_map(|path| run_one(check, path)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} {target} inputs failed:\n{}",
        failures.len(),
        corpus.len() + regressions.len(),
        failures.join("\n")
    );
    eprintln!("{target}: {} corpus files and {} regressions pass", corpus.len(), regressions.len());
}

#[test]
fn framing_corpus_and_regressions() {
    replay("framing", checks::check_framing);
}

#[test]
fn rpc_corpus_and_regressions() {
    replay("rpc", checks::check_rpc);
}
