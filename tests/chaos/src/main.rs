//! `copilot-chaos`: fault injection for the SDK tests of every language.
//!
//! ```text
//! copilot-chaos proxy --target PORT [--listen PORT]
//! copilot-chaos peer --mode MODE [--listen PORT] [--answer-pings]
//! ```
//!
//! Both subcommands bind 127.0.0.1 only (port 0, the default, picks a free
//! one), print exactly one line `listening on port N` on stdout once ready,
//! then read commands from stdin, one per line, and answer each with one line
//! `ok <cmd>` or `error <why>` once it took effect. EOF on stdin ends the
//! process, so a test that dies leaves no orphan behind.
//!
//! See `proxy.rs` (a lossy loopback TCP proxy) and `peer.rs` (a hostile
//! JSON-RPC server), and README.md for how tests use them.

mod control;
mod peer;
mod proxy;

use std::process::ExitCode;

const USAGE: &str = "usage:
  copilot-chaos proxy --target PORT [--listen PORT]
  copilot-chaos peer --mode MODE [--listen PORT] [--answer-pings]
      MODE: silent | unknown-id | bad-header | garbage-json | huge | close-mid-reply";

enum Command {
    Proxy(proxy::Config),
    Peer(peer::Config),
}

/// Parses the command line. Flags take their value as `--flag VALUE` or
/// `--flag=VALUE`.
fn parse(args: Vec<String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let sub = args.next().ok_or("missing subcommand")?;
    if sub == "--help" || sub == "-h" {
        println!("{USAGE}");
        std::process::exit(0);
    }
    let mut target = None;
    let mut listen = 0;
    let mut mode = None;
    let mut answer_pings = false;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
        match (sub.as_str(), flag.as_str()) {
            ("proxy", "--target") => target = Some(port(&value()?)?),
            ("proxy" | "peer", "--listen") => listen = port(&value()?)?,
            ("peer", "--mode") => mode = Some(value()?.parse::<peer::Mode>()?),
            ("peer", "--answer-pings") if inline.is_none() => answer_pings = true,
            _ => return Err(format!("unknown argument {flag:?} for {sub:?}")),
        }
    }
    match sub.as_str() {
        "proxy" => {
            let target = target.ok_or("proxy needs --target PORT")?;
            if listen == target {
                return Err(format!("the proxy cannot forward port {target} to itself"));
            }
            Ok(Command::Proxy(proxy::Config { target, listen }))
        }
        "peer" => {
            let mode = mode.ok_or("peer needs --mode MODE")?;
            Ok(Command::Peer(peer::Config { mode, listen, answer_pings }))
        }
        other => Err(format!("unknown subcommand {other:?}")),
    }
}

fn port(text: &str) -> Result<u16, String> {
    text.parse().map_err(|_| format!("invalid port {text:?}"))
}

// One thread is plenty: the tool moves a few test connections at a time, and
// the machine running the tests is small.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let command = match args.map_err(|a| format!("invalid argument {a:?}")).and_then(parse) {
        Ok(command) => command,
        Err(why) => {
            eprintln!("copilot-chaos: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Proxy(config) => proxy::run(config).await,
        Command::Peer(config) => peer::run(config).await,
    };
    match result {
        // stdin reached EOF. Exit right here rather than waiting for the
        // runtime to wind down the connection tasks: the kernel closes every
        // socket anyway.
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("copilot-chaos: {e}");
            ExitCode::FAILURE
        }
    }
}
