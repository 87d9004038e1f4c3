//! The TypeScript emitter (see model.rs for the model it reads).
//!
//! Writes three files of `bindings-node/`:
//! - `protocol.d.ts`: every named type (structs as interfaces, string enums as literal unions,
//!   tagged unions as TS unions, aliases), every event (`AssistantMessageEvent`, the
//!   `KnownSessionEvent` union, `SessionEventType`, `SessionEventMap`, and `OtherSessionEvent` for
//!   types newer than the schema), and the typed RPC namespaces (`ServerRpc`, `SessionRpc`, one
//!   interface per namespace node: `SessionRpcModel`, …), and `HookTypes`: each hook type with its
//!   typed input and output (index.d.ts types `SessionHooks` from it).
//! - `protocol.js`: the small runtime table the namespaces are built from (path, wire method,
//!   params kind, void result), the event type list and the hook table (type → input and output
//!   type names; index.js checks hook inputs with it in strict mode).
//! - `protocol-types.json`: a compact description of every type, read only in strict test mode
//!   (`COPILOT_STRICT_TYPES=1`) by `strict.js`.
//!
//! Names: the model's names are kept. A model name that clashes with a global TypeScript type the
//! generated code uses (`Promise`, `Record`, …) panics here (none does); a name that clashes with
//! a hand-written export of `index.d.ts` is shadowed there by the hand-written one and stays
//! reachable as `Protocol.X` (and from `@copilot-hub/node/protocol`).
//!
//! Typing choices: date-time fields stay `string` (RFC 3339; JSON has no date), string enums
//! and unions are closed in the types (a value the schema does not know still arrives as is at
//! run time: nothing decodes in JS; strict mode counts it), an untyped value is `unknown`.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use xtask::protocol::emit::{self, File};
use xtask::protocol::model::{Method, Model, Scope, Ty, TypeDef, pascal};

/// Global types the generated code refers to: a model type may not take these names.
const RESERVED: &[&str] =
    &["Promise", "Record", "Array", "Date", "String", "Number", "Boolean", "Object", "RpcOptions"];

fn doc(out: &mut String, indent: &str, text: Option<&str>, extra: &[String]) {
    let mut lines: Vec<String> = Vec::new();
    if let Some(t) = text {
        lines.extend(t.replace("*/", "*\\/").lines().map(|l| l.trim_end().to_string()));
    }
    for e in extra {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(e.clone());
    }
    if lines.is_empty() {
        return;
    }
    if lines.len() == 1 {
        let _ = writeln!(out, "{indent}/** {} */", lines[0]);
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    for l in lines {
        if l.is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {l}");
        }
    }
    let _ = writeln!(out, "{indent} */");
}

fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == '$')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn prop(s: &str) -> String {
    if is_ident(s) { s.to_string() } else { lit(s) }
}

/// The TypeScript type of `t`.
fn ts(t: &Ty) -> String {
    match t {
        Ty::Any => "unknown".into(),
        Ty::Bool => "boolean".into(),
        Ty::Int | Ty::Num => "number".into(),
        Ty::Str | Ty::DateTime => "string".into(),
        Ty::Null => "null".into(),
        Ty::Const(c) => lit(c),
        Ty::Array(i) => match &**i {
            Ty::Nullable(_) => format!("({})[]", ts(i)),
            _ => format!("{}[]", ts(i)),
        },
        Ty::Map(v) => format!("{{ [key: string]: {} }}", ts(v)),
        Ty::Nullable(i) => format!("{} | null", ts(i)),
        Ty::Named(n) => n.clone(),
    }
}

/// The compact form of a type for `protocol-types.json` (read by strict.js).
fn tj(t: &Ty) -> Value {
    match t {
        Ty::Any => json!("a"),
        Ty::Bool => json!("b"),
        Ty::Int => json!("i"),
        Ty::Num => json!("n"),
        Ty::Str => json!("s"),
        Ty::DateTime => json!("d"),
        Ty::Null => json!("0"),
        Ty::Const(c) => json!(["=", c]),
        Ty::Array(i) => json!(["[]", tj(i)]),
        Ty::Map(v) => json!(["{}", tj(v)]),
        Ty::Nullable(i) => json!(["?", tj(i)]),
        Ty::Named(n) => json!(format!("@{n}")),
    }
}

fn scope_prefix(s: Scope) -> &'static str {
    match s {
        Scope::Server => "ServerRpc",
        Scope::Session => "SessionRpc",
        Scope::ClientSession => "ClientSessionApi",
        Scope::ClientGlobal => "ClientGlobalApi",
    }
}

