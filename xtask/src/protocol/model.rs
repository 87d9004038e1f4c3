//! The language-neutral model of the CLI's protocol, read from its two JSON schemas
//! (`api.schema.json`, `session-events.schema.json`, fetched by `tests/fetch-schemas.sh`).
//!
//! Every emitter (Rust, Python, TypeScript, Go, C#, C) reads this model and nothing else, so the
//! languages agree on names, optionality and what is left untyped. The model is deterministic:
//! definitions are visited in name order, methods and events in schema order, and every name that
//! is synthesised comes from a JSON path. Properties come in name order (serde_json keeps no
//! other order here without `preserve_order`, which would change the core's maps too).

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A type as the emitters see it.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// Any JSON value (opaque in the schema, or a union the languages cannot name).
    Any,
    Bool,
    /// An integer (JSON number without fraction; i64 everywhere).
    Int,
    /// A floating-point number.
    Num,
    Str,
    /// A string in RFC 3339 form (`format: date-time`): each language's time type.
    DateTime,
    /// JSON `null` only (results of methods that answer nothing).
    Null,
    /// A fixed string (the discriminator of a union variant).
    Const(String),
    Array(Box<Ty>),
    /// An object used as a map from string keys.
    Map(Box<Ty>),
    /// `T | null`.
    Nullable(Box<Ty>),
    /// A named definition of [`Model::types`].
    Named(String),
}

