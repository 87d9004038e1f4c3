//! The python emitter (see model.rs for the model it reads).
//!
//! Writes `bindings-python/python/copilot/protocol.py`: one class per struct (a keyword-only
//! dataclass-like class, `dataclass_transform` for the type checkers, decoded table-driven by
//! `_protocol_rt.py`), a `str` enum per string enum (unknown values stay plain strings), a
//! `typing.Union` alias per union (an unknown tag stays the JSON object), one event class per
//! event type (a subclass of `copilot.SessionEvent`), the `SessionEventType` enum, and the typed
//! RPC namespaces of the client (`ServerRpc`) and the session (`SessionRpc`).
//!
//! Naming rules (documented in the module's docstring): model type names are kept; fields are
//! snake_case (`_` appended to Python keywords and to names the runtime uses); the schema's
//! `SessionEvent` union is the hand-written `copilot.SessionEvent` base class (every event class
//! derives from it) and the union of the typed event classes is `TypedSessionEvent`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use xtask::protocol::emit::{self, File};
use xtask::protocol::model::{Method, Model, Scope, Struct, Ty, TypeDef, pascal, snake};

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match", "case", "type",
];
/// Attribute names the runtime base class uses.
const RESERVED: &[&str] = &["to_dict", "from_dict", "raw", "self", "cls"];

fn ident(s: &str) -> String {
    let mut n = snake(s);
    if n.is_empty() {
        n = "field".into();
    }
    if n.chars().next().unwrap().is_ascii_digit() {
        n = format!("f_{n}");
    }
    if KEYWORDS.contains(&n.as_str()) || RESERVED.contains(&n.as_str()) {
        n.push('_');
    }
    n
}

