// Issue 12, the official .NET SDK's quickstart shapes beside ours: SessionHooks (typed hook
// properties OnPreToolUse, ...; it is the dictionary SessionConfig.Hooks takes, so both forms
// meet in one place), session.On<T>(...) for one event class, and CopilotTool.DefineTool(delegate,
// AIFunctionFactoryOptions, CopilotToolOptions): a tool from a method whose parameters are the
// tool's arguments (Microsoft.Extensions.AI's AIFunctionFactory style; C# 7.2 has no attributes
// on lambda parameters, so [Description] documents the parameters of a named method).

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK
{
    /// <summary>
    /// The official typed hooks: one property per hook type, each a handler
    /// <c>(input, invocation) =&gt; output</c> (null output: nothing to say). It is the dictionary
    /// that <see cref="SessionConfig.Hooks"/> takes (a property sets the entry of its hook type
    /// through the generated adapter in <see cref="Hooks"/>), so
    /// <c>Hooks = new SessionHooks { OnPreToolUse = ... }</c> works as in the official SDK and
    /// untyped entries can be added beside the typed ones.
    /// </summary>
    public sealed class SessionHooks : Dictionary<string, Func<HookInvocation, Task<JsonData>>>
    {
        readonly Dictionary<string, Delegate> _typed = new Dictionary<string, Delegate>();

        T Get<T>(string type) where T : class
        {
            Delegate d;
            return _typed.TryGetValue(type, out d) ? d as T : null;
        }

        void Put(string type, Delegate typed, Func<HookInvocation, Task<JsonData>> adapted)
        {
            if (typed == null)
            {
                _typed.Remove(type);
                Remove(type);
                return;
            }
            _typed[type] = typed;
            this[type] = adapted;
        }

        public Func<PreToolUseHookInput, HookInvocation, Task<PreToolUseHookOutput>> OnPreToolUse
        {
            get { return Get<Func<PreToolUseHookInput, HookInvocation, Task<PreToolUseHookOutput>>>(HookTypes.PreToolUse); }
            set { Put(HookTypes.PreToolUse, value, value == null ? null : Hooks.PreToolUse(value)); }
        }

        public Func<PostToolUseHookInput, HookInvocation, Task<PostToolUseHookOutput>> OnPostToolUse
        {
            get { return Get<Func<PostToolUseHookInput, HookInvocation, Task<PostToolUseHookOutput>>>(HookTypes.PostToolUse); }
            set { Put(HookTypes.PostToolUse, value, value == null ? null : Hooks.PostToolUse(value)); }
        }

        public Func<PostToolUseFailureHookInput, HookInvocation, Task<PostToolUseFailureHookOutput>> OnPostToolUseFailure
        {
            get { return Get<Func<PostToolUseFailureHookInput, HookInvocation, Task<PostToolUseFailureHookOutput>>>(HookTypes.PostToolUseFailure); }
            set { Put(HookTypes.PostToolUseFailure, value, value == null ? null : Hooks.PostToolUseFailure(value)); }
        }

        public Func<UserPromptSubmittedHookInput, HookInvocation, Task<UserPromptSubmittedHookOutput>> OnUserPromptSubmitted
        {
            get { return Get<Func<UserPromptSubmittedHookInput, HookInvocation, Task<UserPromptSubmittedHookOutput>>>(HookTypes.UserPromptSubmitted); }
            set { Put(HookTypes.UserPromptSubmitted, value, value == null ? null : Hooks.UserPromptSubmitted(value)); }
        }

        public Func<UserPromptTransformedHookInput, HookInvocation, Task<UserPromptTransformedHookOutput>> OnUserPromptTransformed
        {
            get { return Get<Func<UserPromptTransformedHookInput, HookInvocation, Task<UserPromptTransformedHookOutput>>>(HookTypes.UserPromptTransformed); }
            set { Put(HookTypes.UserPromptTransformed, value, value == null ? null : Hooks.UserPromptTransformed(value)); }
        }

        public Func<SessionStartHookInput, HookInvocation, Task<SessionStartHookOutput>> OnSessionStart
        {
            get { return Get<Func<SessionStartHookInput, HookInvocation, Task<SessionStartHookOutput>>>(HookTypes.SessionStart); }
            set { Put(HookTypes.SessionStart, value, value == null ? null : Hooks.SessionStart(value)); }
        }

        public Func<SessionEndHookInput, HookInvocation, Task<SessionEndHookOutput>> OnSessionEnd
        {
            get { return Get<Func<SessionEndHookInput, HookInvocation, Task<SessionEndHookOutput>>>(HookTypes.SessionEnd); }
            set { Put(HookTypes.SessionEnd, value, value == null ? null : Hooks.SessionEnd(value)); }
        }

        public Func<ErrorOccurredHookInput, HookInvocation, Task<ErrorOccurredHookOutput>> OnErrorOccurred
        {
            get { return Get<Func<ErrorOccurredHookInput, HookInvocation, Task<ErrorOccurredHookOutput>>>(HookTypes.ErrorOccurred); }
            set { Put(HookTypes.ErrorOccurred, value, value == null ? null : Hooks.ErrorOccurred(value)); }
        }

        public Func<AgentStopHookInput, HookInvocation, Task<AgentStopHookOutput>> OnAgentStop
        {
            get { return Get<Func<AgentStopHookInput, HookInvocation, Task<AgentStopHookOutput>>>(HookTypes.AgentStop); }
            set { Put(HookTypes.AgentStop, value, value == null ? null : Hooks.AgentStop(value)); }
        }

        public Func<PreMcpToolCallHookInput, HookInvocation, Task<PreMcpToolCallHookOutput>> OnPreMcpToolCall
        {
            get { return Get<Func<PreMcpToolCallHookInput, HookInvocation, Task<PreMcpToolCallHookOutput>>>(HookTypes.PreMcpToolCall); }
            set { Put(HookTypes.PreMcpToolCall, value, value == null ? null : Hooks.PreMcpToolCall(value)); }
        }
    }

    /// <summary>Microsoft.Extensions.AI's options of a function made from a delegate: the tool's
    /// name (required for a lambda, whose compiled name means nothing) and description.</summary>
    public sealed class AIFunctionFactoryOptions
    {
        public string Name { get; set; }
        public string Description { get; set; }
    }

    /// <summary>The Copilot-specific options of <see cref="CopilotTool.DefineTool"/>.</summary>
    public sealed class CopilotToolOptions
    {
        /// <summary>Run without a permission prompt.</summary>
        public bool SkipPermission { get; set; }
        /// <summary>Required to replace a built-in tool of the same name.</summary>
        public bool OverridesBuiltInTool { get; set; }
    }

    public static partial class ToolSchema
    {
        internal static JsonData ForType(Type t) { return For(t, 0); }
        internal static object ReadType(Type t, JsonData j) { return Read(t, j ?? JsonData.Null); }
    }

    public sealed partial class CopilotTool
    {
        /// <summary>
        /// The official form: a tool from a delegate. Each parameter of the method is one argument of
        /// the tool (its JSON name is the parameter's name, its schema comes from the parameter's
        /// type, <c>[Description]</c> documents it; a parameter with a default value is optional); a
        /// <see cref="CancellationToken"/> parameter receives the call's token and a
        /// <see cref="ToolInvocation"/> parameter the invocation. The method may return a value, a
        /// Task or a Task&lt;T&gt;; the value goes back as the tool's result. The name and description
        /// come from <paramref name="factoryOptions"/>, else from the method's name and its
        /// <c>[Description]</c>.
        /// </summary>
        public static CopilotTool DefineTool(Delegate method, AIFunctionFactoryOptions factoryOptions = null, CopilotToolOptions toolOptions = null)
        {
            if (method == null) throw new ArgumentNullException("method");
            var mi = method.Method;
            var name = factoryOptions != null && factoryOptions.Name != null ? factoryOptions.Name : mi.Name;
            if (string.IsNullOrEmpty(name) || name.IndexOf('<') >= 0)
                throw new ArgumentException("a tool made from a lambda needs AIFunctionFactoryOptions.Name");
            var description = factoryOptions != null ? factoryOptions.Description : null;
            if (description == null)
            {
                var d = mi.GetCustomAttributes(typeof(DescriptionAttribute), true).OfType<DescriptionAttribute>().FirstOrDefault();
                if (d != null) description = d.Description;
            }
            var ps = mi.GetParameters();
            var props = JsonData.Object();
            var required = new List<string>();
            foreach (var p in ps)
            {
                if (p.ParameterType == typeof(CancellationToken) || p.ParameterType == typeof(ToolInvocation)) continue;
                var s = ToolSchema.ForType(p.ParameterType);
                var d = p.GetCustomAttributes(typeof(DescriptionAttribute), true).OfType<DescriptionAttribute>().FirstOrDefault();
                if (d != null) s.Set("description", d.Description);
                props.Set(p.Name, s);
                if (!p.HasDefaultValue && Nullable.GetUnderlyingType(p.ParameterType) == null) required.Add(p.Name);
            }
            var schema = JsonData.Object().Set("type", "object").Set("properties", props);
            if (required.Count > 0) schema.Set("required", JsonData.Array(required));
            var tool = new CopilotTool(name, description, schema, inv => InvokeDelegate(method, ps, inv));
            if (toolOptions != null)
            {
                tool.SkipPermission = toolOptions.SkipPermission;
                tool.OverridesBuiltInTool = toolOptions.OverridesBuiltInTool;
            }
            return tool;
        }

        static async Task<object> InvokeDelegate(Delegate method, ParameterInfo[] ps, ToolInvocation inv)
        {
            var args = new object[ps.Length];
            var given = inv.Arguments;
            for (int i = 0; i < ps.Length; i++)
            {
                var p = ps[i];
                if (p.ParameterType == typeof(CancellationToken)) args[i] = inv.CancellationToken;
                else if (p.ParameterType == typeof(ToolInvocation)) args[i] = inv;
                else if (given.Has(p.Name)) args[i] = ToolSchema.ReadType(p.ParameterType, given[p.Name]);
                else if (p.HasDefaultValue) args[i] = p.DefaultValue;
                else args[i] = p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null;
            }
            object result;
            try
            {
                result = method.DynamicInvoke(args);
            }
            catch (TargetInvocationException e)
            {
                throw e.InnerException ?? e;
            }
            var task = result as Task;
            if (task == null) return result;
            await task.ConfigureAwait(false);
            var t = task.GetType();
            var prop = t.IsGenericType ? t.GetProperty("Result") : null;
            if (prop == null || prop.PropertyType.FullName == "System.Threading.Tasks.VoidTaskResult") return null;
            return prop.GetValue(task, null);
        }
    }
}
