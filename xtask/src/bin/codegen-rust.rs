//! Development entry point: writes (or `--check`s) only the rust files of the typed protocol.
#[path = "../emitters/rust.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