fn enum_member(v: &str) -> String {
    let mut n = String::new();
    for c in snake(v).chars() {
        n.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    if n.is_empty() {
        n = "EMPTY".into();
    }
    if n.chars().next().unwrap().is_ascii_digit() {
        n = format!("V_{n}");
    }
    if n == "NAME" || n == "VALUE" {
        n.push('_');
    }
    n
}

fn pystr(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A docstring at `indent`.
fn doc(out: &mut String, indent: &str, d: Option<&str>) {
    let Some(d) = d.map(str::trim).filter(|d| !d.is_empty()) else { return };
    let d = d.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    let d = d.lines().map(str::trim_end).collect::<Vec<_>>().join(&format!("\n{indent}"));
    let end = if d.ends_with('"') { " " } else { "" };
    let _ = writeln!(out, "{indent}\"\"\"{d}{end}\"\"\"");
}

struct Py<'a> {
    m: &'a Model,
    /// Event struct name (`AssistantMessageEvent`) → wire type.
    event_structs: BTreeMap<String, String>,
}

impl<'a> Py<'a> {
    /// Follows aliases.
    fn unalias(&self, t: &Ty, depth: usize) -> Ty {
        match t {
            Ty::Named(n) if depth < 20 => match self.m.types.get(n) {
                Some(TypeDef::Alias { ty, .. }) => self.unalias(ty, depth + 1),
                _ => t.clone(),
            },
            Ty::Array(x) => Ty::Array(Box::new(self.unalias(x, depth))),
            Ty::Map(x) => Ty::Map(Box::new(self.unalias(x, depth))),
            Ty::Nullable(x) => Ty::Nullable(Box::new(self.unalias(x, depth))),
            other => other.clone(),
        }
    }

    fn class_name(&self, n: &str) -> String {
        if n == "SessionEvent" { "_SessionEvent".into() } else { n.to_string() }
    }

    /// The annotation of a type (`quote`: names as forward references, for runtime aliases).
    fn ann(&self, t: &Ty, quote: bool) -> String {
        match t {
            Ty::Any => "_t.Any".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Num => "float".into(),
            Ty::Str => "str".into(),
            Ty::DateTime => "_dt.datetime".into(),
            Ty::Null => "None".into(),
            Ty::Const(c) => format!("_t.Literal[{}]", pystr(c)),
            Ty::Array(x) => format!("_t.List[{}]", self.ann(x, quote)),
            Ty::Map(x) => format!("_t.Dict[str, {}]", self.ann(x, quote)),
            Ty::Nullable(x) => match &**x {
                Ty::Any | Ty::Null => self.ann(x, quote),
                _ => format!("_t.Optional[{}]", self.ann(x, quote)),
            },
            Ty::Named(n) => {
                let c = self.class_name(n);
                if quote { pystr(&c) } else { c }
            }
        }
    }

    /// The runtime descriptor of a type (see `_protocol_rt.py`).
    fn desc(&self, t: &Ty) -> String {
        match self.unalias(t, 0) {
            Ty::Any => "\"a\"".into(),
            Ty::Bool => "\"b\"".into(),
            Ty::Int => "\"i\"".into(),
            Ty::Num => "\"n\"".into(),
            Ty::Str => "\"s\"".into(),
            Ty::DateTime => "\"d\"".into(),
            Ty::Null => "\"z\"".into(),
            Ty::Const(c) => format!("(\"c\", {})", pystr(&c)),
            Ty::Array(x) => format!("(\"l\", {})", self.desc(&x)),
            Ty::Map(x) => format!("(\"m\", {})", self.desc(&x)),
            Ty::Nullable(x) => format!("(\"o\", {})", self.desc(&x)),
            Ty::Named(n) => match self.m.types.get(&n) {
                Some(TypeDef::Alias { .. }) => "\"a\"".into(), // an alias cycle: untyped
                _ if n == "SessionEvent" => "\"e\"".into(),
                _ => pystr(&n),
            },
        }
    }

    fn field_names(&self, s: &Struct) -> Vec<String> {
        let mut seen = BTreeSet::new();
        s.fields
            .iter()
            .map(|f| {
                let mut n = ident(&f.json);
                while !seen.insert(n.clone()) {
                    n.push('_');
                }
                n
            })
            .collect()
    }

    fn struct_class(&self, out: &mut String, s: &Struct) {
        let _ = writeln!(out, "\nclass {}(_Struct):", s.name);
        doc(out, "    ", s.doc.as_deref());
        let names = self.field_names(s);
        let mut table = Vec::new();
        for (f, py) in s.fields.iter().zip(&names) {
            let ty = self.unalias(&f.ty, 0);
            let (ann, default) = match (&ty, f.required) {
                (Ty::Const(c), _) => (self.ann(&f.ty, false), Some(pystr(c))),
                (_, true) => (self.ann(&f.ty, false), None),
                (Ty::Nullable(_) | Ty::Any | Ty::Null, false) => (self.ann(&f.ty, false), Some("None".into())),
                (_, false) => (format!("_t.Optional[{}]", self.ann(&f.ty, false)), Some("None".into())),
            };
            match &default {
                Some(d) => {
                    let _ = writeln!(out, "    {py}: {ann} = {d}");
                }
                None => {
                    let _ = writeln!(out, "    {py}: {ann}");
                }
            }
            doc(out, "    ", f.doc.as_deref());
            table.push(format!(
                "({}, {}, {}, {})",
                pystr(py),
                pystr(&f.json),
                self.desc(&f.ty),
                if f.required { "True" } else { "False" }
            ));
        }
        if table.is_empty() {
            let _ = writeln!(out, "    _F = ()");
        } else {
            let _ = writeln!(out, "    _F = ({},)", table.join(", "));
        }
    }

    fn event_class(&self, out: &mut String, s: &Struct, wire: &str) {
        let ev = self.m.events.iter().find(|e| e.wire == wire).unwrap();
        let _ = writeln!(out, "\nclass {}(_SessionEvent):", s.name);
        doc(out, "    ", ev.doc.as_deref().or(Some(&format!("The `{wire}` event."))));
        let data_ann = self.ann(&ev.data, false);
        let _ = writeln!(out, "    data: {data_ann}");
        let _ = writeln!(out, "    _WIRE = {}", pystr(wire));
        let _ = writeln!(out, "    _DATA = {}", self.desc(&ev.data));
    }

    fn file(&self) -> String {
        let m = self.m;
        let mut out = String::new();
        let _ = writeln!(out, "# {}", emit::header(m));
        out.push_str(MODULE_DOC);
        out.push_str(IMPORTS);

        // Enums and the event type enum.
        let mut ev_members = BTreeSet::new();
        let _ = writeln!(out, "\nclass SessionEventType(_Enum):");
        doc(
            &mut out,
            "    ",
            Some(
                "Every event type of the schema (`ev.type` is a member; an event type the schema does not know stays a plain `str`).",
            ),
        );
        for e in &m.events {
            let mut n = enum_member(&e.wire);
            while !ev_members.insert(n.clone()) {
                n.push('_');
            }
            let _ = writeln!(out, "    {n} = {}", pystr(&e.wire));
        }
        for t in m.types.values() {
            if let TypeDef::Enum(e) = t {
                let _ = writeln!(out, "\nclass {}(_Enum):", e.name);
                doc(&mut out, "    ", e.doc.as_deref());
                let mut seen = BTreeSet::new();
                let mut any = false;
                for (v, d) in &e.values {
                    let mut n = enum_member(v);
                    while !seen.insert(n.clone()) {
                        n.push('_');
                    }
                    let _ = writeln!(out, "    {n} = {}", pystr(v));
                    doc(&mut out, "    ", d.as_deref());
                    any = true;
                }
                if !any {
                    out.push_str("    pass\n");
                }
            }
        }
        // Structs and events.
        for t in m.types.values() {
            if let TypeDef::Struct(s) = t {
                match self.event_structs.get(&s.name) {
                    Some(wire) => self.event_class(&mut out, s, wire),
                    None => self.struct_class(&mut out, s),
                }
            }
        }
        // Unions and aliases: real aliases for the type checkers; at run time evaluated on first
        // access (module `__getattr__`), as building 600 `typing` objects costs 0.3 s at import.
        out.push_str("\n\n# ----------------------------------------------------------------- unions and aliases\n");
        let mut lazy = Vec::new();
        out.push_str("\nif _t.TYPE_CHECKING:\n");
        for t in m.types.values() {
            match t {
                TypeDef::Union(u) => {
                    let mut vs: Vec<String> = Vec::new();
                    for (_, s) in &u.variants {
                        if !vs.contains(s) {
                            vs.push(s.clone());
                        }
                    }
                    vs.push("_t.Dict[str, _t.Any]".into());
                    let expr = format!("_t.Union[{}]", vs.join(", "));
                    let _ = writeln!(out, "    {}: TypeAlias = {expr}", u.name);
                    doc(
                        &mut out,
                        "    ",
                        u.doc
                            .as_deref()
                            .or(Some("A tagged union; a tag the schema does not know stays the JSON object.")),
                    );
                    lazy.push((u.name.clone(), expr));
                }
                TypeDef::Alias { name, doc: d, ty } if name != "SessionEvent" => {
                    let expr = self.ann(ty, false);
                    let _ = writeln!(out, "    {name}: TypeAlias = {expr}");
                    doc(&mut out, "    ", d.as_deref());
                    lazy.push((name.clone(), expr));
                }
                _ => {}
            }
        }
        let evs: Vec<String> = m.events.iter().map(|e| format!("{}Event", e.name)).collect();
        let expr = format!("_t.Union[{}]", evs.join(", "));
        out.push_str("    TypedSessionEvent: TypeAlias = ");
        out.push_str(&expr);
        out.push('\n');
        doc(
            &mut out,
            "    ",
            Some(
                "Any typed event (narrow with `isinstance`); an event of a type the schema lacks is a plain `copilot.SessionEvent`.",
            ),
        );
        lazy.push(("TypedSessionEvent".into(), expr));
        out.push_str("else:\n    _ALIASES = {\n");
        for (n, e) in &lazy {
            let _ = writeln!(out, "        {}: {},", pystr(n), pystr(e));
        }
        out.push_str(
            "    }\n\n    def __getattr__(name: str) -> _t.Any:\n        return _rt.alias(globals(), _ALIASES, name)\n",
        );
        for t in m.types.values() {
            if let TypeDef::Union(u) = t {
                let vars: Vec<String> =
                    u.variants.iter().map(|(tag, s)| format!("{}: {}", pystr(tag), pystr(s))).collect();
                let _ = writeln!(out, "_UNIONS[{}] = ({}, {{{}}})", pystr(&u.name), pystr(&u.tag), vars.join(", "));
            }
        }
        // Events.
        out.push_str("\n\n# ----------------------------------------------------------------- events\n\n");
        let _ = writeln!(out, "\nEVENT_CLASSES: _t.Dict[str, _t.Type[_SessionEvent]] = {{");
        for (e, c) in m.events.iter().zip(&evs) {
            let _ = writeln!(out, "    {}: {c},", pystr(&e.wire));
        }
        out.push_str("}\n");

        // Hooks: the typed input and output of each hook type, and the type of its function.
        out.push_str("\n\n# ----------------------------------------------------------------- hooks\n\n");
        out.push_str("HOOK_TYPES: _t.Dict[str, _t.Tuple[_t.Type[_Struct], _t.Type[_Struct]]] = {\n");
        for h in &m.hooks {
            let _ = writeln!(out, "    {}: ({}, {}),", pystr(&h.wire), h.input, h.output);
        }
        out.push_str("}\n\"\"\"Hook type (wire name) → (input class, output class). A hook function receives its input\nclass (an instance that is also the wire ``dict``) and may return the output class, a dict or None.\"\"\"\n");
        for h in &m.hooks {
            let ret = format!("_t.Union[{}, _t.Dict[str, _t.Any], None]", h.output);
            let _ = writeln!(
                out,
                "{}Hook = _t.Callable[[{}, _HookInvocation], _t.Union[{ret}, _t.Awaitable[{ret}]]]",
                pascal(&h.wire),
                h.input
            );
            let _ = writeln!(out, "\"\"\"The function of a `{}` hook (sync or async).\"\"\"", h.wire);
        }

        // RPC.
        out.push_str("\n\n# ----------------------------------------------------------------- rpc\n");
        self.rpc(&mut out, Scope::Server, "Server");
        self.rpc(&mut out, Scope::Session, "Session");

        // Host-served methods: names only.
        out.push_str("\n\n# Methods the host serves (the core answers them): wire names, for reference.\n");
        for (scope, name) in
            [(Scope::ClientSession, "CLIENT_SESSION_METHODS"), (Scope::ClientGlobal, "CLIENT_GLOBAL_METHODS")]
        {
            let ws: Vec<String> = m.methods_of(scope).map(|x| format!("    {},\n", pystr(&x.wire))).collect();
            let _ = writeln!(out, "{name}: _t.Tuple[str, ...] = (\n{})", ws.concat());
        }
        out.push_str("\n_rt.register(globals())\n");
        out
    }

    fn api_class(&self, prefix: &str, path: &[String]) -> String {
        let mut n = format!("{prefix}{}Api", path.iter().map(|p| pascal(p)).collect::<String>());
        while self.m.types.contains_key(&n) {
            n.push('_');
        }
        n
    }

    fn rpc(&self, out: &mut String, scope: Scope, prefix: &str) {
        let tree = self.m.namespaces(scope);
        // Children before parents so the properties' return types are defined (names are
        // annotations only; any order works, this one reads top-down by depth).
        for (path, methods) in tree.iter().rev() {
            let cls = if path.is_empty() { format!("{prefix}Rpc") } else { self.api_class(prefix, path) };
            let base = if path.is_empty() { "_rt.RpcRoot" } else { "_rt.Api" };
            let _ = writeln!(out, "\nclass {cls}({base}):");
            let what = if path.is_empty() {
                if scope == Scope::Server {
                    "The typed server-scoped API: `client.rpc.models.list()`. Calling it (`await client.rpc(method, params)`) is the generic call, like `client.call`.".to_string()
                } else {
                    "The typed session-scoped API (`sessionId` is added): `session.rpc.model.switch_to(model_id=...)`. Calling it (`await session.rpc(method, params)`) is the generic call, like `session.call`.".to_string()
                }
            } else {
                format!("The `{}` methods.", path.join("."))
            };
            doc(out, "    ", Some(&what));
            out.push_str("    __slots__ = ()\n");
            let mut used = BTreeSet::new();
            // Sub-namespaces.
            for (p, _) in &tree {
                if p.len() == path.len() + 1 && p[..path.len()] == path[..] {
                    let name = ident(p.last().unwrap());
                    used.insert(name.clone());
                    let sub = self.api_class(prefix, p);
                    let _ = writeln!(out, "\n    @property\n    def {name}(self) -> {sub}:");
                    let _ = writeln!(out, "        return {sub}(self._c)");
                }
            }
            for me in methods {
                let mut name = ident(me.path.last().unwrap());
                while !used.insert(name.clone()) {
                    name.push('_');
                }
                self.method(out, me, &name);
            }
        }
    }

    fn method(&self, out: &mut String, me: &Method, name: &str) {
        let result_ann = match &me.result {
            Ty::Null => "None".to_string(),
            t => self.ann(t, false),
        };
        let result_desc = match &me.result {
            Ty::Null => "\"a\"".to_string(),
            t => self.desc(t),
        };
        let mut d = me.doc.clone().unwrap_or_default();
        if me.internal {
            d = format!("Internal (SDK plumbing in the CLI; may change without notice). {d}");
        }
        d = format!("`{}`. {d}", me.wire);
        let tail = format!(
            "        return _t.cast({}, await self._c({}, p, timeout, {}))\n",
            pystr(&result_ann),
            pystr(&me.wire),
            result_desc
        );
        let ret = if result_ann == "None" {
            format!("        await self._c({}, p, timeout, {})\n", pystr(&me.wire), result_desc)
        } else {
            tail
        };
        match &me.params {
            None => {
                let _ = writeln!(
                    out,
                    "\n    async def {name}(self, *, timeout: _rt.Timeout = _rt.REQUEST_TIMEOUT) -> {result_ann}:"
                );
                doc(out, "        ", Some(&d));
                out.push_str("        p = None\n");
                out.push_str(&ret);
            }
            Some(pn) => {
                let fields = match self.m.types.get(pn) {
                    Some(TypeDef::Struct(s)) => Some(s),
                    _ => None,
                };
                let opt = if me.params_optional { " = None" } else { "" };
                let popt = if me.params_optional {
                    format!("_t.Optional[_t.Union[{pn}, _t.Dict[str, _t.Any]]]")
                } else {
                    format!("_t.Union[{pn}, _t.Dict[str, _t.Any]]")
                };
                match fields {
                    Some(s) if !s.fields.is_empty() => {
                        let names = self.field_names(s);
                        let mut kws = Vec::new();
                        for (f, py) in s.fields.iter().zip(&names) {
                            let py = if py == "timeout" || py == "params" { format!("{py}_") } else { py.clone() };
                            let ty = self.unalias(&f.ty, 0);
                            let a = self.ann(&f.ty, false);
                            let k = match (&ty, f.required && !me.params_optional) {
                                (Ty::Const(c), _) => format!("{py}: {a} = {}", pystr(c)),
                                (_, true) => format!("{py}: {a}"),
                                (Ty::Nullable(_) | Ty::Any | Ty::Null, false) => format!("{py}: {a} = None"),
                                (_, false) => format!("{py}: _t.Optional[{a}] = None"),
                            };
                            kws.push(k);
                        }
                        let _ = writeln!(
                            out,
                            "\n    @_t.overload\n    async def {name}(self, params: {popt}{opt}, /, *, timeout: _rt.Timeout = ...) -> {result_ann}: ..."
                        );
                        let _ = writeln!(
                            out,
                            "\n    @_t.overload\n    async def {name}(self, *, {}, timeout: _rt.Timeout = ...) -> {result_ann}: ...",
                            kws.join(", ")
                        );
                        let _ = writeln!(
                            out,
                            "\n    async def {name}(self, params: _t.Any = None, /, *, timeout: _rt.Timeout = _rt.REQUEST_TIMEOUT, **kwargs: _t.Any) -> {result_ann}:"
                        );
                        doc(out, "        ", Some(&d));
                        let _ = writeln!(out, "        p = _rt.params({pn}, params, kwargs)");
                        out.push_str(&ret);
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "\n    async def {name}(self, params: {popt}{opt}, /, *, timeout: _rt.Timeout = _rt.REQUEST_TIMEOUT) -> {result_ann}:"
                        );
                        doc(out, "        ", Some(&d));
                        out.push_str("        p = _rt.params(None, params, {})\n");
                        out.push_str(&ret);
                    }
                }
            }
        }
    }
}