impl Ty {
    /// The named definition this type is, or wraps.
    pub fn named(&self) -> Option<&str> {
        match self {
            Ty::Named(n) => Some(n),
            Ty::Nullable(t) | Ty::Array(t) | Ty::Map(t) => t.named(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    /// The JSON property name (`sessionId`).
    pub json: String,
    pub ty: Ty,
    /// Listed in `required`: always present on the wire (a nullable field may still be `null`).
    pub required: bool,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Struct {
    pub name: String,
    pub doc: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug)]
pub struct EnumDef {
    pub name: String,
    pub doc: Option<String>,
    /// Each wire value with its description.
    pub values: Vec<(String, Option<String>)>,
}

/// A union whose variants are structs told apart by one string property (`kind`, `type`, …).
#[derive(Clone, Debug)]
pub struct UnionDef {
    pub name: String,
    pub doc: Option<String>,
    /// The JSON property that tells the variants apart.
    pub tag: String,
    /// `(tag value, struct name)`, in schema order. A struct may serve several tag values.
    pub variants: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub enum TypeDef {
    Struct(Struct),
    Enum(EnumDef),
    Union(UnionDef),
    /// A definition that is another type under a name (`type X = string[]`).
    Alias {
        name: String,
        doc: Option<String>,
        ty: Ty,
    },
}

impl TypeDef {
    pub fn name(&self) -> &str {
        match self {
            TypeDef::Struct(s) => &s.name,
            TypeDef::Enum(e) => &e.name,
            TypeDef::Union(u) => &u.name,
            TypeDef::Alias { name, .. } => name,
        }
    }
    pub fn doc(&self) -> Option<&str> {
        match self {
            TypeDef::Struct(s) => s.doc.as_deref(),
            TypeDef::Enum(e) => e.doc.as_deref(),
            TypeDef::Union(u) => u.doc.as_deref(),
            TypeDef::Alias { doc, .. } => doc.as_deref(),
        }
    }
}

/// Which side serves a method, and which namespace the bindings give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Served by the CLI, called on the client (`client.rpc.models.list()`).
    Server,
    /// Served by the CLI for one session, called on the session (`session.rpc.model.switchTo()`);
    /// `sessionId` is filled in by the core and is not part of [`Method::params`].
    Session,
    /// Served by the host for one session (server → client requests: tools, sessionFs, …).
    ClientSession,
    /// Served by the host for the whole connection.
    ClientGlobal,
}

#[derive(Clone, Debug)]
pub struct Method {
    pub scope: Scope,
    /// The wire method (`session.model.switchTo`).
    pub wire: String,
    /// The namespace path inside the scope (`["model", "switchTo"]`); the last item is the call.
    pub path: Vec<String>,
    pub doc: Option<String>,
    /// The params type (a named struct, or a union, of [`Model::types`]), `None` when the method
    /// takes none.
    pub params: Option<String>,
    /// The params may be omitted altogether (`anyOf [not {}, {…}]` in the schema): every field
    /// of the struct is optional and a call without arguments is allowed.
    pub params_optional: bool,
    /// `Ty::Null` when the method answers nothing useful.
    pub result: Ty,
    /// `visibility: internal` in the schema: SDK plumbing, still callable.
    pub internal: bool,
    /// A notification: no reply.
    pub notification: bool,
}

#[derive(Clone, Debug)]
pub struct EventDef {
    /// The wire type (`assistant.message`).
    pub wire: String,
    /// The event's base name (`AssistantMessage`); the event struct is `{name}Event`.
    pub name: String,
    pub doc: Option<String>,
    /// The `data` type (usually `Ty::Named("{name}Data")`).
    pub data: Ty,
    /// The event carries `ephemeral: true` only (not persisted): `Some(true)` when fixed so.
    pub ephemeral: Option<bool>,
}

/// A hook type with its typed input and output (from our own `xtask/protocol/hooks.schema.json`:
/// the CLI's schemas leave hook inputs opaque).
#[derive(Clone, Debug)]
pub struct HookDef {
    /// The CLI's hook type (`preToolUse`).
    pub wire: String,
    /// The input struct (`PreToolUseHookInput`).
    pub input: String,
    /// The output struct (`PreToolUseHookOutput`).
    pub output: String,
}

/// Something the model could not type, with where it is: the emitters type it as [`Ty::Any`].
#[derive(Clone, Debug)]
pub struct Untyped {
    pub at: String,
    pub why: String,
}

#[derive(Debug)]
pub struct Model {
    /// Every named type, by name (sorted).
    pub types: BTreeMap<String, TypeDef>,
    pub methods: Vec<Method>,
    pub events: Vec<EventDef>,
    /// The fields of every event envelope (`id`, `timestamp`, `parentId`, `ephemeral`, `agentId`),
    /// without `type` and `data`.
    pub envelope: Vec<Field>,
    pub untyped: Vec<Untyped>,
    /// The hook types with typed inputs and outputs, in hook-schema order.
    pub hooks: Vec<HookDef>,
    /// The schemas' sha256, for the headers of generated files.
    pub source: String,
}

impl Model {
    pub fn methods_of(&self, scope: Scope) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(move |m| m.scope == scope)
    }
    pub fn get(&self, name: &str) -> &TypeDef {
        self.types.get(name).unwrap_or_else(|| panic!("no type {name}"))
    }
    pub fn struct_of(&self, name: &str) -> &Struct {
        match self.get(name) {
            TypeDef::Struct(s) => s,
            other => panic!("{name} is not a struct: {other:?}"),
        }
    }
    /// The namespace tree of one scope: `(path prefix, methods directly in it)` for every node,
    /// parents before children, in first-seen order.
    pub fn namespaces(&self, scope: Scope) -> Vec<(Vec<String>, Vec<&Method>)> {
        let mut out: Vec<(Vec<String>, Vec<&Method>)> = vec![(vec![], vec![])];
        for m in self.methods_of(scope) {
            let prefix = &m.path[..m.path.len() - 1];
            for depth in 1..=prefix.len() {
                if !out.iter().any(|(p, _)| p[..] == prefix[..depth]) {
                    out.push((prefix[..depth].to_vec(), vec![]));
                }
            }
            out.iter_mut().find(|(p, _)| p[..] == prefix[..]).unwrap().1.push(m);
        }
        out
    }
}

/// `switchTo` → `SwitchTo`, `mcp_server` → `McpServer`, `session.model` → `SessionModel`.
pub fn pascal(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    out
}

/// `switchTo` → `switch_to`, `getMCPServers` → `get_mcp_servers`, `session.idle` → `session_idle`.
pub fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { chars[i - 1] } else { '_' };
            let next = chars.get(i + 1).copied().unwrap_or('_');
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next.is_ascii_lowercase());
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `switchTo` → `switchTo`, `SwitchTo` → `switchTo` (first letter lowered).
pub fn camel(s: &str) -> String {
    let p = pascal(s);
    let mut c = p.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => p,
    }
}

struct Builder<'a> {
    defs: BTreeMap<String, &'a Value>,
    types: BTreeMap<String, TypeDef>,
    /// Names given or reserved (definitions are reserved before anything is synthesised).
    taken: BTreeSet<String>,
    untyped: Vec<Untyped>,
}

fn doc_of(v: &Value) -> Option<String> {
    v.get("description").and_then(Value::as_str).map(str::to_owned)
}

