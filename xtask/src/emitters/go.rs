//! The Go emitter (see model.rs for the model it reads): three files of package `copilot` in
//! `bindings-c/go/`:
//!
//! - `protocol_types.go`: every named type. Structs with `json` tags (a required field has no
//!   `omitempty`: the strict mode reads that as "must be present"; an optional field that is not
//!   a slice, map or `any` is a pointer), string enums as `type X string` with one constant per
//!   value and `Known()` (an unknown value stays readable as its string), unions as a struct
//!   holding one variant pointer in `Value` (an unknown tag decodes to `*UnknownVariant`),
//!   aliases as Go aliases. `date-time` strings are `time.Time`.
//! - `protocol_rpc.go`: the typed namespaces, `client.RPC.Models.List(ctx)` (server scope) and
//!   `session.RPC.Model.SwitchTo(ctx, params)` (session scope), each call through `Call`.
//! - `protocol_events.go`: one `EventType…` constant per event type (`EventTypeSessionIdle`), `TypedEvent`, and the
//!   decoder behind `SessionEvent.Typed()`.
//! - `protocol_hooks.go`: one typed hook adapter per hook type of `Model::hooks`
//!   (`PreToolUseHook(func(in PreToolUseHookInput, inv HookInvocation) (*PreToolUseHookOutput, error)) HookHandler`),
//!   `HookTypes`, and what they share (`typedHook`, `decodeHookInput`).
//!
//! Names: a type keeps the model's name, except when a hand-written identifier of the package
//! already has it: then it gets the prefix `Wire` (`SessionEvent` → `WireSessionEvent`).
//! Fields are the PascalCase JSON names with Go's initialisms for the words `Id`, `Url`, `Uri`,
//! `Api`, `Json`, `Http` and the plurals `Ids`, `Urls` (`sessionId` → `SessionID`). An enum constant is the type's name plus
//! the PascalCase value (`ReasoningEffortHigh`); a name already taken gets the suffix `Value`.
//!
//! gofmt: every struct field is separated by a blank line and every constant is a declaration
//! of its own, so gofmt has nothing to align; docs are folded to one line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use xtask::protocol::emit::{self, File};
use xtask::protocol::model::{self, Field, Method, Model, Scope, Ty, TypeDef};

/// The generated Go files.
pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let dir = root.join("bindings-c/go");
    let g = Gen::new(m, handwritten(&dir));
    vec![
        (dir.join("protocol_types.go"), g.types_file()),
        (dir.join("protocol_rpc.go"), g.rpc_file()),
        (dir.join("protocol_events.go"), g.events_file()),
        (dir.join("protocol_hooks.go"), g.hooks_file()),
    ]
}

/// The package-level identifiers of the hand-written (non-test, non-generated) Go files.
fn handwritten(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    paths.sort();
    for p in paths {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".go") || name.ends_with("_test.go") || name.starts_with("protocol_") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let mut block = false;
        for line in text.lines() {
            if block {
                if line.starts_with(')') {
                    block = false;
                } else if let Some(rest) = line.strip_prefix('\t') {
                    if let Some(id) = ident(rest) {
                        out.insert(id);
                    }
                }
                continue;
            }
            for kw in ["type ", "func ", "const ", "var "] {
                if let Some(rest) = line.strip_prefix(kw) {
                    if rest.starts_with('(') {
                        block = kw != "func ";
                    } else if let Some(id) = ident(rest) {
                        out.insert(id);
                    }
                }
            }
        }
    }
    out
}

fn ident(s: &str) -> Option<String> {
    let id: String = s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if id.is_empty() || id.chars().next().unwrap().is_ascii_digit() { None } else { Some(id) }
}