const MODULE_DOC: &str = r#""""The Copilot CLI's protocol, typed (generated from its JSON schemas).

- One class per object type (keyword-only constructor, ``to_dict()``, ``from_dict()``; ``raw``
  is the JSON object it was read from). Fields are the JSON names in snake_case (a trailing
  ``_`` after Python keywords and after ``to_dict``/``from_dict``/``raw``).
- One ``str`` enum per string enum; a value the schema does not know stays a plain ``str``.
- Tagged unions are ``typing.Union`` aliases; a tag the schema does not know stays the JSON
  object (a ``dict``).
- One event class per event type (``AssistantMessageEvent``, ``.data`` an
  ``AssistantMessageData``), each a subclass of ``copilot.SessionEvent`` (the schema's
  ``SessionEvent`` union is that base class; ``TypedSessionEvent`` is the union of the typed
  classes). ``SessionEventType`` lists the event types.
- ``ServerRpc`` / ``SessionRpc``: the typed calls of ``client.rpc`` / ``session.rpc``.

Date-times are ``datetime.datetime``. Decoding never fails: a value the types cannot read is
kept as it came (and, with ``COPILOT_STRICT_TYPES=1``, recorded; see ``copilot._protocol_rt``).
"""
"#;

const IMPORTS: &str = r#"from __future__ import annotations

import datetime as _dt
import typing as _t

from . import _protocol_rt as _rt
from ._protocol_rt import _UNIONS, _Enum, _Struct
from .types import HookInvocation as _HookInvocation
from .types import SessionEvent as _SessionEvent

if _t.TYPE_CHECKING:
    from typing_extensions import TypeAlias
"#;

/// The generated python files.
pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let event_structs = m.events.iter().map(|e| (format!("{}Event", e.name), e.wire.clone())).collect();
    let py = Py { m, event_structs };
    vec![(root.join("bindings-python/python/copilot/protocol.py"), py.file())]
}
