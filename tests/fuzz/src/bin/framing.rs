//! AFL++ harness: arbitrary bytes into `copilot_core::framing::FrameReader`
//! (the invariants are in `copilot_fuzz::checks::check_framing`).

fn main() {
    copilot_fuzz::run(copilot_fuzz::checks::check_framing);
}
