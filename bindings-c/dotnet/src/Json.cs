// A small JSON document model used by the SDK. Everything that crosses the C ABI is UTF-8 JSON
// text; this file turns it into values C# code can read and back. It has no dependencies, so the
// library builds with Mono's mcs (C# 7.2) and on netstandard2.0 / net8.0 alike.
//
// Objects keep their keys in insertion order, numbers keep their original text (so 64-bit
// integers survive a round trip), and unknown fields are never dropped.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace GitHub.Copilot.SDK
{
    /// <summary>The kind of a <see cref="JsonData"/> value.</summary>
    public enum JsonKind { Null, Bool, Number, String, Array, Object }

    /// <summary>
    /// An immutable-by-convention JSON value: null, a boolean, a number, a string, an array or an
    /// object. Reading a missing key or index gives <see cref="JsonData.Null"/> (never throws), so
    /// chains like <c>ev.Data["result"]["content"].AsString()</c> are safe.
    /// </summary>
    public sealed class JsonData : IEnumerable<JsonData>
    {
        /// <summary>The JSON null value.</summary>
        public static readonly JsonData Null = new JsonData(JsonKind.Null, null);
        /// <summary>The JSON value true.</summary>
        public static readonly JsonData True = new JsonData(JsonKind.Bool, true);
        /// <summary>The JSON value false.</summary>
        public static readonly JsonData False = new JsonData(JsonKind.Bool, false);

        readonly JsonKind _kind;
        readonly object _value; // bool, string (number text or string), List<JsonData>, List<KeyValuePair<string, JsonData>>

        JsonData(JsonKind kind, object value)
        {
            _kind = kind;
            _value = value;
        }

        /// <summary>The kind of this value.</summary>
        public JsonKind Kind { get { return _kind; } }
        /// <summary>True for JSON null (including a missing key or index).</summary>
        public bool IsNull { get { return _kind == JsonKind.Null; } }
        public bool IsObject { get { return _kind == JsonKind.Object; } }
        public bool IsArray { get { return _kind == JsonKind.Array; } }
        public bool IsString { get { return _kind == JsonKind.String; } }

        // ------------------------------------------------------------------ construction

        /// <summary>A string value (null gives JSON null).</summary>
        public static JsonData String(string s) { return s == null ? Null : new JsonData(JsonKind.String, s); }
        public static JsonData Bool(bool b) { return b ? True : False; }
        public static JsonData Number(long n) { return new JsonData(JsonKind.Number, n.ToString(CultureInfo.InvariantCulture)); }
        public static JsonData Number(double n)
        {
            if (double.IsNaN(n) || double.IsInfinity(n)) throw new ArgumentException("JSON has no NaN or Infinity");
            return new JsonData(JsonKind.Number, n.ToString("R", CultureInfo.InvariantCulture));
        }
        public static JsonData Number(decimal n) { return new JsonData(JsonKind.Number, n.ToString(CultureInfo.InvariantCulture)); }
        /// <summary>A new, empty object (add members with <see cref="Set"/>).</summary>
        public static JsonData Object() { return new JsonData(JsonKind.Object, new List<KeyValuePair<string, JsonData>>()); }
        /// <summary>A new array of the given items.</summary>
        public static JsonData Array(params JsonData[] items)
        {
            var list = new List<JsonData>();
            if (items != null) foreach (var i in items) list.Add(i ?? Null);
            return new JsonData(JsonKind.Array, list);
        }
        /// <summary>A new array of strings.</summary>
        public static JsonData Array(IEnumerable<string> items)
        {
            var list = new List<JsonData>();
            foreach (var i in items) list.Add(String(i));
            return new JsonData(JsonKind.Array, list);
        }

        public static implicit operator JsonData(string s) { return String(s); }
        public static implicit operator JsonData(bool b) { return Bool(b); }
        public static implicit operator JsonData(int n) { return Number(n); }
        public static implicit operator JsonData(long n) { return Number(n); }
        public static implicit operator JsonData(double n) { return Number(n); }

        /// <summary>Sets (or replaces) a member of an object; returns this object for chaining.</summary>
        public JsonData Set(string key, JsonData value)
        {
            var m = Members();
            if (key == null) throw new ArgumentNullException("key");
            value = value ?? Null;
            for (int i = 0; i < m.Count; i++)
            {
                if (m[i].Key == key) { m[i] = new KeyValuePair<string, JsonData>(key, value); return this; }
            }
            m.Add(new KeyValuePair<string, JsonData>(key, value));
            return this;
        }

        /// <summary>Sets a member unless the value is null (C# null or JSON null).</summary>
        public JsonData SetIfNotNull(string key, JsonData value)
        {
            if (value != null && !value.IsNull) Set(key, value);
            return this;
        }

        /// <summary>Removes a member of an object; true when it was there.</summary>
        public bool Remove(string key)
        {
            var m = Members();
            for (int i = 0; i < m.Count; i++)
            {
                if (m[i].Key == key) { m.RemoveAt(i); return true; }
            }
            return false;
        }

        /// <summary>Appends to an array; returns this array for chaining.</summary>
        public JsonData Add(JsonData item)
        {
            if (_kind != JsonKind.Array) throw new InvalidOperationException("not a JSON array");
            ((List<JsonData>)_value).Add(item ?? Null);
            return this;
        }

        List<KeyValuePair<string, JsonData>> Members()
        {
            if (_kind != JsonKind.Object) throw new InvalidOperationException("not a JSON object");
            return (List<KeyValuePair<string, JsonData>>)_value;
        }

        // ------------------------------------------------------------------ reading

        /// <summary>The member <paramref name="key"/> of an object, or Null.</summary>
        public JsonData this[string key]
        {
            get
            {
                if (_kind != JsonKind.Object) return Null;
                foreach (var kv in (List<KeyValuePair<string, JsonData>>)_value)
                {
                    if (kv.Key == key) return kv.Value;
                }
                return Null;
            }
        }

        /// <summary>The element at <paramref name="index"/> of an array, or Null.</summary>
        public JsonData this[int index]
        {
            get
            {
                if (_kind != JsonKind.Array) return Null;
                var l = (List<JsonData>)_value;
                return index >= 0 && index < l.Count ? l[index] : Null;
            }
        }

        /// <summary>True when this is an object with the member <paramref name="key"/>.</summary>
        public bool Has(string key)
        {
            if (_kind != JsonKind.Object) return false;
            foreach (var kv in (List<KeyValuePair<string, JsonData>>)_value)
            {
                if (kv.Key == key) return true;
            }
            return false;
        }

        /// <summary>Number of array elements or object members (0 otherwise).</summary>
        public int Count
        {
            get
            {
                if (_kind == JsonKind.Array) return ((List<JsonData>)_value).Count;
                if (_kind == JsonKind.Object) return ((List<KeyValuePair<string, JsonData>>)_value).Count;
                return 0;
            }
        }

        /// <summary>The members of an object, in order (empty otherwise).</summary>
        public IEnumerable<KeyValuePair<string, JsonData>> Properties
        {
            get
            {
                if (_kind == JsonKind.Object) return (List<KeyValuePair<string, JsonData>>)_value;
                return new KeyValuePair<string, JsonData>[0];
            }
        }

        /// <summary>The elements of an array (empty otherwise).</summary>
        public IEnumerator<JsonData> GetEnumerator()
        {
            if (_kind == JsonKind.Array) return ((List<JsonData>)_value).GetEnumerator();
            return ((IEnumerable<JsonData>)new JsonData[0]).GetEnumerator();
        }
        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }

        /// <summary>The string, or <paramref name="fallback"/> when this is not a string.</summary>
        public string AsString(string fallback = null) { return _kind == JsonKind.String ? (string)_value : fallback; }
        public bool AsBool(bool fallback = false) { return _kind == JsonKind.Bool ? (bool)_value : fallback; }
        public bool? AsNullableBool() { return _kind == JsonKind.Bool ? (bool?)(bool)_value : null; }
        public long AsLong(long fallback = 0)
        {
            long n;
            if (_kind == JsonKind.Number && long.TryParse((string)_value, NumberStyles.Integer, CultureInfo.InvariantCulture, out n)) return n;
            double d;
            if (_kind == JsonKind.Number && double.TryParse((string)_value, NumberStyles.Float, CultureInfo.InvariantCulture, out d)
                && d >= long.MinValue && d <= long.MaxValue && Math.Floor(d) == d) return (long)d;
            return fallback;
        }
        public long? AsNullableLong()
        {
            if (_kind != JsonKind.Number) return null;
            return AsLong();
        }
        public double AsDouble(double fallback = 0)
        {
            double d;
            if (_kind == JsonKind.Number && double.TryParse((string)_value, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
            return fallback;
        }
        /// <summary>An array of strings as a list (non-strings are skipped).</summary>
        public List<string> AsStringList()
        {
            var r = new List<string>();
            foreach (var x in this) if (x.IsString) r.Add(x.AsString());
            return r;
        }

        /// <summary>A deep copy.</summary>
        public JsonData Clone() { return CopilotJson.Parse(ToJson()); }

        /// <summary>Compact JSON text.</summary>
        public string ToJson()
        {
            var sb = new StringBuilder();
            Write(sb);
            return sb.ToString();
        }

        /// <summary>Compact JSON text (same as <see cref="ToJson"/>).</summary>
        public override string ToString() { return ToJson(); }

        public override bool Equals(object obj)
        {
            var o = obj as JsonData;
            return o != null && o.ToJson() == ToJson();
        }
        public override int GetHashCode() { return ToJson().GetHashCode(); }

        internal void Write(StringBuilder sb)
        {
            switch (_kind)
            {
                case JsonKind.Null: sb.Append("null"); break;
                case JsonKind.Bool: sb.Append((bool)_value ? "true" : "false"); break;
                case JsonKind.Number: sb.Append((string)_value); break;
                case JsonKind.String: WriteString(sb, (string)_value); break;
                case JsonKind.Array:
                    sb.Append('[');
                    var l = (List<JsonData>)_value;
                    for (int i = 0; i < l.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        l[i].Write(sb);
                    }
                    sb.Append(']');
                    break;
                case JsonKind.Object:
                    sb.Append('{');
                    var m = (List<KeyValuePair<string, JsonData>>)_value;
                    for (int i = 0; i < m.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        WriteString(sb, m[i].Key);
                        sb.Append(':');
                        m[i].Value.Write(sb);
                    }
                    sb.Append('}');
                    break;
            }
        }

        internal static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || c == '\u2028' || c == '\u2029') sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        internal static JsonData FromNumberText(string text) { return new JsonData(JsonKind.Number, text); }
        internal static JsonData FromList(List<JsonData> l) { return new JsonData(JsonKind.Array, l); }
        internal static JsonData FromMembers(List<KeyValuePair<string, JsonData>> m) { return new JsonData(JsonKind.Object, m); }
    }

    /// <summary>Thrown for text that is not valid JSON.</summary>
    public sealed class JsonParseException : FormatException
    {
        public JsonParseException(string message) : base(message) { }
    }

    /// <summary>Parsing and conversion helpers for <see cref="JsonData"/>.</summary>
    public static class CopilotJson
    {
        /// <summary>Parses JSON text (RFC 8259). Throws <see cref="JsonParseException"/>.</summary>
        public static JsonData Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            var p = new Parser(text);
            p.SkipWs();
            var v = p.Value(0);
            p.SkipWs();
            if (p.Pos != text.Length) throw p.Error("trailing characters");
            return v;
        }

        /// <summary>
        /// Converts a .NET value to JSON: null, JsonData, strings, booleans, numbers, enums (as
        /// their name), dictionaries with string keys, other enumerables (as arrays), and any other
        /// object through its public readable properties (anonymous types included).
        /// </summary>
        public static JsonData FromObject(object value)
        {
            return From(value, 0);
        }

        static JsonData From(object v, int depth)
        {
            if (depth > 64) throw new ArgumentException("object graph too deep (a cycle?)");
            if (v == null) return JsonData.Null;
            var j = v as JsonData;
            if (j != null) return j;
            var s = v as string;
            if (s != null) return JsonData.String(s);
            if (v is bool) return JsonData.Bool((bool)v);
            if (v is int || v is long || v is short || v is sbyte || v is byte || v is ushort || v is uint)
                return JsonData.Number(Convert.ToInt64(v, CultureInfo.InvariantCulture));
            if (v is ulong) return JsonData.FromNumberText(((ulong)v).ToString(CultureInfo.InvariantCulture));
            if (v is double) return JsonData.Number((double)v);
            if (v is float) return JsonData.Number((double)(float)v);
            if (v is decimal) return JsonData.Number((decimal)v);
            if (v is char) return JsonData.String(v.ToString());
            if (v is Enum) return JsonData.String(v.ToString());
            if (v is DateTime) return JsonData.String(((DateTime)v).ToString("o", CultureInfo.InvariantCulture));
            if (v is DateTimeOffset) return JsonData.String(((DateTimeOffset)v).ToString("o", CultureInfo.InvariantCulture));
            if (v is Guid || v is Uri) return JsonData.String(v.ToString());
            var dict = v as IDictionary;
            if (dict != null)
            {
                var o = JsonData.Object();
                foreach (DictionaryEntry e in dict) o.Set(Convert.ToString(e.Key, CultureInfo.InvariantCulture), From(e.Value, depth + 1));
                return o;
            }
            var en = v as IEnumerable;
            if (en != null)
            {
                var a = JsonData.Array();
                foreach (var x in en) a.Add(From(x, depth + 1));
                return a;
            }
            var obj = JsonData.Object();
            foreach (var p in v.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!p.CanRead || p.GetIndexParameters().Length > 0) continue;
                obj.Set(p.Name, From(p.GetValue(v, null), depth + 1));
            }
            return obj;
        }

        sealed class Parser
        {
            readonly string _s;
            public int Pos;

            public Parser(string s) { _s = s; }

            public JsonParseException Error(string what)
            {
                return new JsonParseException("invalid JSON at offset " + Pos + ": " + what);
            }

            public void SkipWs()
            {
                while (Pos < _s.Length)
                {
                    char c = _s[Pos];
                    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') Pos++;
                    else break;
                }
            }

            public JsonData Value(int depth)
            {
                if (depth > 512) throw Error("nesting too deep");
                if (Pos >= _s.Length) throw Error("unexpected end");
                char c = _s[Pos];
                switch (c)
                {
                    case '{': return Obj(depth);
                    case '[': return Arr(depth);
                    case '"': return JsonData.String(Str());
                    case 't': Lit("true"); return JsonData.True;
                    case 'f': Lit("false"); return JsonData.False;
                    case 'n': Lit("null"); return JsonData.Null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return Num();
                        throw Error("unexpected character '" + c + "'");
                }
            }

            void Lit(string word)
            {
                if (string.CompareOrdinal(_s, Pos, word, 0, word.Length) != 0) throw Error("expected " + word);
                Pos += word.Length;
            }

            JsonData Num()
            {
                int start = Pos;
                if (_s[Pos] == '-') Pos++;
                if (Pos >= _s.Length) throw Error("bad number");
                if (_s[Pos] == '0') Pos++;
                else if (_s[Pos] >= '1' && _s[Pos] <= '9') { while (Pos < _s.Length && char.IsDigit(_s[Pos]) && _s[Pos] < 128) Pos++; }
                else throw Error("bad number");
                if (Pos < _s.Length && _s[Pos] == '.')
                {
                    Pos++;
                    int d = Pos;
                    while (Pos < _s.Length && _s[Pos] >= '0' && _s[Pos] <= '9') Pos++;
                    if (Pos == d) throw Error("bad fraction");
                }
                if (Pos < _s.Length && (_s[Pos] == 'e' || _s[Pos] == 'E'))
                {
                    Pos++;
                    if (Pos < _s.Length && (_s[Pos] == '+' || _s[Pos] == '-')) Pos++;
                    int d = Pos;
                    while (Pos < _s.Length && _s[Pos] >= '0' && _s[Pos] <= '9') Pos++;
                    if (Pos == d) throw Error("bad exponent");
                }
                return JsonData.FromNumberText(_s.Substring(start, Pos - start));
            }

            string Str()
            {
                Pos++; // opening quote
                var sb = new StringBuilder();
                while (true)
                {
                    if (Pos >= _s.Length) throw Error("unterminated string");
                    char c = _s[Pos++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Error("control character in string");
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= _s.Length) throw Error("unterminated escape");
                    char e = _s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > _s.Length) throw Error("short \\u escape");
                            int code;
                            if (!int.TryParse(_s.Substring(Pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                                throw Error("bad \\u escape");
                            Pos += 4;
                            sb.Append((char)code);
                            break;
                        default: throw Error("bad escape \\" + e);
                    }
                }
            }

            JsonData Arr(int depth)
            {
                Pos++;
                var l = new List<JsonData>();
                SkipWs();
                if (Pos < _s.Length && _s[Pos] == ']') { Pos++; return JsonData.FromList(l); }
                while (true)
                {
                    SkipWs();
                    l.Add(Value(depth + 1));
                    SkipWs();
                    if (Pos >= _s.Length) throw Error("unterminated array");
                    char c = _s[Pos++];
                    if (c == ']') return JsonData.FromList(l);
                    if (c != ',') throw Error("expected , or ]");
                }
            }

            JsonData Obj(int depth)
            {
                Pos++;
                var m = new List<KeyValuePair<string, JsonData>>();
                SkipWs();
                if (Pos < _s.Length && _s[Pos] == '}') { Pos++; return JsonData.FromMembers(m); }
                while (true)
                {
                    SkipWs();
                    if (Pos >= _s.Length || _s[Pos] != '"') throw Error("expected a key");
                    string k = Str();
                    SkipWs();
                    if (Pos >= _s.Length || _s[Pos] != ':') throw Error("expected :");
                    Pos++;
                    SkipWs();
                    var v = Value(depth + 1);
                    // Last duplicate wins, like most parsers.
                    int existing = m.FindIndex(kv => kv.Key == k);
                    if (existing >= 0) m[existing] = new KeyValuePair<string, JsonData>(k, v);
                    else m.Add(new KeyValuePair<string, JsonData>(k, v));
                    SkipWs();
                    if (Pos >= _s.Length) throw Error("unterminated object");
                    char c = _s[Pos++];
                    if (c == '}') return JsonData.FromMembers(m);
                    if (c != ',') throw Error("expected , or }");
                }
            }
        }
    }
}
