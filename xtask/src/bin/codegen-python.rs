//! Development entry point: writes (or `--check`s) only the python files of the typed protocol.
#[path = "../emitters/python.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