/// A doc folded to one comment line (gofmt leaves it alone).
fn fold(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `// {name}: {doc}` (or `// {name} {fallback}`), folded.
fn comment(out: &mut String, indent: &str, name: &str, doc: Option<&str>, fallback: &str) {
    match doc.map(fold).filter(|d| !d.is_empty()) {
        Some(d) => writeln!(out, "{indent}// {name}: {d}").unwrap(),
        None => writeln!(out, "{indent}// {name} {fallback}").unwrap(),
    }
}

/// A JSON name as a Go field name, with Go's initialisms.
fn go_field(json: &str) -> String {
    let p = model::pascal(json);
    let mut words: Vec<String> = Vec::new();
    for c in p.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        words.last_mut().unwrap().push(c);
    }
    let mut out: String = words
        .iter()
        .map(|w| match w.as_str() {
            "Id" => "ID".to_string(),
            "Ids" => "IDs".to_string(),
            "Urls" => "URLs".to_string(),
            "Url" => "URL".to_string(),
            "Uri" => "URI".to_string(),
            "Api" => "API".to_string(),
            "Json" => "JSON".to_string(),
            "Http" => "HTTP".to_string(),
            _ => w.clone(),
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("X{out}");
    }
    out
}

/// A Go string literal.
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

struct Gen<'m> {
    m: &'m Model,
    /// Model type name → Go type name.
    names: BTreeMap<String, String>,
    /// Every package-level identifier in use.
    used: BTreeSet<String>,
    /// Enum type (model name) → `(value, constant name)`.
    enum_consts: BTreeMap<String, Vec<(String, String)>>,
}

impl<'m> Gen<'m> {
    fn new(m: &'m Model, hand: BTreeSet<String>) -> Self {
        let mut used = hand.clone();
        let mut names = BTreeMap::new();
        for n in m.types.keys() {
            let g = if hand.contains(n) { format!("Wire{n}") } else { n.clone() };
            assert!(!used.contains(&g), "Go name {g} is taken twice");
            used.insert(g.clone());
            names.insert(n.clone(), g);
        }
        for fixed in ["UnknownVariant", "UnknownEvent", "TypedEvent", "ServerRPC", "SessionRPC"] {
            // Hand-written in protocol.go (or the roots of protocol_rpc.go): no model type may have them.
            assert!(!names.values().any(|g| g == fixed), "{fixed} is a model type");
            used.insert(fixed.to_string());
        }
        for (n, t) in &m.types {
            if let TypeDef::Union(_) = t {
                let v = format!("{}Variant", names[n]);
                assert!(used.insert(v.clone()), "{v} (the variant interface of a union) is taken");
            }
        }
        let mut g = Gen { m, names, used, enum_consts: BTreeMap::new() };
        for (n, t) in &m.types {
            if let TypeDef::Enum(e) = t {
                let base = g.names[n].clone();
                let mut consts = Vec::new();
                for (v, _) in &e.values {
                    let mut p = model::pascal(v);
                    if p.is_empty() {
                        p = "Empty".into();
                    }
                    let c = g.fresh(&format!("{base}{p}"), "Value");
                    consts.push((v.clone(), c));
                }
                g.enum_consts.insert(n.clone(), consts);
            }
        }
        g
    }

