//! `fake-model [--port N] [--log FILE] [--ignore-stdin]`
//!
//! Binds 127.0.0.1:N (default 0 = any free port), prints exactly one line
//! `fake-model listening on http://127.0.0.1:PORT/v1` to stdout, then serves
//! until killed or until its stdin reaches EOF (so the process goes away with
//! the test process that spawned it). On Unix, stdin is only watched when it is
//! a pipe or a socket: `/dev/null` or a regular file would hit EOF at once, and
//! reading a terminal from a background job would stop the process, so those
//! are ignored. `--ignore-stdin` disables the watch. Spawners that want the
//! "dies with its parent" behaviour should give it a pipe as stdin and keep
//! the write end open.
//! `--log FILE` appends each request as one JSON line
//! `{"method","path","body","authorization"}`.

use fake_model::FakeModel;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: fake-model [--port N] [--log FILE] [--ignore-stdin]";

struct Args {
    port: u16,
    log: Option<PathBuf>,
    ignore_stdin: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { port: 0, log: None, ignore_stdin: false };
    let mut it = std::env::args_os().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.into_string().map_err(|a| format!("invalid argument {a:?}"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().and_then(|v| v.into_string().ok()).ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "--port" | "-p" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("invalid port {v:?}"))?;
            }
            "--log" => args.log = Some(PathBuf::from(value("--log")?)),
            "--ignore-stdin" => args.ignore_stdin = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Whether reaching EOF on stdin means "the parent is gone".
#[cfg(unix)]
fn stdin_is_watchable() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let stdin = io::stdin();
    let Ok(fd) = stdin.as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(m) => {
            let t = m.file_type();
            t.is_fifo() || t.is_socket()
        }
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn stdin_is_watchable() -> bool {
    true
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fake-model: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-model: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
        let started = match &args.log {
            Some(log) => FakeModel::start_with_log(addr, log).await,
            None => FakeModel::start_on(addr).await,
        };
        let server = match started {
            Ok(server) => server,
            Err(e) => {
                eprintln!("fake-model: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "fake-model listening on {}", server.base_url());
            let _ = out.flush();
        }

        let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
        if !args.ignore_stdin && stdin_is_watchable() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut stdin = io::stdin().lock();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let _ = eof_tx.send(());
            });
        } else {
            // Keep the sender alive forever so the receiver never resolves.
            std::mem::forget(eof_tx);
        }
        let _ = eof_rx.await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
