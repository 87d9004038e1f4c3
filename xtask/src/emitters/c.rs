//! The C emitter: the protocol's method and event-type names as `#define`s of `copilot.h`.
//! Values stay JSON in the C ABI: these names are what a C program passes to
//! `copilot_session_rpc` or compares an event's `type` with. cbindgen cannot write string
//! constants, so the emitter writes the fragment `bindings-c/src/protocol_names.h` and
//! `bindings-c/build.rs` puts it into the header after its includes.

use std::path::Path;
use xtask::protocol::emit::{File, header};
use xtask::protocol::model::{Model, Scope, snake};

fn screaming(wire: &str) -> String {
    snake(wire).to_uppercase()
}

pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let mut s =
        format!("/* {} */\n\n/* The protocol's method and event-type names. */\n", header(m).replace("*/", "* /"));
    for (scope, what) in [
        (Scope::Server, "server method (copilot_client_rpc)"),
        (Scope::Session, "session method (copilot_session_rpc; sessionId is added)"),
        (Scope::ClientSession, "request the CLI sends to the host for one session"),
        (Scope::ClientGlobal, "request the CLI sends to the host for the connection"),
    ] {
        for mth in m.methods_of(scope) {
            let internal = if mth.internal { " Internal: SDK plumbing." } else { "" };
            s += &format!(
                "\n/** {}: {what}.{internal} */\n#define COPILOT_METHOD_{} \"{}\"\n",
                mth.wire,
                screaming(&mth.wire),
                mth.wire
            );
        }
    }
    for e in &m.events {
        s += &format!(
            "\n/** Session event type {}. */\n#define COPILOT_EVENT_{} \"{}\"\n",
            e.wire,
            screaming(&e.wire),
            e.wire
        );
    }
    let count = |scope| m.methods_of(scope).count();
    s += &format!(
        "\n/** How many server methods, session methods and session event types the schema lists. */\n#define COPILOT_SERVER_METHOD_COUNT {}\n#define COPILOT_SESSION_METHOD_COUNT {}\n#define COPILOT_EVENT_TYPE_COUNT {}\n",
        count(Scope::Server),
        count(Scope::Session),
        m.events.len()
    );
    vec![(root.join("bindings-c/src/protocol_names.h"), s)]
}
