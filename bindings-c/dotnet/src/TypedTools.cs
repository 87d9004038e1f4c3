// Tools whose parameter schema comes from a .NET type: CopilotTool.Define<TArgs>(name, description,
// handler). The JSON schema is built by reflection over TArgs' public settable properties (JSON
// names in camelCase); the call's arguments are read into a new TArgs the same way.

using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;

namespace GitHub.Copilot.SDK
{
    /// <summary>Marks a tool parameter property as optional (not in the schema's <c>required</c>).
    /// Nullable value types (<c>int?</c>) are optional anyway.</summary>
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class OptionalAttribute : Attribute { }

    public static partial class ToolSchema
    {


        /// <summary>The JSON schema of <typeparamref name="T"/> (an object schema for a class).</summary>
        public static JsonData For<T>() { return For(typeof(T), 0); }

        static string JsonName(PropertyInfo p)
        {
            var n = p.Name;
            return n.Length == 0 ? n : char.ToLowerInvariant(n[0]) + n.Substring(1);
        }

        static IEnumerable<PropertyInfo> Props(Type t)
        {
            return t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetIndexParameters().Length == 0).OrderBy(p => p.MetadataToken);
        }

        static Type ListItem(Type t)
        {
            if (t.IsArray) return t.GetElementType();
            if (t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(List<>) || t.GetGenericTypeDefinition() == typeof(IList<>) || t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) || t.GetGenericTypeDefinition() == typeof(IEnumerable<>)))
                return t.GetGenericArguments()[0];
            return null;
        }

        static JsonData For(Type t, int depth)
        {
            if (depth > 16) throw new ArgumentException("tool parameter type nests too deep: " + t);
            var u = Nullable.GetUnderlyingType(t) ?? t;
            var o = JsonData.Object();
            if (u == typeof(string)) return o.Set("type", "string");
            if (u == typeof(bool)) return o.Set("type", "boolean");
            if (u == typeof(int) || u == typeof(long) || u == typeof(short) || u == typeof(uint)) return o.Set("type", "integer");
            if (u == typeof(double) || u == typeof(float) || u == typeof(decimal)) return o.Set("type", "number");
            if (u == typeof(DateTimeOffset) || u == typeof(DateTime)) return o.Set("type", "string").Set("format", "date-time");
            if (u.IsEnum) return o.Set("type", "string").Set("enum", JsonData.Array(Enum.GetNames(u)));
            if (u == typeof(JsonData) || u == typeof(object)) return o;
            var item = ListItem(u);
            if (item != null) return o.Set("type", "array").Set("items", For(item, depth + 1));
            o.Set("type", "object");
            var props = JsonData.Object();
            var req = new List<string>();
            foreach (var p in Props(u))
            {
                var s = For(p.PropertyType, depth + 1);
                var d = p.GetCustomAttributes(typeof(DescriptionAttribute), true).OfType<DescriptionAttribute>().FirstOrDefault();
                if (d != null) s.Set("description", d.Description);
                props.Set(JsonName(p), s);
                var optional = p.GetCustomAttributes(typeof(OptionalAttribute), true).Any()
                    || Nullable.GetUnderlyingType(p.PropertyType) != null;
                if (!optional) req.Add(JsonName(p));
            }
            o.Set("properties", props);
            if (req.Count > 0) o.Set("required", JsonData.Array(req));
            return o;
        }

        /// <summary>Reads JSON into a <typeparamref name="T"/> (the inverse of the schema).</summary>
        public static T Read<T>(JsonData j) { return (T)Read(typeof(T), j ?? JsonData.Null); }

        static object Read(Type t, JsonData j)
        {
            var u = Nullable.GetUnderlyingType(t);
            if (u != null) return j.IsNull ? null : Read(u, j);
            if (t == typeof(JsonData)) return j;
            if (t == typeof(object)) return j;
            if (t == typeof(string)) return j.AsString();
            if (t == typeof(bool)) return j.AsBool();
            if (t == typeof(int)) return (int)j.AsLong();
            if (t == typeof(long)) return j.AsLong();
            if (t == typeof(short)) return (short)j.AsLong();
            if (t == typeof(uint)) return (uint)j.AsLong();
            if (t == typeof(double)) return j.AsDouble();
            if (t == typeof(float)) return (float)j.AsDouble();
            if (t == typeof(decimal)) return (decimal)j.AsDouble();
            if (t == typeof(DateTimeOffset)) return DateTimeOffset.Parse(j.AsString(""), CultureInfo.InvariantCulture);
            if (t == typeof(DateTime)) return DateTime.Parse(j.AsString(""), CultureInfo.InvariantCulture);
            if (t.IsEnum) return j.IsString ? Enum.Parse(t, j.AsString(), true) : Activator.CreateInstance(t);
            var item = ListItem(t);
            if (item != null)
            {
                if (j.IsNull) return null;
                var l = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(item));
                foreach (var x in j) l.Add(Read(item, x));
                if (t.IsArray)
                {
                    var a = Array.CreateInstance(item, l.Count);
                    l.CopyTo(a, 0);
                    return a;
                }
                return l;
            }
            if (j.IsNull) return null;
            var o = Activator.CreateInstance(t);
            foreach (var p in Props(t))
            {
                var name = JsonName(p);
                if (j.Has(name)) p.SetValue(o, Read(p.PropertyType, j[name]));
            }
            return o;
        }
    }

    public sealed partial class CopilotTool
    {
        /// <summary>A tool whose parameter schema comes from <typeparamref name="TArgs"/> (public
        /// settable properties, camelCase JSON names; <see cref="OptionalAttribute"/> or a nullable
        /// value type makes one optional; <c>[Description]</c> documents it) and whose handler gets
        /// the arguments as a <typeparamref name="TArgs"/>.</summary>
        public static CopilotTool Define<TArgs>(string name, string description, Func<TArgs, Task<object>> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return new CopilotTool(name, description, ToolSchema.For<TArgs>(), inv => handler(ToolSchema.Read<TArgs>(inv.Arguments)));
        }

        /// <summary>A typed tool with a synchronous handler.</summary>
        public static CopilotTool Define<TArgs>(string name, string description, Func<TArgs, object> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return new CopilotTool(name, description, ToolSchema.For<TArgs>(), inv => Task.FromResult(handler(ToolSchema.Read<TArgs>(inv.Arguments))));
        }

        /// <summary>A typed tool whose handler also gets the invocation (ids, cancellation token).</summary>
        public static CopilotTool Define<TArgs>(string name, string description, Func<TArgs, ToolInvocation, Task<object>> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return new CopilotTool(name, description, ToolSchema.For<TArgs>(), inv => handler(ToolSchema.Read<TArgs>(inv.Arguments), inv));
        }
    }
}
