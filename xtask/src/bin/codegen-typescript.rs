//! Development entry point: writes (or `--check`s) only the typescript files of the typed protocol.
#[path = "../emitters/typescript.rs"]
mod emitter;

fn main() -> std::process::ExitCode {
    xtask::protocol::emit::dev_main(emitter::files)
}