fn ref_name(r: &str) -> String {
    r.rsplit('/').next().unwrap_or(r).to_string()
}

impl<'a> Builder<'a> {
    fn resolve(&self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            v = self.defs.get(&ref_name(r)).unwrap_or_else(|| panic!("unresolved $ref {r}"));
        }
        v
    }

    /// A fresh name for a synthesised type: the schema's `title` when it has one and it is free,
    /// else `hint`, else `hint2`, `hint3`, ….
    fn fresh(&mut self, v: &Value, hint: &str) -> String {
        if let Some(t) = v.get("title").and_then(Value::as_str) {
            let t = pascal(t);
            if !self.taken.contains(&t) {
                self.taken.insert(t.clone());
                return t;
            }
        }
        let mut name = hint.to_string();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{hint}{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    fn untyped(&mut self, at: &str, why: impl Into<String>) -> Ty {
        self.untyped.push(Untyped { at: at.to_string(), why: why.into() });
        Ty::Any
    }

    /// The type of a schema node; `hint` names it if it must become a named type.
    /// The fixed string of a node (`const` on it, or on what it refers to).
    fn const_of(&self, v: &'a Value) -> Option<&'a str> {
        v.get("const").and_then(Value::as_str).or_else(|| self.resolve(v).get("const").and_then(Value::as_str))
    }

    fn ty(&mut self, v: &'a Value, hint: &str) -> Ty {
        if let Some(c) = v.get("const").and_then(Value::as_str) {
            return Ty::Const(c.to_string());
        }
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = ref_name(r);
            if !self.defs.contains_key(&name) {
                panic!("unresolved $ref {r}");
            }
            return Ty::Named(name);
        }
        if v.get("x-opaque-json").and_then(Value::as_bool) == Some(true) {
            return Ty::Any;
        }
        if let Some(options) = v.get("anyOf").and_then(Value::as_array) {
            // `anyOf` of `required` lists beside `properties` only constrains an object.
            let constraint_only =
                options.iter().all(|o| o.as_object().is_some_and(|o| o.keys().all(|k| k == "required")));
            if !constraint_only {
                return self.any_of(v, options, hint);
            }
        }
        if let Some(c) = v.get("const") {
            return match c {
                Value::String(s) => Ty::Const(s.clone()),
                Value::Bool(_) => Ty::Bool,
                Value::Number(n) if n.is_i64() => Ty::Int,
                Value::Number(_) => Ty::Num,
                _ => Ty::Any,
            };
        }
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            if values.iter().all(Value::is_string) {
                let name = self.fresh(v, hint);
                let descs = v.get("x-enumDescriptions");
                let values = values
                    .iter()
                    .map(|x| {
                        let s = x.as_str().unwrap().to_string();
                        let d = descs.and_then(|d| d.get(&s)).and_then(Value::as_str).map(str::to_owned);
                        (s, d)
                    })
                    .collect();
                self.types.insert(name.clone(), TypeDef::Enum(EnumDef { name: name.clone(), doc: doc_of(v), values }));
                return Ty::Named(name);
            }
            return self.untyped(hint, "enum of non-string values");
        }
        match v.get("type") {
            Some(Value::Array(ts)) => {
                let non_null: Vec<&str> = ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
                let nullable = non_null.len() < ts.len();
                if non_null.len() != 1 {
                    return self.untyped(hint, format!("type list {ts:?}"));
                }
                let mut one = v.as_object().unwrap().clone();
                one.insert("type".into(), Value::String(non_null[0].into()));
                // The clone lives as long as the model: leak it (the generator is a short process).
                let one: &'a Value = Box::leak(Box::new(Value::Object(one)));
                let t = self.ty(one, hint);
                if nullable { Ty::Nullable(Box::new(t)) } else { t }
            }
            Some(Value::String(t)) => match t.as_str() {
                "string" => {
                    if v.get("format").and_then(Value::as_str) == Some("date-time") {
                        Ty::DateTime
                    } else {
                        Ty::Str
                    }
                }
                "integer" => Ty::Int,
                "number" => Ty::Num,
                "boolean" => Ty::Bool,
                "null" => Ty::Null,
                "array" => match v.get("items") {
                    Some(items) => {
                        let item_hint = format!("{hint}Item");
                        Ty::Array(Box::new(self.ty(items, &item_hint)))
                    }
                    None => Ty::Array(Box::new(Ty::Any)),
                },
                "object" => self.object(v, hint),
                other => self.untyped(hint, format!("type {other}")),
            },
            _ => Ty::Any,
        }
    }

    fn object(&mut self, v: &'a Value, hint: &str) -> Ty {
        let props = v.get("properties").and_then(Value::as_object);
        match props {
            Some(p) if !p.is_empty() => {
                let name = self.fresh(v, hint);
                // Reserve the name before the fields, so recursive shapes terminate.
                self.types.insert(name.clone(), TypeDef::Alias { name: name.clone(), doc: None, ty: Ty::Any });
                let s = self.struct_fields(v, p, &name);
                self.types.insert(name.clone(), TypeDef::Struct(s));
                Ty::Named(name)
            }
            _ => match v.get("additionalProperties") {
                Some(ap @ Value::Object(m)) if !m.is_empty() => {
                    let h = format!("{hint}Value");
                    Ty::Map(Box::new(self.ty(ap, &h)))
                }
                _ => Ty::Map(Box::new(Ty::Any)),
            },
        }
    }

    fn struct_fields(&mut self, v: &'a Value, props: &'a Map<String, Value>, name: &str) -> Struct {
        let required: BTreeSet<&str> = v
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Vec::new();
        for (json, schema) in props {
            let ty = self.ty(schema, &format!("{name}{}", pascal(json)));
            fields.push(Field {
                json: json.clone(),
                ty,
                required: required.contains(json.as_str()),
                doc: doc_of(schema),
            });
        }
        Struct { name: name.to_string(), doc: doc_of(v), fields }
    }

    fn any_of(&mut self, v: &'a Value, options: &'a [Value], hint: &str) -> Ty {
        let mut nullable = false;
        let mut rest: Vec<&'a Value> = Vec::new();
        for o in options {
            if o.get("type").and_then(Value::as_str) == Some("null") {
                nullable = true;
            } else if o.get("not").is_some() {
                // `not {}`: "absent" — the caller treats the whole value as optional.
            } else {
                rest.push(o);
            }
        }
        let wrap = |t: Ty| if nullable { Ty::Nullable(Box::new(t)) } else { t };
        if rest.is_empty() {
            return if nullable { Ty::Null } else { Ty::Any };
        }
        if rest.len() == 1 {
            // Keep the outer title and description when the one option is inline.
            let one = rest[0];
            if !nullable && one.get("$ref").is_none() && one.get("title").is_none() {
                if let (Some(t), Some(obj)) = (v.get("title"), one.as_object()) {
                    let mut o = obj.clone();
                    o.insert("title".into(), t.clone());
                    if let Some(d) = v.get("description") {
                        o.entry("description").or_insert(d.clone());
                    }
                    let leaked: &'a Value = Box::leak(Box::new(Value::Object(o)));
                    let t = self.ty(leaked, hint);
                    return wrap(t);
                }
            }
            let t = self.ty(one, hint);
            return wrap(t);
        }
        // Every option a fixed string or a string enum: one enum.
        let resolved: Vec<&'a Value> = rest.iter().map(|o| self.resolve(o)).collect();
        if resolved.iter().all(|o| o.get("const").map(Value::is_string).unwrap_or(false) || is_string_enum(o)) {
            let mut values: Vec<(String, Option<String>)> = Vec::new();
            for o in &resolved {
                if let Some(c) = o.get("const").and_then(Value::as_str) {
                    values.push((c.to_string(), doc_of(o)));
                } else {
                    for x in o["enum"].as_array().unwrap() {
                        let s = x.as_str().unwrap().to_string();
                        let d = o.get("x-enumDescriptions").and_then(|d| d.get(&s)).and_then(Value::as_str);
                        values.push((s, d.map(str::to_owned)));
                    }
                }
            }
            // A nullable union leaves its title to the nullable alias of a definition.
            let name = if nullable { self.fresh(&Value::Null, hint) } else { self.fresh(v, hint) };
            self.types.insert(name.clone(), TypeDef::Enum(EnumDef { name: name.clone(), doc: doc_of(v), values }));
            return wrap(Ty::Named(name));
        }
        // Objects told apart by one constant string property.
        if resolved.iter().all(|o| o.get("type").and_then(Value::as_str) == Some("object")) {
            if let Some(tag) = self.discriminator(&resolved) {
                let name = if nullable { self.fresh(&Value::Null, hint) } else { self.fresh(v, hint) };
                let mut variants = Vec::new();
                for (o, raw) in resolved.iter().zip(&rest) {
                    let value = self.const_of(&o["properties"][&tag]).unwrap().to_string();
                    let t = self.ty(raw, &format!("{name}{}", pascal(&value)));
                    match t {
                        Ty::Named(s) => variants.push((value, s)),
                        other => panic!("variant of {name} is not a struct: {other:?}"),
                    }
                }
                self.types.insert(
                    name.clone(),
                    TypeDef::Union(UnionDef { name: name.clone(), doc: doc_of(v), tag, variants }),
                );
                return wrap(Ty::Named(name));
            }
        }
        let kinds: Vec<String> =
            resolved.iter().map(|o| o.get("type").map(|t| t.to_string()).unwrap_or_else(|| "untyped".into())).collect();
        let t = self.untyped(hint, format!("union of {}", kinds.join(" | ")));
        wrap(t)
    }

    /// The one property every option fixes to a distinct constant string.
    fn discriminator(&self, options: &[&'a Value]) -> Option<String> {
        let first = options[0].get("properties")?.as_object()?;
        'candidates: for key in first.keys() {
            let mut seen = BTreeSet::new();
            for o in options {
                let p = o.get("properties").and_then(|p| p.get(key));
                let c = p.and_then(|p| self.const_of(p));
                match c {
                    Some(c) if seen.insert(c.to_string()) => {}
                    _ => continue 'candidates,
                }
            }
            return Some(key.clone());
        }
        None
    }

    fn definition(&mut self, name: &str) {
        let v = self.defs[name];
        if self.types.contains_key(name) {
            return;
        }
        // A definition keeps its own name: give it to `ty` as a title that is free.
        self.taken.remove(name);
        let mut o = v.as_object().cloned().unwrap_or_default();
        o.insert("title".into(), Value::String(name.to_string()));
        let leaked: &'a Value = Box::leak(Box::new(Value::Object(o)));
        let t = self.ty(leaked, &format!("{name}Value"));
        match t {
            Ty::Named(n) if n == name => {}
            other => {
                self.taken.insert(name.to_string());
                self.types.insert(name.to_string(), TypeDef::Alias { name: name.into(), doc: doc_of(v), ty: other });
            }
        }
    }
}

