//! The C# emitter (see model.rs for the model it reads): `bindings-c/dotnet/src/Protocol.g.cs`.
//!
//! Layout and naming rules (C# 7.2, compiled by Mono's mcs):
//! - Every named type of the model is a class of namespace `GitHub.Copilot.SDK.Protocol` under its
//!   model name (hand-written types of `GitHub.Copilot.SDK` with the same name, e.g.
//!   `SessionMetadata`, stay distinct: write `Protocol.SessionMetadata` when both namespaces are
//!   imported). Aliases are resolved to what they name.
//! - Structs: a sealed class with one property per field (PascalCase of the JSON name; a name equal
//!   to the class or to a member of the class (`Json`, `ToJson`, ...) gets the suffix `Value`),
//!   `FromJson`/`ToJson` over the SDK's `JsonData`, and `Json` (the object it was read from, so
//!   unknown fields stay readable).
//! - String enums: a sealed class holding the wire string (`Value`), one static field per known
//!   value, `IsKnown`; an unknown value decodes to an instance that is not known (never an error).
//! - Unions: a sealed class with `Tag`, `Value` (the variant object, null for an unknown tag) and
//!   `Json`; implicit conversions from each variant.
//! - Events: one class `{Name}Event : SessionEvent` per event type in namespace `GitHub.Copilot.SDK`
//!   whose `Data` (hiding the untyped base `Data`) is the generated data type, decoded on first
//!   use; `SessionEventTypes` holds the wire names. The model's own event structs and the
//!   `SessionEvent` union are those classes and are not emitted again.
//! - RPC: `ServerRpc` (client.Rpc) and `SessionRpc` (session.Rpc), one class per namespace
//!   (`SessionModelApi`, ...), one `XxxAsync` method per schema method, each through the binding's
//!   generic call.
//! - Hooks: `HookTypes` (the wire names of `Model::hooks`) and one typed adapter per hook type,
//!   `Hooks.PreToolUse(Func<PreToolUseHookInput, HookInvocation, Task<PreToolUseHookOutput>>)`,
//!   giving the untyped handler `SessionConfig.Hooks` takes (the shared part is hand-written in
//!   `src/TypedHooks.cs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use xtask::protocol::emit::{self, File};
use xtask::protocol::model::{Model, Scope, Ty, TypeDef, pascal};

/// The generated C# files.
pub fn files(root: &Path, m: &Model) -> Vec<File> {
    let mut e = Emitter::new(m);
    let text = e.file();
    vec![(root.join("bindings-c/dotnet/src/Protocol.g.cs"), text)]
}

struct Emitter<'a> {
    m: &'a Model,
    /// Model struct name → event class name (`AssistantMessageEvent`).
    event_structs: BTreeMap<String, String>,
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn doc(out: &mut String, indent: &str, d: Option<&str>) {
    let Some(d) = d else { return };
    let d = d.trim();
    if d.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}/// <summary>");
    for line in d.lines() {
        let _ = writeln!(out, "{indent}/// {}", xml(line.trim_end()));
    }
    let _ = writeln!(out, "{indent}/// </summary>");
}