fn ns_name(scope: Scope, path: &[String]) -> String {
    let mut s = scope_prefix(scope).to_string();
    for p in path {
        s.push_str(&pascal(p));
    }
    s
}

fn result_ts(m: &Method) -> String {
    match &m.result {
        Ty::Null => "void".into(),
        t => ts(t),
    }
}

fn method_doc(m: &Method) -> Vec<String> {
    let mut extra = vec![format!("Wire method `{}`.", m.wire)];
    if m.internal {
        extra.push("Internal in the schema (SDK plumbing): callable, but may change without notice.".into());
    }
    extra
}

fn dts(m: &Model) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "// {}", emit::header(m));
    o.push_str(
        "//\n// The typed protocol of @copilot-hub/node: every type of the CLI's schemas, every session event\n\
         // and the typed RPC namespaces (`client.rpc.models.list()`, `session.rpc.model.switchTo({…})`).\n\
         // Date-time fields are RFC 3339 strings. Enums and unions are closed here; a value the schema\n\
         // does not know still reaches the host as is (nothing is decoded in JS).\n\n",
    );
    o.push_str("import type { RpcOptions } from './index';\n\n");

    // Events.
    o.push_str("// ---------------------------------------------------------------------------------------------\n// Events\n\n");
    o.push_str("/** Every session event type of the schema. */\nexport type SessionEventType =\n");
    for e in &m.events {
        let _ = writeln!(o, "  | {}", lit(&e.wire));
    }
    o.push_str("  ;\n\n");
    o.push_str("/** Every session event type of the schema, by wire type. */\nexport interface SessionEventMap {\n");
    for e in &m.events {
        let _ = writeln!(o, "  {}: {}Event;", lit(&e.wire), e.name);
    }
    o.push_str("}\n\n");
    o.push_str(
        "/** The events the schema types. */\nexport type KnownSessionEvent = SessionEventMap[SessionEventType];\n\n",
    );
    o.push_str("/** An event of a type the schema does not know (the CLI adds types): data untyped. */\nexport interface OtherSessionEvent {\n");
    for f in &m.envelope {
        doc(&mut o, "  ", f.doc.as_deref(), &[]);
        let _ = writeln!(o, "  {}{}: {};", prop(&f.json), if f.required { "" } else { "?" }, ts(&f.ty));
    }
    o.push_str("  type: string;\n  data: { [key: string]: unknown };\n}\n\n");
    o.push_str("/** What a session listener receives: a typed event, or one of a type newer than the schema. */\nexport type SessionEvent = KnownSessionEvent | OtherSessionEvent;\n\n");
    o.push_str("/** The event of a type: precise for schema types, `OtherSessionEvent` otherwise. */\nexport type SessionEventOf<T extends string> = T extends SessionEventType ? SessionEventMap[T] : OtherSessionEvent;\n\n");

    // Types.
    o.push_str("// ---------------------------------------------------------------------------------------------\n// Types\n\n");
    for (name, t) in &m.types {
        assert!(!RESERVED.contains(&name.as_str()), "model type {name} clashes with a global TypeScript type");
        if name == "SessionEvent" {
            continue; // emitted above, with the fallback
        }
        match t {
            TypeDef::Struct(s) => {
                doc(&mut o, "", s.doc.as_deref(), &[]);
                if s.fields.is_empty() {
                    let _ = writeln!(o, "export interface {name} {{}}\n");
                    continue;
                }
                let _ = writeln!(o, "export interface {name} {{");
                for f in &s.fields {
                    let extra = if f.ty == Ty::DateTime { vec!["RFC 3339 date-time.".to_string()] } else { vec![] };
                    doc(&mut o, "  ", f.doc.as_deref(), &extra);
                    let _ = writeln!(o, "  {}{}: {};", prop(&f.json), if f.required { "" } else { "?" }, ts(&f.ty));
                }
                o.push_str("}\n\n");
            }
            TypeDef::Enum(e) => {
                let vals: Vec<String> = e
                    .values
                    .iter()
                    .filter_map(|(v, d)| {
                        d.as_ref().map(|d| format!("`{v}`: {}", d.replace("*/", "*\\/").replace('\n', " ")))
                    })
                    .collect();
                doc(&mut o, "", e.doc.as_deref(), &vals);
                let _ = writeln!(o, "export type {name} =");
                for (v, _) in &e.values {
                    let _ = writeln!(o, "  | {}", lit(v));
                }
                o.push_str("  ;\n\n");
            }
            TypeDef::Union(u) => {
                doc(&mut o, "", u.doc.as_deref(), &[format!("Told apart by `{}`.", u.tag)]);
                let _ = writeln!(o, "export type {name} =");
                let mut seen = BTreeSet::new();
                for (_, s) in &u.variants {
                    if seen.insert(s.clone()) {
                        let _ = writeln!(o, "  | {s}");
                    }
                }
                o.push_str("  ;\n\n");
            }
            TypeDef::Alias { doc: d, ty, .. } => {
                if ty.named() == Some(name.as_str()) {
                    // The model lost the definition under its own alias (a nullable union that
                    // took the definition's name): untyped until the model keeps both.
                    doc(&mut o, "", d.as_deref(), &["Untyped: the model names this union after itself.".to_string()]);
                    let _ = writeln!(o, "export type {name} = unknown;\n");
                    continue;
                }
                doc(&mut o, "", d.as_deref(), &[]);
                let _ = writeln!(o, "export type {name} = {};\n", ts(ty));
            }
        }
    }

    // RPC namespaces.
    o.push_str(
        "// ---------------------------------------------------------------------------------------------\n// RPC\n\n",
    );
    for scope in [Scope::Server, Scope::Session] {
        let what = if scope == Scope::Server { "client" } else { "session (`sessionId` is added by the core)" };
        for (path, methods) in m.namespaces(scope) {
            let name = ns_name(scope, &path);
            assert!(!m.types.contains_key(&name), "namespace {name} clashes with a model type");
            if path.is_empty() {
                let _ = writeln!(
                    o,
                    "/** The typed methods of the {what}: `{}.rpc.…`. Also callable: `rpc(method, params, options)` (the generic call). */",
                    if scope == Scope::Server { "client" } else { "session" }
                );
            } else {
                let _ = writeln!(o, "/** `{}`. */", path.join("."));
            }
            let _ = writeln!(o, "export interface {name} {{");
            // Child namespaces first, then the methods.
            for (child, _) in m.namespaces(scope) {
                if child.len() == path.len() + 1 && child[..path.len()] == path[..] {
                    let _ = writeln!(o, "  readonly {}: {};", prop(child.last().unwrap()), ns_name(scope, &child));
                }
            }
            for meth in methods {
                doc(&mut o, "  ", meth.doc.as_deref(), &method_doc(meth));
                let call = prop(meth.path.last().unwrap());
                let r = result_ts(meth);
                match (&meth.params, meth.params_optional) {
                    (None, _) => {
                        let _ = writeln!(o, "  {call}(options?: RpcOptions): Promise<{r}>;");
                    }
                    (Some(p), true) => {
                        let _ = writeln!(o, "  {call}(params?: {p}, options?: RpcOptions): Promise<{r}>;");
                    }
                    (Some(p), false) => {
                        let _ = writeln!(o, "  {call}(params: {p}, options?: RpcOptions): Promise<{r}>;");
                    }
                }
            }
            o.push_str("}\n\n");
        }
    }

    // What the host serves (server → client requests): the types of each, for reference; the
    // binding answers them through its handlers (`onPermissionRequest`, tools, …).
    o.push_str("// ---------------------------------------------------------------------------------------------\n// Server → client requests (served by the binding's handlers; listed for their types)\n\n");
    for scope in [Scope::ClientSession, Scope::ClientGlobal] {
        let name = scope_prefix(scope);
        let _ = writeln!(
            o,
            "/** Requests the CLI sends to the host ({}): wire method → params and result. */",
            if scope == Scope::ClientSession { "per session" } else { "per connection" }
        );
        let _ = writeln!(o, "export interface {name} {{");
        for meth in m.methods_of(scope) {
            doc(&mut o, "  ", meth.doc.as_deref(), &[]);
            let p = meth.params.clone().unwrap_or_else(|| "undefined".into());
            let _ = writeln!(
                o,
                "  {}: {{ params: {p}; result: {} }};",
                lit(&meth.wire),
                match &meth.result {
                    Ty::Null => "null".to_string(),
                    t => ts(t),
                }
            );
        }
        o.push_str("}\n\n");
    }

    // Hooks: the typed input and output of each hook type (our hook schema).
    o.push_str("// ---------------------------------------------------------------------------------------------\n// Hooks (served by `hooks` of the session config)\n\n");
    for name in ["HookTypes", "TypedHookType"] {
        assert!(!m.types.contains_key(name), "{name} clashes with a model type");
    }
    o.push_str("/** Every hook type with its typed input (`request.input` of the hook handler) and output. */\nexport interface HookTypes {\n");
    for h in &m.hooks {
        let _ = writeln!(o, "  {}: {{ input: {}; output: {} }};", prop(&h.wire), h.input, h.output);
    }
    o.push_str("}\n\n/** A hook type with typed input and output (`HookType` is the CLI's own list of hook types). */\nexport type TypedHookType = keyof HookTypes;\n\n");

    o.push_str("/** Every session event type of the schema (runtime list). */\nexport declare const SESSION_EVENT_TYPES: readonly SessionEventType[];\n");
    o.push_str("/** Every typed hook type with the names of its input and output types (runtime table). */\nexport declare const HOOK_TYPES: { readonly [T in TypedHookType]: { readonly input: string; readonly output: string } };\n");
    o
}