    /// `want`, or `want{suffix}`, `want{suffix}2`, … if taken; reserved.
    fn fresh(&mut self, want: &str, suffix: &str) -> String {
        let mut name = want.to_string();
        let mut n = 1;
        while self.used.contains(&name) {
            name = if n == 1 { format!("{want}{suffix}") } else { format!("{want}{suffix}{n}") };
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }

    fn gname(&self, model_name: &str) -> &str {
        &self.names[model_name]
    }

    /// Whether nil is a value of the Go form of `t` (no pointer needed for "absent").
    fn nilable(&self, t: &Ty) -> bool {
        match t {
            Ty::Any | Ty::Null | Ty::Array(_) | Ty::Map(_) | Ty::Nullable(_) => true,
            Ty::Named(n) => match self.m.get(n) {
                TypeDef::Alias { ty, .. } => self.nilable(ty),
                _ => false,
            },
            _ => false,
        }
    }

    fn ty(&self, t: &Ty) -> String {
        match t {
            Ty::Any | Ty::Null => "any".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int64".into(),
            Ty::Num => "float64".into(),
            Ty::Str | Ty::Const(_) => "string".into(),
            Ty::DateTime => "time.Time".into(),
            Ty::Array(i) => format!("[]{}", self.ty(i)),
            Ty::Map(v) => format!("map[string]{}", self.ty(v)),
            Ty::Nullable(i) => {
                if self.nilable(i) {
                    self.ty(i)
                } else {
                    format!("*{}", self.ty(i))
                }
            }
            Ty::Named(n) => self.gname(n).to_string(),
        }
    }

    /// The Go type and json tag options of a struct field.
    fn field(&self, f: &Field) -> (String, &'static str) {
        let base = self.ty(&f.ty);
        if f.required {
            (base, "")
        } else if self.nilable(&f.ty) {
            (base, ",omitempty")
        } else {
            (format!("*{base}"), ",omitempty")
        }
    }

    fn header(&self, imports: &[&str]) -> String {
        let mut s = format!(
            "// Code generated by xtask codegen; DO NOT EDIT.\n// {}\n\npackage copilot\n",
            emit::header(self.m)
        );
        if !imports.is_empty() {
            s += "\nimport (\n";
            for i in imports {
                writeln!(s, "\t{}", lit(i)).unwrap();
            }
            s += ")\n";
        }
        s
    }

    fn uses_time(&self) -> bool {
        fn has(t: &Ty) -> bool {
            match t {
                Ty::DateTime => true,
                Ty::Array(i) | Ty::Map(i) | Ty::Nullable(i) => has(i),
                _ => false,
            }
        }
        self.m.types.values().any(|t| match t {
            TypeDef::Struct(s) => s.fields.iter().any(|f| has(&f.ty)),
            TypeDef::Alias { ty, .. } => has(ty),
            _ => false,
        })
    }

    fn types_file(&self) -> String {
        let mut imports = vec!["encoding/json"];
        if self.uses_time() {
            imports.push("time");
        }
        let mut s = self.header(&imports);
        // Marker methods of the union variants, by variant (a struct may serve several unions).
        for (n, t) in &self.m.types {
            let g = self.gname(n);
            s += "\n";
            match t {
                TypeDef::Struct(st) => {
                    comment(&mut s, "", g, st.doc.as_deref(), "is generated from the protocol schema.");
                    writeln!(s, "type {g} struct {{").unwrap();
                    let mut seen = BTreeSet::new();
                    for (i, f) in st.fields.iter().enumerate() {
                        if i > 0 {
                            s += "\n";
                        }
                        let mut fname = go_field(&f.json);
                        while !seen.insert(fname.clone()) {
                            fname += "_";
                        }
                        let (ty, opt) = self.field(f);
                        if let Some(d) = f.doc.as_deref().map(fold).filter(|d| !d.is_empty()) {
                            writeln!(s, "\t// {fname}: {d}").unwrap();
                        }
                        writeln!(s, "\t{fname} {ty} `json:\"{}{opt}\"`", f.json).unwrap();
                    }
                    s += "}\n";
                }
                TypeDef::Enum(e) => {
                    comment(&mut s, "", g, e.doc.as_deref(), "is a string enum of the protocol schema.");
                    writeln!(s, "// A value this SDK does not know stays readable as its string (see Known).").unwrap();
                    writeln!(s, "type {g} string").unwrap();
                    let consts = &self.enum_consts[n];
                    for ((v, d), (_, c)) in e.values.iter().zip(consts) {
                        s += "\n";
                        comment(&mut s, "", c, d.as_deref(), &format!("is {}.", lit(v).replace('\\', "\\\\")));
                        writeln!(s, "const {c} {g} = {}", lit(v)).unwrap();
                    }
                    writeln!(s, "\n// Known reports whether v is one of the values the schema lists.").unwrap();
                    writeln!(s, "func (v {g}) Known() bool {{\n\tswitch v {{").unwrap();
                    for (_, c) in consts {
                        writeln!(s, "\tcase {c}:\n\t\treturn true").unwrap();
                    }
                    s += "\t}\n\treturn false\n}\n";
                }
                TypeDef::Union(u) => {
                    let vals: Vec<String> =
                        u.variants.iter().map(|(v, st)| format!("*{} ({})", self.gname(st), lit(v))).collect();
                    comment(&mut s, "", g, u.doc.as_deref(), "is a union of the protocol schema.");
                    writeln!(
                        s,
                        "// Value is one of {} (told apart by {}); an unknown {} decodes to *UnknownVariant.",
                        vals.join(", "),
                        lit(&u.tag),
                        lit(&u.tag)
                    )
                    .unwrap();
                    writeln!(s, "type {g} struct {{\n\tValue {g}Variant\n}}\n").unwrap();
                    writeln!(s, "// {g}Variant is a variant of {g}.").unwrap();
                    writeln!(s, "type {g}Variant interface{{ is{g}() }}\n").unwrap();
                    let mut variants: BTreeSet<&str> = BTreeSet::new();
                    for (_, st) in &u.variants {
                        variants.insert(self.gname(st));
                    }
                    for v in &variants {
                        writeln!(s, "func (*{v}) is{g}() {{\n}}\n").unwrap();
                    }
                    writeln!(s, "func (*UnknownVariant) is{g}() {{\n}}\n").unwrap();
                    writeln!(s, "func ({g}) unionTagKey() string {{\n\treturn {}\n}}\n", lit(&u.tag)).unwrap();
                    writeln!(s, "// MarshalJSON encodes the variant, with its {} filled in when empty.", lit(&u.tag))
                        .unwrap();
                    writeln!(
                        s,
                        "func (u {g}) MarshalJSON() ([]byte, error) {{\n\ttag := \"\"\n\tswitch u.Value.(type) {{"
                    )
                    .unwrap();
                    for v in &variants {
                        let tags: Vec<&str> =
                            u.variants.iter().filter(|(_, st)| self.gname(st) == *v).map(|(t, _)| t.as_str()).collect();
                        if tags.len() == 1 {
                            writeln!(s, "\tcase *{v}:\n\t\ttag = {}", lit(tags[0])).unwrap();
                        }
                    }
                    writeln!(s, "\t}}\n\treturn marshalUnion(u.Value, {}, tag)\n}}\n", lit(&u.tag)).unwrap();
                    writeln!(s, "// UnmarshalJSON decodes the variant its {} names.", lit(&u.tag)).unwrap();
                    writeln!(
                        s,
                        "func (u *{g}) UnmarshalJSON(b []byte) error {{\n\ttag, err := unionTag(b, {})\n\tif err != nil {{\n\t\treturn err\n\t}}\n\tswitch tag {{",
                        lit(&u.tag)
                    )
                    .unwrap();
                    for (tag, st) in &u.variants {
                        writeln!(
                            s,
                            "\tcase {}:\n\t\tv := new({})\n\t\tu.Value = v\n\t\treturn json.Unmarshal(b, v)",
                            lit(tag),
                            self.gname(st)
                        )
                        .unwrap();
                    }
                    s += "\t}\n\tu.Value = &UnknownVariant{Tag: tag, Raw: append(json.RawMessage(nil), b...)}\n\treturn nil\n}\n";
                }
                TypeDef::Alias { doc, ty, .. } => {
                    comment(&mut s, "", g, doc.as_deref(), "is a type of the protocol schema.");
                    if ty.named() == Some(n.as_str()) {
                        // The model gave a nullable union and its alias one name (the union is
                        // lost): left untyped.
                        writeln!(s, "//\n// Left untyped (a JSON value): the model names the alias after itself.")
                            .unwrap();
                        writeln!(s, "type {g} = any").unwrap();
                    } else {
                        writeln!(s, "type {g} = {}", self.ty(ty)).unwrap();
                    }
                }
            }
        }
        s
    }

    /// The Go signature parts of a method: params declaration, argument expression, result.
    fn call_parts(&self, m: &Method) -> (String, String, String, String) {
        let (decl, arg) = match &m.params {
            None => (String::new(), "nil".to_string()),
            Some(p) if m.params_optional => {
                (format!(", params ...*{}", self.gname(p)), "optionalParams(params)".to_string())
            }
            Some(p) => (format!(", params {}", self.gname(p)), "params".to_string()),
        };
        let (ret, rty) = match &m.result {
            Ty::Null => ("error".to_string(), String::new()),
            Ty::Named(n) if matches!(self.m.get(n), TypeDef::Struct(_) | TypeDef::Union(_)) => {
                let g = format!("*{}", self.gname(n));
                (format!("({g}, error)"), g)
            }
            t => {
                let g = self.ty(t);
                (format!("({g}, error)"), g)
            }
        };
        (decl, arg, ret, rty)
    }

    fn rpc_file(&self) -> String {
        let mut s = self.header(&["context"]);
        let mut used = self.used.clone();
        for (scope, root, what) in [
            (Scope::Server, "ServerRPC", "the client's typed server API (Client.RPC)"),
            (Scope::Session, "SessionRPC", "the session's typed API (Session.RPC)"),
        ] {
            let ns = self.m.namespaces(scope);
            // Node type names.
            let mut tnames: BTreeMap<Vec<String>, String> = BTreeMap::new();
            for (path, _) in &ns {
                let name = if path.is_empty() {
                    root.to_string()
                } else {
                    let prefix = if scope == Scope::Server { "Server" } else { "Session" };
                    let want = format!("{prefix}{}RPC", path.iter().map(|p| model::pascal(p)).collect::<String>());
                    let mut name = want.clone();
                    let mut n = 2;
                    while used.contains(&name) {
                        name = format!("{want}{n}");
                        n += 1;
                    }
                    used.insert(name.clone());
                    name
                };
                tnames.insert(path.clone(), name);
            }
            for (path, methods) in &ns {
                let t = &tnames[path];
                let children: Vec<&Vec<String>> = ns
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|p| p.len() == path.len() + 1 && p[..path.len()] == path[..])
                    .collect();
                s += "\n";
                if path.is_empty() {
                    writeln!(s, "// {t} is {what}, generated from the protocol schema.").unwrap();
                } else {
                    writeln!(s, "// {t} holds the {} methods.", lit(&path.join("."))).unwrap();
                }
                writeln!(s, "type {t} struct {{\n\tc caller").unwrap();
                let method_names: BTreeSet<String> = methods.iter().map(|m| go_field(m.path.last().unwrap())).collect();
                for c in &children {
                    let f = go_field(c.last().unwrap());
                    assert!(!method_names.contains(&f), "namespace {f} of {t} is also a method");
                    writeln!(s, "\n\t{f} *{}", tnames[*c]).unwrap();
                }
                s += "}\n";
                writeln!(s, "\nfunc new{t}(c caller) *{t} {{\n\tn := &{t}{{c: c}}").unwrap();
                for c in &children {
                    writeln!(s, "\tn.{} = new{}(c)", go_field(c.last().unwrap()), tnames[*c]).unwrap();
                }
                s += "\treturn n\n}\n";
                for m in methods {
                    let name = go_field(m.path.last().unwrap());
                    let (decl, arg, ret, rty) = self.call_parts(m);
                    s += "\n";
                    let mut doc = m.doc.as_deref().map(fold).unwrap_or_default();
                    if !doc.is_empty() {
                        doc = format!(" {doc}");
                    }
                    writeln!(s, "// {name} calls {}.{doc}", lit(&m.wire)).unwrap();
                    if m.internal {
                        writeln!(s, "//\n// Internal: SDK plumbing in the schema (visibility internal); it may change without notice.")
                            .unwrap();
                    }
                    if m.notification {
                        writeln!(
                            s,
                            "//\n// A notification in the schema: the call still waits for the server's reply."
                        )
                        .unwrap();
                    }
                    writeln!(s, "func (n *{t}) {name}(ctx context.Context{decl}) {ret} {{").unwrap();
                    if rty.is_empty() {
                        writeln!(s, "\treturn callNull(ctx, n.c, {}, {arg})", lit(&m.wire)).unwrap();
                    } else {
                        writeln!(s, "\treturn callTyped[{rty}](ctx, n.c, {}, {arg})", lit(&m.wire)).unwrap();
                    }
                    s += "}\n";
                }
            }
        }
        // The server → client requests: their wire names (the host serves them through handlers).
        for (scope, what) in [(Scope::ClientSession, "session-scoped"), (Scope::ClientGlobal, "connection-wide")] {
            s += "\n";
            writeln!(s, "// The {what} requests the CLI sends to the host (params and results are generated types).")
                .unwrap();
            writeln!(
                s,
                "var ClientRequest{}Methods = []string{{",
                if scope == Scope::ClientSession { "Session" } else { "Global" }
            )
            .unwrap();
            for m in self.m.methods_of(scope) {
                writeln!(s, "\t{},", lit(&m.wire)).unwrap();
            }
            s += "}\n";
        }
        s
    }

