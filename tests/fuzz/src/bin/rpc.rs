//! AFL++ harness: arbitrary bytes as the incoming stream of a `copilot_core::rpc::Connection`
//! with one call pending (the invariants are in `copilot_fuzz::checks::check_rpc`).

fn main() {
    copilot_fuzz::run(copilot_fuzz::checks::check_rpc);
}
