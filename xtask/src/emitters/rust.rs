//! The Rust emitter: `core/src/protocol/{types,events,rpc}.rs`, compiled with the core's
//! `protocol` feature (on by default; the language bindings build the core without it).
//!
//! - every named type: a struct (serde, `Default`), a string enum with an `Unknown(String)`
//!   fallback, a union told apart by its tag with an `Unknown(Value)` fallback, or a type alias;
//! - `Event`: one variant per event type with its data, `Unknown` for the rest;
//! - `rpc`: namespaces over `Client` (server methods) and `Session` (session methods), each call
//!   going through `Client::call` / `Session::call`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use xtask::protocol::emit::{File, header};
use xtask::protocol::model::{Method, Model, Scope, Struct, Ty, TypeDef, pascal, snake};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A Rust identifier for a snake_case name.
fn ident(name: &str) -> String {
    let mut s = snake(name);
    if s.is_empty() {
        s = "value".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("n{s}");
    }
    if matches!(s.as_str(), "self" | "super" | "crate" | "Self") {
        return format!("{s}_");
    }
    if KEYWORDS.contains(&s.as_str()) { format!("r#{s}") } else { s }
}

/// A Rust type name for a model name (already PascalCase; guard against std names we use).
fn tname(name: &str) -> String {
    match name {
        "Result" | "Option" | "Value" | "Map" | "Box" | "Vec" | "String" | "Default" | "Error" | "Event" => {
            format!("{name}Type")
        }
        _ => name.to_string(),
    }
}

fn variant_name(value: &str, used: &mut BTreeSet<String>) -> String {
    let mut v = pascal(value);
    if v.is_empty() {
        v = "Empty".into();
    }
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        v = format!("V{v}");
    }
    if v == "Unknown" || v == "Self" {
        v = format!("{v}Value");
    }
    let mut name = v.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{v}{n}");
        n += 1;
    }
    name
}

fn doc(out: &mut String, indent: &str, text: Option<&str>) {
    if let Some(t) = text {
        for line in t.lines() {
            let line = line.replace("```", "`` `");
            if line.trim().is_empty() {
                out.push_str(&format!("{indent}///\n"));
            } else {
                out.push_str(&format!("{indent}/// {}\n", line.trim_end()));
            }
        }
    }
}

struct Ctx<'a> {
    m: &'a Model,
    /// Struct fields that must be boxed (by-value cycles): (struct, json field).
    boxed: BTreeSet<(String, String)>,
}

impl<'a> Ctx<'a> {
    fn new(m: &'a Model) -> Self {
        let mut c = Ctx { m, boxed: BTreeSet::new() };
        for t in m.types.values() {
            if let TypeDef::Struct(s) = t {
                for f in &s.fields {
                    if let Some(n) = by_value(&f.ty) {
                        if c.reaches(n, &s.name, &mut BTreeSet::new()) {
                            c.boxed.insert((s.name.clone(), f.json.clone()));
                        }
                    }
                }
            }
        }
        c
    }