    fn events_file(&self) -> String {
        let mut s = self.header(&[]);
        let mut used = self.used.clone();
        let mut consts = Vec::new();
        for e in &self.m.events {
            let want = format!("EventType{}", model::pascal(&e.wire));
            assert!(used.insert(want.clone()), "{want} is taken");
            consts.push(want);
        }
        s += "\n// The session event types of the protocol schema (SessionEvent.Type).\n";
        for (e, c) in self.m.events.iter().zip(&consts) {
            writeln!(s, "\n// {c} is {} (*{}).", lit(&e.wire), self.gname(&format!("{}Event", e.name))).unwrap();
            writeln!(s, "const {c} = {}", lit(&e.wire)).unwrap();
        }
        s += "\n// EventTypes lists every event type of the protocol schema, in schema order.\nvar EventTypes = []string{\n";
        for c in &consts {
            writeln!(s, "\t{c},").unwrap();
        }
        s += "}\n";
        s += "\n// KnownEventType reports whether the protocol schema lists an event type.\nfunc KnownEventType(t string) bool {\n\tswitch t {\n";
        for c in &consts {
            writeln!(s, "\tcase {c}:\n\t\treturn true").unwrap();
        }
        s += "\t}\n\treturn false\n}\n";
        for (e, c) in self.m.events.iter().zip(&consts) {
            let g = self.gname(&format!("{}Event", e.name));
            writeln!(s, "\n// EventType is {c}.\nfunc (*{g}) EventType() string {{\n\treturn {c}\n}}").unwrap();
        }
        s += "\n// decodeTypedEvent decodes an event of a type the schema lists (nil, nil for another type).\n";
        s += "func decodeTypedEvent(eventType string, raw []byte) (TypedEvent, error) {\n\tswitch eventType {\n";
        for (e, c) in self.m.events.iter().zip(&consts) {
            let g = self.gname(&format!("{}Event", e.name));
            writeln!(s, "\tcase {c}:\n\t\treturn decodeEvent[{g}](raw)").unwrap();
        }
        s += "\t}\n\treturn nil, nil\n}\n";
        s
    }

