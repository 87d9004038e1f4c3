//! Development entry point: writes (or `--check`s) only the c files of the typed protocol.
#[path = "../emitters/c.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