fn is_string_enum(v: &Value) -> bool {
    v.get("enum").and_then(Value::as_array).map(|e| e.iter().all(Value::is_string)).unwrap_or(false)
}

/// Builds the model from the two parsed schemas and our hook schema (`hooks`: `{hooks: {type:
/// {input, output}}, definitions}`; `Value::Null` for none).
pub fn build(api: &Value, events: &Value, hooks: &Value, source: String) -> Model {
    let mut defs: BTreeMap<String, &Value> = BTreeMap::new();
    if let Some(d) = hooks.get("definitions").and_then(Value::as_object) {
        for (k, v) in d {
            assert!(
                api["definitions"].get(k).is_none() && events["definitions"].get(k).is_none(),
                "hook schema type {k} clashes with a CLI schema type"
            );
            defs.insert(k.clone(), v);
        }
    }
    // The API schema's definitions win over the events schema's (they differ only in wording).
    for doc in [events, api] {
        for (k, v) in doc["definitions"].as_object().expect("definitions") {
            defs.insert(k.clone(), v);
        }
    }
    let taken = defs.keys().cloned().collect();
    let mut b = Builder { defs, types: BTreeMap::new(), taken, untyped: Vec::new() };
    let names: Vec<String> = b.defs.keys().cloned().collect();
    for n in &names {
        b.definition(n);
    }

    let mut methods = Vec::new();
    for (key, scope) in [
        ("server", Scope::Server),
        ("session", Scope::Session),
        ("clientSession", Scope::ClientSession),
        ("clientGlobal", Scope::ClientGlobal),
    ] {
        collect_methods(&mut b, &api[key], scope, &mut vec![], &mut methods);
    }

    // Events: the `SessionEvent` union, one struct per event type.
    let mut events_out = Vec::new();
    let mut envelope: Vec<Field> = Vec::new();
    let union = b.defs["SessionEvent"]["anyOf"].as_array().expect("SessionEvent.anyOf");
    for option in union {
        let struct_name = ref_name(option["$ref"].as_str().expect("event $ref"));
        let s = match &b.types[&struct_name] {
            TypeDef::Struct(s) => s.clone(),
            other => panic!("event {struct_name} is not a struct: {other:?}"),
        };
        let wire = match s.fields.iter().find(|f| f.json == "type").map(|f| &f.ty) {
            Some(Ty::Const(c)) => c.clone(),
            other => panic!("event {struct_name} has no constant type: {other:?}"),
        };
        let data = s.fields.iter().find(|f| f.json == "data").map(|f| f.ty.clone()).unwrap_or(Ty::Any);
        let ephemeral =
            b.defs[&struct_name]["properties"].get("ephemeral").and_then(|e| e.get("const")).and_then(Value::as_bool);
        if envelope.is_empty() {
            envelope = s.fields.iter().filter(|f| f.json != "type" && f.json != "data").cloned().collect();
        }
        let name = struct_name.strip_suffix("Event").unwrap_or(&struct_name).to_string();
        events_out.push(EventDef { wire, name, doc: s.doc.clone(), data, ephemeral });
    }
    let mut hook_defs = Vec::new();
    if let Some(h) = hooks.get("hooks").and_then(Value::as_object) {
        for (wire, v) in h {
            let name = |k: &str| {
                let n = v[k].as_str().unwrap_or_else(|| panic!("hook {wire} has no {k}")).to_string();
                assert!(matches!(b.types.get(&n), Some(TypeDef::Struct(_))), "hook {wire}: {n} is not a struct");
                n
            };
            hook_defs.push(HookDef { wire: wire.clone(), input: name("input"), output: name("output") });
        }
    }
    Model { types: b.types, methods, events: events_out, envelope, untyped: b.untyped, hooks: hook_defs, source }
}