    fn hooks_file(&self) -> String {
        let mut s = self.header(&["encoding/json", "errors"]);
        let mut used = self.used.clone();
        for fixed in ["HookTypes", "typedHook", "decodeHookInput"] {
            assert!(used.insert(fixed.to_string()), "{fixed} is taken");
        }
        let mut adapters = Vec::new();
        for h in &self.m.hooks {
            let want = format!("{}Hook", model::pascal(&h.wire));
            assert!(used.insert(want.clone()), "{want} (a typed hook adapter) is taken");
            adapters.push(want);
        }
        s += "\n// HookTypes lists the hook types the hook schema types (keys of SessionConfig.Hooks), in the model's order.\nvar HookTypes = []string{\n";
        for h in &self.m.hooks {
            writeln!(s, "\t{},", lit(&h.wire)).unwrap();
        }
        s += "}\n";
        for (h, a) in self.m.hooks.iter().zip(&adapters) {
            let (i, o) = (self.gname(&h.input), self.gname(&h.output));
            let w = lit(&h.wire);
            writeln!(
                s,
                "\n// {a} adapts a typed {w} hook to a HookHandler, for SessionConfig.Hooks[{w}]: it receives the hook input decoded into {i}\n\
                 // and the invocation (SessionID, Type, Input as received); its output (nil: no change) is sent as JSON. An error\n\
                 // is answered as a HookHandler's is.\n\
                 func {a}(h func(in {i}, inv HookInvocation) (*{o}, error)) HookHandler {{\n\treturn typedHook({w}, h)\n}}"
            )
            .unwrap();
        }
        s += r#"
// typedHook adapts a typed hook handler: the input decoded into I (see decodeHookInput), the
// handler's output sent as JSON (nil: no change).
func typedHook[I, O any](hookType string, h func(I, HookInvocation) (*O, error)) HookHandler {
	if h == nil {
		return nil
	}
	return func(inv HookInvocation) (any, error) {
		in, err := decodeHookInput[I](strict, hookType, inv.Input)
		if err != nil {
			return nil, err
		}
		out, err := h(in, inv)
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	}
}

// decodeHookInput decodes a hook input into I, checked by st in the strict types mode (an
// input I cannot read, or one missing a required field, is a failure). As for the untyped
// handlers, a field whose JSON type differs from the Go field's stays zero (the invocation's
// Input has it) and the handler still runs; input that is not JSON is an ErrProtocol error.
func decodeHookInput[I any](st *strictTypes, hookType string, raw json.RawMessage) (I, error) {
	var in I
	if len(raw) == 0 {
		return in, nil
	}
	what := "the " + hookType + " hook input"
	if err := json.Unmarshal(raw, &in); err != nil {
		st.result(what, raw, nil, err)
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return in, &Error{Status: 10, Code: CodeProtocol, Message: "unexpected input of the " + hookType + " hook: " + err.Error()}
		}
		return in, nil
	}
	st.result(what, raw, &in, nil)
	return in, nil
}
"#;
        s
    }
}
