//! Development entry point: writes (or `--check`s) only the csharp files of the typed protocol.
#[path = "../emitters/csharp.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