fn methods_js(m: &Model, scope: Scope) -> String {
    let mut o = String::new();
    for meth in m.methods_of(scope) {
        let kind = match (&meth.params, meth.params_optional) {
            (None, _) => 0,
            (Some(_), true) => 1,
            (Some(_), false) => 2,
        };
        let void = if meth.result == Ty::Null { 1 } else { 0 };
        let _ = writeln!(o, "  [{}, {}, {kind}, {void}],", lit(&meth.path.join(".")), lit(&meth.wire));
    }
    o
}

fn js(m: &Model) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "'use strict';\n// {}", emit::header(m));
    o.push_str(
        "//\n// The runtime table of the typed RPC namespaces (index.js builds `client.rpc` and `session.rpc`\n\
         // from it): [path in the scope, wire method, params (0 none, 1 optional, 2 required), void result].\n\n",
    );
    let _ = writeln!(o, "const SERVER_METHODS = [\n{}];\n", methods_js(m, Scope::Server));
    let _ = writeln!(o, "const SESSION_METHODS = [\n{}];\n", methods_js(m, Scope::Session));
    o.push_str("/** Every session event type of the schema. */\nconst SESSION_EVENT_TYPES = Object.freeze([\n");
    for e in &m.events {
        let _ = writeln!(o, "  {},", lit(&e.wire));
    }
    o.push_str("]);\n\n/** Every typed hook type: the names of its input and output types. */\nconst HOOK_TYPES = Object.freeze({\n");
    for h in &m.hooks {
        let _ = writeln!(
            o,
            "  {}: Object.freeze({{ input: {}, output: {} }}),",
            prop(&h.wire),
            lit(&h.input),
            lit(&h.output)
        );
    }
    o.push_str("});\n\nmodule.exports = { SERVER_METHODS, SESSION_METHODS, SESSION_EVENT_TYPES, HOOK_TYPES };\n");
    o
}