    /// Whether `from` holds `to` by value (through struct fields, union variants, aliases).
    fn reaches(&self, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        if from == to {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        match self.m.types.get(from) {
            Some(TypeDef::Struct(s)) => {
                s.fields.iter().filter_map(|f| by_value(&f.ty)).any(|n| self.reaches(n, to, seen))
            }
            Some(TypeDef::Union(u)) => u.variants.iter().any(|(_, n)| self.reaches(n, to, seen)),
            Some(TypeDef::Alias { ty, .. }) => by_value(ty).is_some_and(|n| self.reaches(n, to, seen)),
            _ => false,
        }
    }

    fn ty(&self, t: &Ty) -> String {
        match t {
            Ty::Any | Ty::Null => "Value".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "i64".into(),
            Ty::Num => "f64".into(),
            Ty::Str | Ty::DateTime | Ty::Const(_) => "String".into(),
            Ty::Array(i) => format!("Vec<{}>", self.ty(i)),
            Ty::Map(v) if **v == Ty::Any => "Map<String, Value>".into(),
            Ty::Map(v) => format!("BTreeMap<String, {}>", self.ty(v)),
            Ty::Nullable(i) => format!("Option<{}>", self.ty(i)),
            Ty::Named(n) => tname(n),
        }
    }
}

/// The named type a field holds by value (not behind a Vec or a map).
fn by_value(t: &Ty) -> Option<&str> {
    match t {
        Ty::Named(n) => Some(n),
        Ty::Nullable(i) => by_value(i),
        _ => None,
    }
}

fn types_rs(c: &Ctx) -> String {
    let m = c.m;
    let mut s = format!(
        "// {}\n//! Every type of the protocol schemas: structs, string enums (with an `Unknown` fallback),\n//! tagged unions (with an `Unknown` fallback) and aliases.\n#![allow(clippy::all, clippy::pedantic, missing_docs, non_camel_case_types, rustdoc::all)]\n\nuse serde::{{Deserialize, Deserializer, Serialize, Serializer}};\nuse serde_json::{{Map, Value}};\nuse std::collections::BTreeMap;\n",
        header(m)
    );
    for t in m.types.values() {
        s.push('\n');
        match t {
            TypeDef::Struct(st) => struct_rs(c, &mut s, st),
            TypeDef::Enum(e) => {
                let name = tname(&e.name);
                doc(&mut s, "", e.doc.as_deref());
                s += "///\n/// A value this SDK does not know reads as `Unknown` with its string (and counts in the\n/// strict test mode). The default is `Unknown(\"\")`: set it.\n";
                s += &format!("#[derive(Clone, Debug, PartialEq, Eq, Hash)]\npub enum {name} {{\n");
                let mut used = BTreeSet::new();
                let vs: Vec<(String, String)> =
                    e.values.iter().map(|(v, _)| (variant_name(v, &mut used), v.clone())).collect();
                for ((vn, _), (_, d)) in vs.iter().zip(&e.values) {
                    doc(&mut s, "    ", d.as_deref());
                    s += &format!("    {vn},\n");
                }
                s += "    /// A value the schema does not list.\n    Unknown(String),\n}\n\n";
                s += &format!(
                    "impl {name} {{\n    /// Every value the schema lists.\n    pub const VALUES: &'static [&'static str] = &["
                );
                s += &vs.iter().map(|(_, v)| format!("{v:?}")).collect::<Vec<_>>().join(", ");
                s += "];\n\n    /// The wire string.\n    pub fn as_str(&self) -> &str {\n        match self {\n";
                for (vn, v) in &vs {
                    s += &format!("            Self::{vn} => {v:?},\n");
                }
                s += "            Self::Unknown(s) => s,\n        }\n    }\n}\n\n";
                s += &format!("impl From<&str> for {name} {{\n    fn from(v: &str) -> Self {{\n        match v {{\n");
                for (vn, v) in &vs {
                    s += &format!("            {v:?} => Self::{vn},\n");
                }
                s += "            other => {\n                super::strict::unknown_enum_value();\n                Self::Unknown(other.to_string())\n            }\n        }\n    }\n}\n\n";
                s += &format!(
                    "impl Default for {name} {{\n    fn default() -> Self {{\n        Self::Unknown(String::new())\n    }}\n}}\n\nimpl Serialize for {name} {{\n    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        s.serialize_str(self.as_str())\n    }}\n}}\n\nimpl<'de> Deserialize<'de> for {name} {{\n    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        let v = String::deserialize(d)?;\n        Ok(Self::from(v.as_str()))\n    }}\n}}\n"
                );
            }
            TypeDef::Union(u) => {
                let name = tname(&u.name);
                doc(&mut s, "", u.doc.as_deref());
                s += &format!(
                    "///\n/// Told apart by `{}`; an unknown `{}` reads as `Unknown` with the whole value.\n",
                    u.tag, u.tag
                );
                s += &format!("#[derive(Clone, Debug, PartialEq)]\npub enum {name} {{\n");
                let mut used = BTreeSet::new();
                let vs: Vec<(String, String, String)> =
                    u.variants.iter().map(|(v, st)| (variant_name(v, &mut used), v.clone(), tname(st))).collect();
                for (vn, v, st) in &vs {
                    s += &format!("    /// `{}: {v:?}`\n    {vn}({st}),\n", u.tag);
                }
                s += "    /// A variant the schema does not list.\n    Unknown(Value),\n}\n\n";
                s += &format!(
                    "impl Default for {name} {{\n    fn default() -> Self {{\n        Self::Unknown(Value::Null)\n    }}\n}}\n\nimpl Serialize for {name} {{\n    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        match self {{\n"
                );
                for (vn, _, _) in &vs {
                    s += &format!("            Self::{vn}(x) => x.serialize(s),\n");
                }
                s += "            Self::Unknown(v) => v.serialize(s),\n        }\n    }\n}\n\n";
                s += &format!(
                    "impl<'de> Deserialize<'de> for {name} {{\n    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        use serde::de::Error;\n        let v = Value::deserialize(d)?;\n        let tag = v.get({:?}).and_then(Value::as_str).map(str::to_owned);\n        match tag.as_deref() {{\n",
                    u.tag
                );
                for (vn, v, _) in &vs {
                    s += &format!(
                        "            Some({v:?}) => serde_json::from_value(v).map(Self::{vn}).map_err(D::Error::custom),\n"
                    );
                }
                s += "            _ => {\n                super::strict::unknown_variant();\n                Ok(Self::Unknown(v))\n            }\n        }\n    }\n}\n";
            }
            TypeDef::Alias { name, doc: d, ty } => {
                doc(&mut s, "", d.as_deref());
                s += &format!("pub type {} = {};\n", tname(name), c.ty(ty));
            }
        }
    }
    s
}

fn struct_rs(c: &Ctx, s: &mut String, st: &Struct) {
    let name = tname(&st.name);
    doc(s, "", st.doc.as_deref());
    let consts: Vec<(&str, &str)> = st
        .fields
        .iter()
        .filter_map(|f| match &f.ty {
            Ty::Const(v) if f.required => Some((f.json.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    let derive_default = if consts.is_empty() { ", Default" } else { "" };
    *s +=
        &format!("#[derive(Clone, Debug, PartialEq, Serialize, Deserialize{derive_default})]\npub struct {name} {{\n");
    let mut used = BTreeSet::new();
    let mut idents = Vec::new();
    for f in &st.fields {
        let mut id = ident(&f.json);
        let base = id.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        idents.push(id.clone());
        let mut t = c.ty(&f.ty);
        if c.boxed.contains(&(st.name.clone(), f.json.clone())) {
            t = match &f.ty {
                Ty::Nullable(_) => format!("Option<Box<{}>>", &t[7..t.len() - 1]),
                _ => format!("Box<{t}>"),
            };
        }
        doc(s, "    ", f.doc.as_deref());
        let mut attrs = vec![format!("rename = {:?}", f.json)];
        let optional_wrapper = !f.required && !matches!(f.ty, Ty::Nullable(_));
        if optional_wrapper {
            t = format!("Option<{t}>");
        }
        if t.starts_with("Option<") {
            attrs.push("default".into());
            if !f.required {
                attrs.push("skip_serializing_if = \"Option::is_none\"".into());
            }
        }
        *s += &format!("    #[serde({})]\n    pub {id}: {t},\n", attrs.join(", "));
    }
    *s += "}\n";
    if !consts.is_empty() {
        *s += &format!("\nimpl Default for {name} {{\n    fn default() -> Self {{\n        Self {{\n");
        for (f, id) in st.fields.iter().zip(&idents) {
            match &f.ty {
                Ty::Const(v) if f.required => *s += &format!("            {id}: {v:?}.into(),\n"),
                _ => *s += &format!("            {id}: Default::default(),\n"),
            }
        }
        *s += "        }\n    }\n}\n";
    }
}

fn events_rs(c: &Ctx) -> String {
    let m = c.m;
    let mut s = format!(
        "// {}\n//! Every session event type of the schema, with its data.\n#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]\n\nuse super::types::*;\nuse serde_json::Value;\n\n",
        header(m)
    );
    s += "/// A session event's type and data, typed. Event types the schema does not list are\n/// `Unknown` (the raw event keeps them).\n#[derive(Clone, Debug, PartialEq)]\n#[non_exhaustive]\npub enum Event {\n";
    for e in &m.events {
        doc(&mut s, "    ", e.doc.as_deref());
        s += &format!("    /// (`{}`)\n    {}({}),\n", e.wire, e.name, c.ty(&e.data));
    }
    s += "    /// An event type the schema does not list.\n    Unknown,\n}\n\n";
    s += "/// Every event type the schema lists.\npub const EVENT_TYPES: &[&str] = &[\n";
    for e in &m.events {
        s += &format!("    {:?},\n", e.wire);
    }
    s += "];\n\nimpl Event {\n    /// Reads `data` as the type of `event_type`; an unknown type is `Ok(Unknown)`.\n    pub fn decode(event_type: &str, data: &Value) -> Result<Event, serde_json::Error> {\n        Ok(match event_type {\n";
    for e in &m.events {
        s += &format!("            {:?} => Event::{}(serde_json::from_value(data.clone())?),\n", e.wire, e.name);
    }
    s += "            _ => Event::Unknown,\n        })\n    }\n\n    /// The wire type (`None` for `Unknown`).\n    pub fn event_type(&self) -> Option<&'static str> {\n        Some(match self {\n";
    for e in &m.events {
        s += &format!("            Event::{}(_) => {:?},\n", e.name, e.wire);
    }
    s += "            Event::Unknown => return None,\n        })\n    }\n}\n\n";
    s += "/// The data of a typed event written back as JSON (what the types kept).\npub(crate) fn data_value(e: &Event) -> Value {\n    match e {\n";
    for e in &m.events {
        s += &format!("        Event::{}(x) => serde_json::to_value(x).unwrap_or(Value::Null),\n", e.name);
    }
    s += "        Event::Unknown => Value::Null,\n    }\n}\n";
    s
}

/// The Rust name of a namespace struct: `SessionModelRpc`.
fn ns_struct(scope: Scope, path: &[String]) -> String {
    let base = if scope == Scope::Server { "Server" } else { "Session" };
    format!("{base}{}Rpc", path.iter().map(|p| pascal(p)).collect::<String>())
}

fn rpc_rs(c: &Ctx) -> String {
    let m = c.m;
    let mut s = format!(
        "// {}\n//! Typed calls: `client.rpc()` (server methods) and `session.rpc()` (session methods).\n//! Every call goes through `Client::call` / `Session::call`.\n#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]\n\nuse super::types::*;\nuse super::{{to_params, typed_call}};\nuse crate::{{Client, Result, Session}};\nuse serde_json::{{Map, Value}};\n",
        header(m)
    );
    for scope in [Scope::Server, Scope::Session] {
        let owner = if scope == Scope::Server { "Client" } else { "Session" };
        let ns = m.namespaces(scope);
        for (path, methods) in &ns {
            let name = ns_struct(scope, path);
            let what = if path.is_empty() { String::new() } else { format!(" `{}`", path.join(".")) };
            s += &format!(
                "\n/// The {} methods{what}.\n#[derive(Clone, Copy)]\npub struct {name}<'a> {{\n    pub(crate) owner: &'a {owner},\n}}\n\nimpl<'a> {name}<'a> {{\n",
                if scope == Scope::Server { "server" } else { "session" }
            );
            // Child namespaces.
            let children: BTreeMap<&str, &Vec<String>> = ns
                .iter()
                .filter(|(p, _)| p.len() == path.len() + 1 && p[..path.len()] == path[..])
                .map(|(p, _)| (p.last().unwrap().as_str(), p))
                .collect();
            let mut used: BTreeSet<String> = BTreeSet::new();
            for (child, p) in &children {
                let id = ident(child);
                used.insert(id.clone());
                s += &format!(
                    "    /// `{}`\n    pub fn {id}(&self) -> {}<'a> {{\n        {} {{ owner: self.owner }}\n    }}\n\n",
                    p.join("."),
                    ns_struct(scope, p),
                    ns_struct(scope, p)
                );
            }
            for mth in methods {
                method_rs(c, &mut s, mth, &mut used);
            }
            s += "}\n";
        }
    }
    s
}

fn method_rs(c: &Ctx, s: &mut String, mth: &Method, used: &mut BTreeSet<String>) {
    let mut id = ident(mth.path.last().unwrap());
    if !used.insert(id.clone()) {
        id = format!("{}_call", id.trim_start_matches("r#"));
        used.insert(id.clone());
    }
    doc(s, "    ", mth.doc.as_deref());
    *s += &format!("    ///\n    /// `{}`{}\n", mth.wire, if mth.internal { " (internal: SDK plumbing)" } else { "" });
    let (arg, value) = match &mth.params {
        Some(p) => (format!(", params: {}", tname(p)), "to_params(params)?".to_string()),
        None => (String::new(), "Value::Object(Default::default())".to_string()),
    };
    let ret = match &mth.result {
        Ty::Null => "()".to_string(),
        t => c.ty(t),
    };
    let body = if mth.result == Ty::Null {
        format!("self.owner.call({:?}, params).await?;\n        Ok(())", mth.wire)
    } else {
        format!("typed_call(self.owner.call({:?}, params).await?, {:?})", mth.wire, mth.wire)
    };
    *s += &format!(
        "    pub async fn {id}(&self{arg}) -> Result<{ret}> {{\n        let params = {value};\n        {body}\n    }}\n\n"
    );
}

/// Typed hook handlers: a `Hooks` builder with one `on_<type>` per hook type of the model, turned
/// into the session's one hook handler (`SessionConfig::on_hook`).
fn hooks_rs(m: &Model) -> String {
    let mut s = format!(
        "// {}\n//! Typed hook handlers, one per hook type of `xtask/protocol/hooks.schema.json`.\n#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]\n\nuse super::types::*;\nuse super::{{HookFn, HookInvocation, hook_fn}};\nuse crate::Result;\nuse std::future::Future;\n\n",
        header(m)
    );
    s += "/// Typed hook handlers by hook type; [`Hooks::handler`] makes the session's `on_hook`.\n#[derive(Clone, Default)]\npub struct Hooks {\n";
    for h in &m.hooks {
        s += &format!("    pub(crate) {}: Option<HookFn>,\n", ident(&h.wire));
    }
    s += "}\n\nimpl Hooks {\n    pub fn new() -> Self {\n        Self::default()\n    }\n\n    /// The handler registered for a hook type (the CLI's spelling).\n    pub(crate) fn get(&self, hook_type: &str) -> Option<&HookFn> {\n        match hook_type {\n";
    for h in &m.hooks {
        s += &format!("            {:?} => self.{}.as_ref(),\n", h.wire, ident(&h.wire));
    }
    s += "            _ => None,\n        }\n    }\n";
    for h in &m.hooks {
        let id = ident(&h.wire);
        s += &format!(
            "\n    /// `{}`: the input as [`{}`]; answer with [`{}`] (or `None`: no change).\n    pub fn on_{}<F, Fut>(mut self, f: F) -> Self\n    where\n        F: Fn({}, HookInvocation) -> Fut + Send + Sync + 'static,\n        Fut: Future<Output = Result<Option<{}>>> + Send + 'static,\n    {{\n        self.{id} = Some(hook_fn({:?}, f));\n        self\n    }}\n",
            h.wire,
            tname(&h.input),
            tname(&h.output),
            id.trim_start_matches("r#"),
            tname(&h.input),
            tname(&h.output),
            h.wire
        );
    }
    s += "}\n";
    s
}

pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let c = Ctx::new(m);
    let dir = root.join("core/src/protocol");
    vec![
        (dir.join("types.rs"), types_rs(&c)),
        (dir.join("events.rs"), events_rs(&c)),
        (dir.join("rpc.rs"), rpc_rs(&c)),
        (dir.join("hooks.rs"), hooks_rs(m)),
    ]
}
