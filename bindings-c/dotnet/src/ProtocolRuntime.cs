// The hand-written half of the typed protocol (Protocol.g.cs is the generated half): the decode
// and encode helpers the generated FromJson/ToJson call, the generic call the RPC namespaces go
// through, and the strict test mode (COPILOT_STRICT_TYPES=1).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace GitHub.Copilot.SDK.Protocol
{
    /// <summary>A generated type: it writes itself as JSON.</summary>
    public interface IWireValue
    {
        JsonData ToJson();
    }

    /// <summary>The generic call the typed namespaces go through (the client's or session's <c>CallAsync</c>).</summary>
    public delegate Task<JsonData> RpcCall(string method, JsonData parameters, CancellationToken cancellationToken);

    /// <summary>
    /// Strict test mode: with <c>COPILOT_STRICT_TYPES=1</c> every event delivered and every typed
    /// result decoded is read through the generated types; a value they cannot read (a wrong JSON
    /// type, a missing required field) is a failure, unknown event types, fields and enum values
    /// are counted. Outside the mode nothing is checked (events decode their data on first use).
    /// </summary>
    public static class StrictTypes
    {
        static readonly object Gate = new object();
        static long _events, _results, _unknownFields, _unknownEnums;
        static readonly SortedSet<string> UnknownTypes = new SortedSet<string>(StringComparer.Ordinal);
        static readonly List<string> FailureList = new List<string>();

        /// <summary>True when <c>COPILOT_STRICT_TYPES=1</c> (read once).</summary>
        public static readonly bool Enabled = Environment.GetEnvironmentVariable("COPILOT_STRICT_TYPES") == "1";

        public static long Events { get { return Interlocked.Read(ref _events); } }
        public static long Results { get { return Interlocked.Read(ref _results); } }
        public static long UnknownFields { get { return Interlocked.Read(ref _unknownFields); } }
        public static long UnknownEnumValues { get { return Interlocked.Read(ref _unknownEnums); } }
        public static IReadOnlyList<string> UnknownEventTypes { get { lock (Gate) return UnknownTypes.ToList(); } }
        public static IReadOnlyList<string> Failures { get { lock (Gate) return FailureList.ToList(); } }

        /// <summary><c>strict types: N events, M results checked; unknown: X event types (names…), Y fields, Z enum values; failures: F</c></summary>
        public static string Summary()
        {
            lock (Gate)
            {
                return "strict types: " + Events + " events, " + Results + " results checked; unknown: " + UnknownTypes.Count
                    + " event types (" + string.Join(", ", UnknownTypes) + "), " + UnknownFields + " fields, " + UnknownEnumValues
                    + " enum values; failures: " + FailureList.Count;
            }
        }

        internal static void Fail(string at, string what)
        {
            lock (Gate)
            {
                if (FailureList.Count < 1000) FailureList.Add(at + ": " + what);
            }
        }

        /// <summary>Removes and returns the failures recorded at places starting with <paramref name="atPrefix"/> (tests).</summary>
        internal static List<string> TakeFailures(string atPrefix)
        {
            lock (Gate)
            {
                var taken = FailureList.Where(f => f.StartsWith(atPrefix, StringComparison.Ordinal)).ToList();
                FailureList.RemoveAll(f => f.StartsWith(atPrefix, StringComparison.Ordinal));
                return taken;
            }
        }

        internal static void UnknownField() { Interlocked.Increment(ref _unknownFields); }
        internal static void UnknownEnum() { Interlocked.Increment(ref _unknownEnums); }
        internal static void Result() { Interlocked.Increment(ref _results); }

        /// <summary>Checks one event (called by SessionEvent.FromJson in strict mode).</summary>
        internal static void Event(SessionEvent e)
        {
            Interlocked.Increment(ref _events);
            var j = e.Json;
            if (j == null || !j.IsObject) { Fail("event", "not an object"); return; }
            if (!j["type"].IsString) Fail("event", "no string type");
            Wire.Str(j["id"], "event.id");
            Wire.Str(j["parentId"], "event.parentId");
            Wire.Time(j["timestamp"], "event.timestamp");
            Wire.Bool(j["ephemeral"], "event.ephemeral");
            Wire.Str(j["agentId"], "event.agentId");
            if (e.GetType() == typeof(SessionEvent))
            {
                lock (Gate) UnknownTypes.Add(e.Type);
                return;
            }
            foreach (var kv in j.Properties)
            {
                if (Array.IndexOf(SessionEventTypes.EnvelopeFields, kv.Key) < 0) UnknownField();
            }
            try
            {
                e.DecodeData();
            }
            catch (Exception x)
            {
                Fail(e.Type, "decoding threw " + x.GetType().Name + ": " + x.Message);
            }
        }
    }

    /// <summary>Decode and encode helpers of the generated code (lenient: outside the strict mode a
    /// value of the wrong type reads as null).</summary>
    internal static class Wire
    {
        static void Wrong(JsonData j, string at, string expected)
        {
            if (StrictTypes.Enabled) StrictTypes.Fail(at, "expected " + expected + ", got " + j.Kind + " " + Cut(j.ToJson()));
        }

        static string Cut(string s) { return s.Length > 80 ? s.Substring(0, 80) + "…" : s; }

        /// <summary>True when <paramref name="j"/> is an object to read (null: JSON null or absent).</summary>
        public static bool Obj(JsonData j, string at, string[] known, string[] required)
        {
            if (j == null || j.IsNull) return false;
            if (!j.IsObject) { Wrong(j, at, "object"); return false; }
            if (!StrictTypes.Enabled) return true;
            if (required != null)
            {
                foreach (var r in required)
                {
                    var nullable = r.Length > 0 && r[0] == '?';
                    var key = nullable ? r.Substring(1) : r;
                    if (!j.Has(key)) StrictTypes.Fail(at + "." + key, "missing required field");
                    else if (!nullable && j[key].IsNull) StrictTypes.Fail(at + "." + key, "required field is null");
                }
            }
            if (known != null)
            {
                foreach (var kv in j.Properties)
                {
                    if (Array.IndexOf(known, kv.Key) < 0) StrictTypes.UnknownField();
                }
            }
            return true;
        }

        public static JsonData Any(JsonData j) { return j ?? JsonData.Null; }

        public static string Str(JsonData j, string at)
        {
            if (j == null || j.IsNull) return null;
            if (j.IsString) return j.AsString();
            Wrong(j, at, "string");
            return null;
        }

        public static string Const(JsonData j, string at, string value)
        {
            var s = Str(j, at);
            if (s != null && s != value && StrictTypes.Enabled) StrictTypes.Fail(at, "expected \"" + value + "\", got \"" + s + "\"");
            return s;
        }

        public static string EnumStr(JsonData j, string at, string[] known)
        {
            var s = Str(j, at);
            if (s != null && StrictTypes.Enabled && Array.IndexOf(known, s) < 0) StrictTypes.UnknownEnum();
            return s;
        }

        public static string Tag(JsonData j, string at, string tag)
        {
            var t = j[tag];
            if (!t.IsString) { if (StrictTypes.Enabled) StrictTypes.Fail(at + "." + tag, "missing discriminator"); return null; }
            return t.AsString();
        }

        public static void UnknownEnum(string at, string value)
        {
            if (StrictTypes.Enabled) StrictTypes.UnknownEnum();
        }

        public static bool? Bool(JsonData j, string at)
        {
            if (j == null || j.IsNull) return null;
            if (j.Kind == JsonKind.Bool) return j.AsBool();
            Wrong(j, at, "bool");
            return null;
        }

        public static long? Int(JsonData j, string at)
        {
            if (j == null || j.IsNull) return null;
            if (j.Kind == JsonKind.Number)
            {
                long l;
                var text = j.ToJson();
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out l)) return l;
                var d = j.AsDouble();
                if (d == Math.Floor(d) && Math.Abs(d) < 9.2e18) return (long)d;
            }
            Wrong(j, at, "integer");
            return null;
        }

        public static double? Num(JsonData j, string at)
        {
            if (j == null || j.IsNull) return null;
            if (j.Kind == JsonKind.Number) return j.AsDouble();
            Wrong(j, at, "number");
            return null;
        }

        public static DateTimeOffset? Time(JsonData j, string at)
        {
            if (j == null || j.IsNull) return null;
            DateTimeOffset t;
            if (j.IsString && DateTimeOffset.TryParse(j.AsString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t)) return t;
            Wrong(j, at, "date-time string");
            return null;
        }

        public static List<T> List<T>(JsonData j, string at, Func<JsonData, string, T> item)
        {
            if (j == null || j.IsNull) return null;
            if (!j.IsArray) { Wrong(j, at, "array"); return null; }
            var l = new List<T>(j.Count);
            var itemAt = at + "[]";
            foreach (var x in j) l.Add(item(x, itemAt));
            return l;
        }

        public static Dictionary<string, T> Map<T>(JsonData j, string at, Func<JsonData, string, T> item)
        {
            if (j == null || j.IsNull) return null;
            if (!j.IsObject) { Wrong(j, at, "object"); return null; }
            var d = new Dictionary<string, T>();
            var itemAt = at + "{}";
            foreach (var kv in j.Properties) d[kv.Key] = item(kv.Value, itemAt);
            return d;
        }

        public static T Event<T>(JsonData j, string at) where T : SessionEvent
        {
            if (j == null || j.IsNull) return null;
            if (!j.IsObject) { Wrong(j, at, "event object"); return null; }
            var e = SessionEvent.FromJson(j) as T;
            if (e == null && StrictTypes.Enabled) StrictTypes.Fail(at, "not a " + typeof(T).Name + ": " + j["type"].AsString());
            return e;
        }

        /// <summary>Counts a typed result (strict mode).</summary>
        public static void Result(string method)
        {
            if (StrictTypes.Enabled) StrictTypes.Result();
        }

        public static JsonData Enc(JsonData v) { return v ?? JsonData.Null; }
        public static JsonData Enc(string v) { return JsonData.String(v); }
        public static JsonData Enc(bool v) { return JsonData.Bool(v); }
        public static JsonData Enc(bool? v) { return v.HasValue ? JsonData.Bool(v.Value) : JsonData.Null; }
        public static JsonData Enc(long v) { return JsonData.Number(v); }
        public static JsonData Enc(long? v) { return v.HasValue ? JsonData.Number(v.Value) : JsonData.Null; }
        public static JsonData Enc(double v) { return JsonData.Number(v); }
        public static JsonData Enc(double? v) { return v.HasValue ? JsonData.Number(v.Value) : JsonData.Null; }
        public static JsonData Enc(DateTimeOffset v) { return JsonData.String(v.ToString("o", CultureInfo.InvariantCulture)); }
        public static JsonData Enc(DateTimeOffset? v) { return v.HasValue ? Enc(v.Value) : JsonData.Null; }
        public static JsonData Enc(IWireValue v) { return v == null ? JsonData.Null : v.ToJson(); }
        public static JsonData Enc(SessionEvent v) { return v == null ? JsonData.Null : v.Json; }

        public static JsonData EncList<T>(List<T> l, Func<T, JsonData> item)
        {
            if (l == null) return JsonData.Null;
            var a = JsonData.Array();
            foreach (var x in l) a.Add(item(x));
            return a;
        }

        public static JsonData EncMap<T>(Dictionary<string, T> d, Func<T, JsonData> item)
        {
            if (d == null) return JsonData.Null;
            var o = JsonData.Object();
            foreach (var kv in d) o.Set(kv.Key, item(kv.Value));
            return o;
        }
    }
}