fn lit(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A C# identifier from a JSON name.
fn ident(s: &str) -> String {
    let p = pascal(s);
    if p.is_empty() {
        "Empty".into()
    } else if p.chars().next().unwrap().is_ascii_digit() {
        format!("N{p}")
    } else {
        p
    }
}

const STRUCT_MEMBERS: &[&str] = &["Json", "ToJson", "FromJson", "Equals", "GetHashCode", "GetType", "ToString"];
const ENUM_MEMBERS: &[&str] =
    &["Value", "KnownValues", "IsKnown", "ToJson", "FromJson", "Equals", "GetHashCode", "GetType", "ToString"];

/// Unique member names: clashes with `reserved` or the class name get `Value`, duplicates a number.
fn members(names: &[String], class: &str, reserved: &[&str]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .iter()
        .map(|n| {
            let mut id = ident(n);
            if id == class || reserved.contains(&id.as_str()) {
                id.push_str("Value");
            }
            let base = id.clone();
            let mut k = 2;
            while !seen.insert(id.clone()) {
                id = format!("{base}{k}");
                k += 1;
            }
            id
        })
        .collect()
}

impl<'a> Emitter<'a> {
    fn new(m: &'a Model) -> Self {
        let mut event_structs = BTreeMap::new();
        for ev in &m.events {
            event_structs.insert(format!("{}Event", ev.name), format!("{}Event", ev.name));
        }
        Emitter { m, event_structs }
    }

    /// Follows aliases (at the top level; items are resolved when they are reached). An alias that
    /// reaches itself through aliases only (a recursive JSON value) is a JSON value.
    fn resolve(&self, t: &Ty) -> Ty {
        match t {
            Ty::Named(n) => match self.m.types.get(n) {
                Some(TypeDef::Alias { ty, .. }) => {
                    if self.recursive_alias(n, ty, &mut vec![]) {
                        Ty::Any
                    } else {
                        self.resolve(ty)
                    }
                }
                _ => t.clone(),
            },
            Ty::Nullable(i) => match self.resolve(i) {
                Ty::Nullable(x) => Ty::Nullable(x),
                Ty::Any => Ty::Any,
                Ty::Null => Ty::Null,
                x => Ty::Nullable(Box::new(x)),
            },
            _ => t.clone(),
        }
    }

    fn recursive_alias(&self, name: &str, t: &Ty, seen: &mut Vec<String>) -> bool {
        match t {
            Ty::Named(n) => {
                if n == name {
                    return true;
                }
                if seen.contains(n) {
                    return false;
                }
                seen.push(n.clone());
                match self.m.types.get(n) {
                    Some(TypeDef::Alias { ty, .. }) => self.recursive_alias(name, ty, seen),
                    _ => false,
                }
            }
            Ty::Nullable(i) | Ty::Array(i) | Ty::Map(i) => self.recursive_alias(name, i, seen),
            _ => false,
        }
    }

    fn is_event_union(&self, n: &str) -> bool {
        n == "SessionEvent"
    }

    /// The C# type; `opt` makes value types nullable.
    fn cs(&self, t: &Ty, opt: bool) -> String {
        let q = if opt { "?" } else { "" };
        match self.resolve(t) {
            Ty::Any | Ty::Null => "JsonData".into(),
            Ty::Bool => format!("bool{q}"),
            Ty::Int => format!("long{q}"),
            Ty::Num => format!("double{q}"),
            Ty::DateTime => format!("DateTimeOffset{q}"),
            Ty::Str | Ty::Const(_) => "string".into(),
            Ty::Array(i) => format!("List<{}>", self.cs(&i, false)),
            Ty::Map(i) => format!("Dictionary<string, {}>", self.cs(&i, false)),
            Ty::Nullable(i) => self.cs(&i, true),
            Ty::Named(n) => {
                if self.is_event_union(&n) {
                    "global::GitHub.Copilot.SDK.SessionEvent".into()
                } else if let Some(ev) = self.event_structs.get(&n) {
                    format!("global::GitHub.Copilot.SDK.{ev}")
                } else {
                    n
                }
            }
        }
    }

    /// An expression decoding JSON `v` (reporting at `at`, a C# string literal) into `cs(t, opt)`.
    fn dec(&self, t: &Ty, v: &str, at: &str, opt: bool, depth: usize) -> String {
        let or = |e: String, d: &str| if opt { e } else { format!("({e} ?? {d})") };
        match self.resolve(t) {
            Ty::Any | Ty::Null => format!("Wire.Any({v})"),
            Ty::Bool => or(format!("Wire.Bool({v}, {at})"), "false"),
            Ty::Int => or(format!("Wire.Int({v}, {at})"), "0L"),
            Ty::Num => or(format!("Wire.Num({v}, {at})"), "0.0"),
            Ty::DateTime => or(format!("Wire.Time({v}, {at})"), "default(DateTimeOffset)"),
            Ty::Str => format!("Wire.Str({v}, {at})"),
            Ty::Const(c) => format!("Wire.Const({v}, {at}, {})", lit(&c)),
            Ty::Array(i) => {
                let (x, a) = (format!("x{depth}"), format!("a{depth}"));
                format!("Wire.List({v}, {at}, ({x}, {a}) => {})", self.dec(&i, &x, &a, false, depth + 1))
            }
            Ty::Map(i) => {
                let (x, a) = (format!("x{depth}"), format!("a{depth}"));
                format!("Wire.Map({v}, {at}, ({x}, {a}) => {})", self.dec(&i, &x, &a, false, depth + 1))
            }
            Ty::Nullable(i) => self.dec(&i, v, at, true, depth),
            Ty::Named(_) => {
                let cs = self.cs(t, false);
                if cs.starts_with("global::") {
                    format!("Wire.Event<{cs}>({v}, {at})")
                } else {
                    format!("{cs}.FromJson({v}, {at})")
                }
            }
        }
    }

    /// An expression encoding C# value `e` of `cs(t, _)` as JsonData.
    fn enc(&self, t: &Ty, e: &str, depth: usize) -> String {
        match self.resolve(t) {
            Ty::Array(i) => {
                let x = format!("x{depth}");
                format!("Wire.EncList({e}, {x} => {})", self.enc(&i, &x, depth + 1))
            }
            Ty::Map(i) => {
                let x = format!("x{depth}");
                format!("Wire.EncMap({e}, {x} => {})", self.enc(&i, &x, depth + 1))
            }
            Ty::Nullable(i) => self.enc(&i, e, depth),
            _ => format!("Wire.Enc({e})"),
        }
    }

    fn file(&mut self) -> String {
        let m = self.m;
        let mut o = String::new();
        let _ = writeln!(o, "// {}", emit::header(m));
        o.push_str(
            "// The typed protocol of the .NET SDK: see xtask/src/emitters/csharp.rs for the naming rules.\n\
             #pragma warning disable 1591\n\
             using System;\n\
             using System.Collections.Generic;\n\
             using System.Threading;\n\
             using System.Threading.Tasks;\n\n\
             namespace GitHub.Copilot.SDK.Protocol\n{\n",
        );
        for (name, t) in &m.types {
            if self.event_structs.contains_key(name) || self.is_event_union(name) {
                continue;
            }
            match t {
                TypeDef::Struct(s) => self.struct_(&mut o, name, s.doc.as_deref(), &s.fields),
                TypeDef::Enum(en) => self.enum_(&mut o, en),
                TypeDef::Union(u) => self.union_(&mut o, u),
                TypeDef::Alias { .. } => {}
            }
        }
        self.rpc(&mut o, Scope::Server, "ServerRpc", "Server");
        self.rpc(&mut o, Scope::Session, "SessionRpc", "Session");
        self.client_methods(&mut o);
        o.push_str("}\n\nnamespace GitHub.Copilot.SDK\n{\n    using GitHub.Copilot.SDK.Protocol;\n\n");
        self.events(&mut o);
        self.hooks(&mut o);
        o.push_str("}\n");
        o
    }

    fn struct_(&self, o: &mut String, name: &str, d: Option<&str>, fields: &[xtask::protocol::model::Field]) {
        let ids = members(&fields.iter().map(|f| f.json.clone()).collect::<Vec<_>>(), name, STRUCT_MEMBERS);
        doc(o, "    ", d);
        let _ = writeln!(o, "    public sealed partial class {name} : IWireValue\n    {{");
        for (f, id) in fields.iter().zip(&ids) {
            doc(o, "        ", f.doc.as_deref());
            let ty = self.resolve(&f.ty);
            let opt = !f.required;
            let init = match &ty {
                Ty::Const(c) => format!(" = {};", lit(c)),
                _ => String::new(),
            };
            let _ = writeln!(o, "        public {} {id} {{ get; set; }}{init}", self.cs(&ty, opt));
        }
        let _ = writeln!(
            o,
            "        /// <summary>The JSON object this was read from (null when built in code): unknown fields stay readable.</summary>"
        );
        let _ = writeln!(o, "        public JsonData Json {{ get; private set; }}");
        let known: Vec<String> = fields.iter().map(|f| lit(&f.json)).collect();
        // Required fields; `?` first: may be null.
        let req: Vec<String> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| {
                let nullable = matches!(self.resolve(&f.ty), Ty::Nullable(_) | Ty::Any | Ty::Null);
                lit(&format!("{}{}", if nullable { "?" } else { "" }, f.json))
            })
            .collect();
        let _ = writeln!(o, "        static readonly string[] K = {{ {} }};", known.join(", "));
        let _ = writeln!(o, "        static readonly string[] R = {{ {} }};", req.join(", "));
        let _ = writeln!(o, "        /// <summary>Reads one from JSON (null for JSON null).</summary>");
        let _ =
            writeln!(o, "        public static {name} FromJson(JsonData j) {{ return FromJson(j, {}); }}", lit(name));
        let _ = writeln!(o, "        internal static {name} FromJson(JsonData j, string at)\n        {{");
        let _ = writeln!(o, "            if (!Wire.Obj(j, at, K, R)) return null;");
        let _ = writeln!(o, "            var o = new {name} {{ Json = j }};");
        for (f, id) in fields.iter().zip(&ids) {
            let at = lit(&format!("{name}.{}", f.json));
            let _ = writeln!(
                o,
                "            o.{id} = {};",
                self.dec(&f.ty, &format!("j[{}]", lit(&f.json)), &at, !f.required, 0)
            );
        }
        let _ = writeln!(o, "            return o;\n        }}");
        let _ =
            writeln!(o, "        /// <summary>The JSON object (optional fields that are null are left out).</summary>");
        let _ = writeln!(o, "        public JsonData ToJson()\n        {{\n            var o = JsonData.Object();");
        for (f, id) in fields.iter().zip(&ids) {
            let set = format!("o.Set({}, {});", lit(&f.json), self.enc(&f.ty, id, 0));
            if f.required {
                let _ = writeln!(o, "            {set}");
            } else {
                let _ = writeln!(o, "            if ({id} != null) {set}");
            }
        }
        let _ = writeln!(o, "            return o;\n        }}\n    }}\n");
    }

    fn enum_(&self, o: &mut String, en: &xtask::protocol::model::EnumDef) {
        let name = &en.name;
        let ids = members(&en.values.iter().map(|v| v.0.clone()).collect::<Vec<_>>(), name, ENUM_MEMBERS);
        doc(o, "    ", en.doc.as_deref());
        let _ = writeln!(o, "    public sealed partial class {name} : IWireValue, IEquatable<{name}>\n    {{");
        let _ = writeln!(
            o,
            "        public static readonly string[] KnownValues = {{ {} }};",
            en.values.iter().map(|v| lit(&v.0)).collect::<Vec<_>>().join(", ")
        );
        for ((v, d), id) in en.values.iter().zip(&ids) {
            doc(o, "        ", d.as_deref());
            let _ = writeln!(o, "        public static readonly {name} {id} = new {name}({});", lit(v));
        }
        let _ = writeln!(
            o,
            "        /// <summary>The wire string (also one the schema does not know).</summary>\n        public string Value {{ get; private set; }}\n        public {name}(string value) {{ Value = value; }}\n        /// <summary>False for a value newer than the schema.</summary>\n        public bool IsKnown {{ get {{ return Array.IndexOf(KnownValues, Value) >= 0; }} }}\n        internal static {name} FromJson(JsonData j, string at) {{ var s = Wire.EnumStr(j, at, KnownValues); return s == null ? null : new {name}(s); }}\n        public JsonData ToJson() {{ return JsonData.String(Value); }}\n        public bool Equals({name} other) {{ return !ReferenceEquals(other, null) && other.Value == Value; }}\n        public override bool Equals(object obj) {{ return Equals(obj as {name}); }}\n        public override int GetHashCode() {{ return Value == null ? 0 : Value.GetHashCode(); }}\n        public override string ToString() {{ return Value; }}\n        public static bool operator ==({name} a, {name} b) {{ return ReferenceEquals(a, null) ? ReferenceEquals(b, null) : a.Equals(b); }}\n        public static bool operator !=({name} a, {name} b) {{ return !(a == b); }}\n        public static implicit operator {name}(string value) {{ return value == null ? null : new {name}(value); }}\n    }}\n"
        );
    }

    fn union_(&self, o: &mut String, u: &xtask::protocol::model::UnionDef) {
        let name = &u.name;
        doc(o, "    ", u.doc.as_deref());
        let _ = writeln!(o, "    public sealed partial class {name} : IWireValue\n    {{");
        let _ = writeln!(
            o,
            "        /// <summary>The discriminator (`{}`).</summary>\n        public string Tag {{ get; private set; }}",
            xml(&u.tag)
        );
        let _ = writeln!(
            o,
            "        /// <summary>The variant (null for a tag the schema does not know: read <see cref=\"Json\"/>).</summary>\n        public IWireValue Value {{ get; private set; }}"
        );
        let _ = writeln!(o, "        public JsonData Json {{ get; private set; }}");
        let _ = writeln!(o, "        {name}() {{ }}");
        let _ = writeln!(o, "        public {name}(IWireValue value) {{ Value = value; }}");
        let _ = writeln!(
            o,
            "        /// <summary>The variant as <typeparamref name=\"T\"/>, or null.</summary>\n        public T As<T>() where T : class {{ return Value as T; }}"
        );
        let _ =
            writeln!(o, "        public static {name} FromJson(JsonData j) {{ return FromJson(j, {}); }}", lit(name));
        let _ = writeln!(o, "        internal static {name} FromJson(JsonData j, string at)\n        {{");
        let _ = writeln!(o, "            if (!Wire.Obj(j, at, null, null)) return null;");
        let _ = writeln!(o, "            var tag = Wire.Tag(j, at, {});", lit(&u.tag));
        let _ = writeln!(
            o,
            "            var u = new {name} {{ Json = j, Tag = tag }};\n            switch (tag)\n            {{"
        );
        for (tag, variant) in &u.variants {
            let _ = writeln!(
                o,
                "                case {}: u.Value = {}; break;",
                lit(tag),
                self.dec(&Ty::Named(variant.clone()), "j", &lit(variant), false, 0)
            );
        }
        let _ = writeln!(
            o,
            "                default: if (tag != null) Wire.UnknownEnum(at, tag); break;\n            }}\n            return u;\n        }}"
        );
        let _ = writeln!(
            o,
            "        public JsonData ToJson() {{ return Value != null ? Value.ToJson() : (Json ?? JsonData.Null); }}"
        );
        let mut seen = BTreeSet::new();
        for (_, variant) in &u.variants {
            let cs = self.cs(&Ty::Named(variant.clone()), false);
            if seen.insert(cs.clone()) && !cs.starts_with("global::") {
                let _ = writeln!(
                    o,
                    "        public static implicit operator {name}({cs} v) {{ return v == null ? null : new {name}(v); }}"
                );
            }
        }
        let _ = writeln!(o, "    }}\n");
    }

    fn rpc(&self, o: &mut String, scope: Scope, root: &str, prefix: &str) {
        let ns = self.m.namespaces(scope);
        for (path, methods) in &ns {
            let class = if path.is_empty() {
                root.to_string()
            } else {
                format!("{prefix}{}Api", path.iter().map(|p| ident(p)).collect::<String>())
            };
            assert!(!self.m.types.contains_key(&class), "RPC class {class} clashes with a type");
            if path.is_empty() {
                let what = if scope == Scope::Server { "client" } else { "session" };
                let _ = writeln!(
                    o,
                    "    /// <summary>The typed {what}-level methods of the schema (<c>{what}.Rpc</c>); each goes through the generic call (<c>CallAsync</c>).</summary>"
                );
            } else {
                let _ = writeln!(o, "    /// <summary>The <c>{}</c> methods.</summary>", path.join("."));
            }
            let _ = writeln!(o, "    public sealed partial class {class}\n    {{");
            if !methods.is_empty() {
                let _ = writeln!(o, "        readonly RpcCall _call;");
            }
            let children: Vec<&Vec<String>> = ns
                .iter()
                .map(|(p, _)| p)
                .filter(|p| p.len() == path.len() + 1 && p[..path.len()] == path[..])
                .collect();
            let _ = writeln!(o, "        internal {class}(RpcCall call)\n        {{");
            if !methods.is_empty() {
                let _ = writeln!(o, "            _call = call;");
            }
            for c in &children {
                let cc = format!("{prefix}{}Api", c.iter().map(|p| ident(p)).collect::<String>());
                let _ = writeln!(o, "            {} = new {cc}(call);", ident(c.last().unwrap()));
            }
            let _ = writeln!(o, "        }}");
            for c in &children {
                let cc = format!("{prefix}{}Api", c.iter().map(|p| ident(p)).collect::<String>());
                let _ = writeln!(o, "        public {cc} {} {{ get; private set; }}", ident(c.last().unwrap()));
            }
            for mth in methods {
                let mut d = mth.doc.clone().unwrap_or_default();
                if mth.internal {
                    d = format!("Internal (SDK plumbing in the CLI; may change without notice). {d}");
                }
                d = format!("<c>{}</c>. {}", mth.wire, xml(&d));
                let _ = writeln!(o, "        /// <summary>{}</summary>", d.trim().replace('\n', "\n        /// "));
                let result = self.resolve(&mth.result);
                let (ret, body_ret) = match result {
                    Ty::Null => ("Task".to_string(), None),
                    _ => (
                        format!("Task<{}>", self.cs(&result, true)),
                        Some(self.dec(&result, "r", &lit(&mth.wire), true, 0)),
                    ),
                };
                let id = format!("{}Async", ident(mth.path.last().unwrap()));
                let param = match &mth.params {
                    Some(p) => {
                        let def = if mth.params_optional { " = null" } else { "" };
                        format!("{} parameters{def}, ", self.cs(&Ty::Named(p.clone()), false))
                    }
                    None => String::new(),
                };
                let _ = writeln!(
                    o,
                    "        public async {ret} {id}({param}CancellationToken cancellationToken = default(CancellationToken))\n        {{"
                );
                let p = match &mth.params {
                    Some(_) if mth.params_optional => "parameters == null ? null : parameters.ToJson()".to_string(),
                    Some(_) => {
                        let _ = writeln!(
                            o,
                            "            if (parameters == null) throw new ArgumentNullException(\"parameters\");"
                        );
                        "parameters.ToJson()".to_string()
                    }
                    None => "null".to_string(),
                };
                let call = format!("await _call({}, {p}, cancellationToken).ConfigureAwait(false)", lit(&mth.wire));
                match body_ret {
                    None => {
                        let _ = writeln!(o, "            {call};");
                    }
                    Some(dec) => {
                        let _ = writeln!(o, "            var r = {call};");
                        let _ = writeln!(o, "            Wire.Result({});", lit(&mth.wire));
                        let _ = writeln!(o, "            return {dec};");
                    }
                }
                let _ = writeln!(o, "        }}");
            }
            let _ = writeln!(o, "    }}\n");
        }
    }

    /// The server → client requests the host serves: wire names, for reference.
    fn client_methods(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "    /// <summary>The methods the CLI calls on the host (session-scoped and global): wire names, with params and result types in this namespace.</summary>\n    public static class ClientMethods\n    {{"
        );
        let mut seen = BTreeSet::new();
        for mth in self.m.methods.iter().filter(|m| matches!(m.scope, Scope::ClientSession | Scope::ClientGlobal)) {
            let mut id = mth.path.iter().map(|p| ident(p)).collect::<String>();
            if !seen.insert(id.clone()) {
                id.push_str("Global");
            }
            let _ = writeln!(o, "        public const string {id} = {};", lit(&mth.wire));
        }
        let _ = writeln!(o, "    }}\n");
    }

    fn events(&self, o: &mut String) {
        let m = self.m;
        let _ = writeln!(
            o,
            "    /// <summary>The wire names of the schema's event types (<c>session.On(SessionEventTypes.AssistantMessage, ...)</c>).</summary>\n    public static partial class SessionEventTypes\n    {{"
        );
        for ev in &m.events {
            doc(o, "        ", ev.doc.as_deref());
            let _ = writeln!(o, "        public const string {} = {};", ev.name, lit(&ev.wire));
        }
        let _ = writeln!(
            o,
            "        /// <summary>Every type the schema knows.</summary>\n        public static readonly string[] All = {{ {} }};",
            m.events.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            o,
            "        static readonly Dictionary<Type, string> ByClass = new Dictionary<Type, string>\n        {{"
        );
        for ev in &m.events {
            let _ = writeln!(o, "            {{ typeof({}Event), {} }},", ev.name, ev.name);
        }
        let _ = writeln!(
            o,
            "        }};\n        /// <summary>The wire type of an event class (null for <see cref=\"SessionEvent\"/> itself).</summary>\n        public static string Of(Type eventClass) {{ string s; return ByClass.TryGetValue(eventClass, out s) ? s : null; }}"
        );
        let _ = writeln!(
            o,
            "        internal static SessionEvent Create(string type)\n        {{\n            switch (type)\n            {{"
        );
        for ev in &m.events {
            let _ = writeln!(o, "                case {}: return new {}Event();", ev.name, ev.name);
        }
        let _ = writeln!(o, "                default: return null;\n            }}\n        }}");
        let env_known: Vec<String> =
            m.envelope.iter().map(|f| lit(&f.json)).chain([lit("type"), lit("data")]).collect();
        let _ =
            writeln!(o, "        internal static readonly string[] EnvelopeFields = {{ {} }};", env_known.join(", "));
        let _ = writeln!(o, "    }}\n");
        for ev in &m.events {
            let class = format!("{}Event", ev.name);
            doc(o, "    ", ev.doc.as_deref());
            let cs = self.cs(&ev.data, true);
            let dec = self.dec(&ev.data, "Json[\"data\"]", &lit(&format!("{class}.data")), true, 0);
            let _ = writeln!(
                o,
                "    public sealed partial class {class} : SessionEvent\n    {{\n        {cs} _data;\n        bool _decoded;\n        internal {class}() {{ }}"
            );
            let _ = writeln!(
                o,
                "        /// <summary>The typed payload (the untyped one: <see cref=\"SessionEvent.Data\"/> through a <c>SessionEvent</c> reference, or <see cref=\"SessionEvent.Json\"/>).</summary>"
            );
            let _ = writeln!(
                o,
                "        public new {cs} Data {{ get {{ if (!_decoded) {{ _data = {dec}; _decoded = true; }} return _data; }} }}"
            );
            let _ = writeln!(o, "        internal override void DecodeData() {{ var unused = Data; }}\n    }}\n");
        }
    }

    /// `HookTypes` and the typed adapters `Hooks.{Type}(handler)` (one per hook of the hook schema).
    fn hooks(&self, o: &mut String) {
        let m = self.m;
        let _ = writeln!(
            o,
            "    /// <summary>The hook types of the hook schema (the CLI's wire names; keys of <see cref=\"SessionConfig.Hooks\"/>).</summary>\n    public static partial class HookTypes\n    {{"
        );
        for h in &m.hooks {
            let _ = writeln!(o, "        public const string {} = {};", ident(&h.wire), lit(&h.wire));
        }
        let _ = writeln!(
            o,
            "        /// <summary>Every hook type the schema knows.</summary>\n        public static readonly string[] All = {{ {} }};\n    }}\n",
            m.hooks.iter().map(|h| ident(&h.wire)).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            o,
            "    /// <summary>Typed hook handlers: each adapter gives the untyped handler that <see cref=\"SessionConfig.Hooks\"/> takes\n    /// (<c>cfg.Hooks[HookTypes.PreToolUse] = Hooks.PreToolUse(async (input, inv) =&gt; ...)</c>). The handler receives the\n    /// generated input (decoded from the wire; unknown fields stay readable in <c>Json</c>; in the strict types mode\n    /// a field it cannot read is a strict failure) and the invocation; the output it returns (or null) is encoded and\n    /// passed on unchanged.</summary>\n    public static partial class Hooks\n    {{"
        );
        for h in &m.hooks {
            let name = ident(&h.wire);
            let (i, out) = (&h.input, &h.output);
            let _ = writeln!(
                o,
                "        /// <summary>A typed <c>{w}</c> hook: <see cref=\"{i}\"/> in, <see cref=\"{out}\"/> (or null) out.</summary>\n        public static Func<HookInvocation, Task<JsonData>> {name}(Func<{i}, HookInvocation, Task<{out}>> handler)\n        {{\n            return Adapt(HookTypes.{name}, handler, j => {i}.FromJson(j));\n        }}",
                w = xml(&h.wire)
            );
        }
        let _ = writeln!(o, "    }}");
    }
}