fn types_json(m: &Model) -> String {
    let mut types = serde_json::Map::new();
    for (name, t) in &m.types {
        let v = match t {
            TypeDef::Struct(s) => {
                json!({"f": s.fields.iter().map(|f| json!([f.json, tj(&f.ty), f.required])).collect::<Vec<_>>()})
            }
            TypeDef::Enum(e) => json!({"e": e.values.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>()}),
            TypeDef::Union(u) => {
                let mut v = serde_json::Map::new();
                for (tag, s) in &u.variants {
                    v.insert(tag.clone(), json!(s));
                }
                json!({"u": u.tag, "v": v})
            }
            TypeDef::Alias { ty, .. } if ty.named() == Some(name.as_str()) => json!({"t": "a"}),
            TypeDef::Alias { ty, .. } => json!({"t": tj(ty)}),
        };
        types.insert(name.clone(), v);
    }
    let mut results = serde_json::Map::new();
    for meth in m.methods.iter().filter(|x| matches!(x.scope, Scope::Server | Scope::Session)) {
        results.insert(meth.wire.clone(), tj(&meth.result));
    }
    let mut events = serde_json::Map::new();
    for e in &m.events {
        events.insert(e.wire.clone(), json!(format!("{}Event", e.name)));
    }
    let doc = json!({
        "source": emit::header(m),
        "types": types,
        "results": results,
        "events": events,
    });
    // One type per line: diffs stay readable.
    let mut o = String::from("{\n");
    let obj = doc.as_object().unwrap();
    let _ = writeln!(o, "\"source\": {},", obj["source"]);
    for (i, key) in ["types", "results", "events"].iter().enumerate() {
        let _ = writeln!(o, "{}: {{", lit(key));
        let inner = obj[*key].as_object().unwrap();
        let n = inner.len();
        for (j, (k, v)) in inner.iter().enumerate() {
            let _ = writeln!(o, "{}: {}{}", lit(k), v, if j + 1 < n { "," } else { "" });
        }
        let _ = writeln!(o, "}}{}", if i < 2 { "," } else { "" });
    }
    o.push_str("}\n");
    o
}

/// The generated TypeScript files.
pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let dir = root.join("bindings-node");
    vec![
        (dir.join("protocol.d.ts"), dts(m)),
        (dir.join("protocol.js"), js(m)),
        (dir.join("protocol-types.json"), types_json(m)),
    ]
}
