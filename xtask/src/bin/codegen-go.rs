//! Development entry point: writes (or `--check`s) only the go files of the typed protocol.
#[path = "../emitters/go.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