fn collect_methods<'a>(
    b: &mut Builder<'a>,
    node: &'a Value,
    scope: Scope,
    path: &mut Vec<String>,
    out: &mut Vec<Method>,
) {
    let Some(obj) = node.as_object() else { return };
    for (k, v) in obj {
        path.push(k.clone());
        if let Some(wire) = v.get("rpcMethod").and_then(Value::as_str) {
            out.push(method(b, v, scope, wire, path.clone()));
        } else if v.is_object() {
            collect_methods(b, v, scope, path, out);
        }
        path.pop();
    }
}

fn method<'a>(b: &mut Builder<'a>, v: &'a Value, scope: Scope, wire: &str, path: Vec<String>) -> Method {
    let base = pascal(wire);
    let mut params = None;
    let mut params_optional = false;
    if let Some(p) = v.get("params").filter(|p| !p.is_null()) {
        params_optional =
            p.get("anyOf").and_then(Value::as_array).map(|o| o.iter().any(|x| x.get("not").is_some())).unwrap_or(false);
        let t = b.ty(p, &format!("{base}Params"));
        match t {
            Ty::Named(n) => {
                let s = match &b.types[&n] {
                    TypeDef::Struct(s) => s.clone(),
                    // A union (`sessions.open`): passed as it is.
                    _ => Struct { name: n.clone(), doc: None, fields: vec![] },
                };
                if scope == Scope::Session && s.fields.iter().any(|f| f.json == "sessionId") {
                    // The core fills `sessionId` in: the session's params are the rest.
                    let rest: Vec<Field> = s.fields.iter().filter(|f| f.json != "sessionId").cloned().collect();
                    if rest.is_empty() {
                        params = None;
                    } else {
                        let name = if p.get("$ref").is_some() {
                            // A shared definition keeps its sessionId for other users: derive.
                            let hint = format!("{base}Params");
                            b.fresh(&Value::Null, &hint)
                        } else {
                            n.clone()
                        };
                        b.types.insert(
                            name.clone(),
                            TypeDef::Struct(Struct { name: name.clone(), doc: s.doc, fields: rest }),
                        );
                        params = Some(name);
                    }
                } else {
                    params = Some(n);
                }
            }
            Ty::Map(_) | Ty::Any => params = None,
            other => panic!("params of {wire} are {other:?}"),
        }
    }
    let result = match v.get("result") {
        Some(r) => b.ty(r, &format!("{base}Result")),
        None => Ty::Null,
    };
    Method {
        scope,
        wire: wire.to_string(),
        path,
        doc: doc_of(v),
        params,
        params_optional,
        result,
        internal: v.get("visibility").and_then(Value::as_str) == Some("internal"),
        notification: v.get("notification").and_then(Value::as_bool).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(snake("switchTo"), "switch_to");
        assert_eq!(snake("getMCPServers"), "get_mcp_servers");
        assert_eq!(snake("session.idle"), "session_idle");
        assert_eq!(snake("assistant.message_delta"), "assistant_message_delta");
        assert_eq!(pascal("session.model.switchTo"), "SessionModelSwitchTo");
        assert_eq!(pascal("mcp_server"), "McpServer");
        assert_eq!(camel("SwitchTo"), "switchTo");
    }

    fn tiny() -> Model {
        let api = serde_json::json!({
            "server": {"models": {"list": {"rpcMethod": "models.list", "params": null,
                "result": {"$ref": "#/definitions/ModelList"}}}},
            "session": {"model": {"switchTo": {"rpcMethod": "session.model.switchTo",
                "params": {"type": "object", "properties": {"sessionId": {"type": "string"},
                    "modelId": {"type": "string"}, "effort": {"anyOf": [{"type": "string", "enum": ["low", "high"]}, {"type": "null"}]}},
                    "required": ["sessionId", "modelId"]},
                "result": {"type": "null"}}}},
            "clientSession": {}, "clientGlobal": {},
            "definitions": {
                "ModelList": {"type": "object", "properties": {"models": {"type": "array", "items": {"$ref": "#/definitions/Model"}}}, "required": ["models"]},
                "Model": {"type": "object", "properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                    "source": {"anyOf": [
                        {"type": "object", "properties": {"kind": {"type": "string", "const": "a"}, "x": {"type": "integer"}}},
                        {"type": "object", "properties": {"kind": {"type": "string", "const": "b"}}}]}}}
            }
        });
        let events = serde_json::json!({"definitions": {
            "SessionEvent": {"anyOf": [{"$ref": "#/definitions/IdleEvent"}]},
            "IdleEvent": {"type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string", "const": "session.idle"},
                "data": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}}}
        }});
        let hooks = serde_json::json!({"hooks": {"preToolUse": {"input": "PreToolUseHookInput", "output": "PreToolUseHookOutput"}},
            "definitions": {"PreToolUseHookInput": {"type": "object", "properties": {"toolName": {"type": "string"}}, "required": ["toolName"]},
                "PreToolUseHookOutput": {"type": "object", "properties": {"permissionDecision": {"type": "string", "enum": ["allow", "deny"]}}}}});
        build(&api, &events, &hooks, "test".into())
    }

    #[test]
    fn builds_methods_types_and_events() {
        let m = tiny();
        let sw = m.methods.iter().find(|m| m.wire == "session.model.switchTo").unwrap();
        assert_eq!(sw.path, vec!["model", "switchTo"]);
        let p = m.struct_of(sw.params.as_deref().unwrap());
        assert_eq!(
            p.fields.iter().map(|f| f.json.as_str()).collect::<Vec<_>>(),
            ["effort", "modelId"],
            "sessionId is the core's"
        );
        assert!(matches!(&p.fields[0].ty, Ty::Nullable(t) if matches!(&**t, Ty::Named(_))));
        assert_eq!(sw.result, Ty::Null);
        let model = m.struct_of("Model");
        assert_eq!(model.fields[0].ty, Ty::DateTime, "at");
        let Ty::Named(u) = &model.fields[2].ty else { panic!() };
        let TypeDef::Union(u) = m.get(u) else { panic!() };
        assert_eq!(u.tag, "kind");
        assert_eq!(u.variants.iter().map(|v| v.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.events.len(), 1);
        assert_eq!((m.events[0].wire.as_str(), m.events[0].name.as_str()), ("session.idle", "Idle"));
        assert_eq!(m.envelope.iter().map(|f| f.json.as_str()).collect::<Vec<_>>(), ["id"]);
        assert_eq!(m.hooks.len(), 1);
        assert_eq!((m.hooks[0].wire.as_str(), m.hooks[0].input.as_str()), ("preToolUse", "PreToolUseHookInput"));
        assert!(matches!(m.get("PreToolUseHookOutputPermissionDecision"), TypeDef::Enum(_)));
        let ns = m.namespaces(Scope::Session);
        assert_eq!(ns.iter().map(|(p, _)| p.join(".")).collect::<Vec<_>>(), ["", "model"]);
    }
}
