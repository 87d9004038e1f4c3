// Tools and the requests a session sends to its host (permission prompts, questions for the
// user, hooks, ...). A request object is the core's payload (core/src/host.rs documents one
// payload per kind) with typed getters; Payload is that JSON exactly as received. A reply is
// written as given: a field left unset is absent, so the core's default for it applies.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace GitHub.Copilot.SDK
{
    /// <summary>A client-side tool the model may call.</summary>
    public sealed partial class CopilotTool
    {
        public string Name { get; set; }
        public string Description { get; set; }
        /// <summary>JSON Schema of the arguments object (JsonData, JSON text, or any object CopilotJson.FromObject converts).</summary>
        public object Parameters { get; set; }
        /// <summary>Run without a permission prompt.</summary>
        public bool SkipPermission { get; set; }
        /// <summary>Required to replace a built-in tool of the same name.</summary>
        public bool OverridesBuiltInTool { get; set; }
        /// <summary>The handler. What it returns goes to the core as JSON (a <see cref="ToolResult"/>
        /// as its result object, anything else through CopilotJson.FromObject), which reads it: a
        /// string is the text for the model, a result object is sent as is, null is empty text,
        /// any other value is sent as its JSON text. An exception becomes a failure result whose
        /// message the model sees. Null: the tool is only declared and this client leaves its
        /// calls alone (the CLI sends them to this connection's events as
        /// <c>external_tool.requested</c>; answer with <c>session.tools.handlePendingToolCall</c>).
        /// <see cref="HostRequest.CancellationToken"/> of the invocation tells when the answer is no
        /// longer wanted (the constructor and Create overloads with a CancellationToken parameter
        /// pass it in).</summary>
        public Func<ToolInvocation, Task<object>> Handler { get; set; }
        /// <summary>Other wire fields of the tool definition.</summary>
        public JsonData Extra { get; set; }

        public CopilotTool() { }

        public CopilotTool(string name, string description, object parameters, Func<ToolInvocation, Task<object>> handler)
        {
            Name = name;
            Description = description;
            Parameters = parameters;
            Handler = handler;
        }

        /// <summary>A tool with an asynchronous handler.</summary>
        public static CopilotTool Create(string name, string description, object parameters, Func<ToolInvocation, Task<object>> handler)
        {
            return new CopilotTool(name, description, parameters, handler);
        }

        /// <summary>A tool with a synchronous handler.</summary>
        public static CopilotTool Create(string name, string description, object parameters, Func<ToolInvocation, object> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return new CopilotTool(name, description, parameters, inv => Task.FromResult(handler(inv)));
        }

        /// <summary>A tool with an asynchronous handler that takes the call's cancellation token
        /// (<see cref="HostRequest.CancellationToken"/>: cancelled when the answer is no longer wanted).</summary>
        public CopilotTool(string name, string description, object parameters, Func<ToolInvocation, CancellationToken, Task<object>> handler)
            : this(name, description, parameters, WithToken(handler))
        {
        }

        /// <summary>A tool with an asynchronous handler that takes the call's cancellation token.</summary>
        public static CopilotTool Create(string name, string description, object parameters, Func<ToolInvocation, CancellationToken, Task<object>> handler)
        {
            return new CopilotTool(name, description, parameters, handler);
        }

        /// <summary>A tool with a synchronous handler that takes the call's cancellation token.</summary>
        public static CopilotTool Create(string name, string description, object parameters, Func<ToolInvocation, CancellationToken, object> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return new CopilotTool(name, description, parameters, inv => Task.FromResult(handler(inv, inv.CancellationToken)));
        }

        static Func<ToolInvocation, Task<object>> WithToken(Func<ToolInvocation, CancellationToken, Task<object>> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return inv => handler(inv, inv.CancellationToken);
        }

        public JsonData ToJson()
        {
            if (string.IsNullOrEmpty(Name)) throw new ArgumentException("a tool needs a Name");
            var o = JsonData.Object();
            if (Extra != null) foreach (var kv in Extra.Properties) o.Set(kv.Key, kv.Value);
            o.Set("name", Name);
            o.SetIfNotNull("description", Description);
            if (Parameters != null)
            {
                var p = Parameters as string;
                o.Set("parameters", p != null ? CopilotJson.Parse(p) : CopilotJson.FromObject(Parameters));
            }
            if (SkipPermission) o.Set("skipPermission", true);
            if (OverridesBuiltInTool) o.Set("overridesBuiltInTool", true);
            return o;
        }
    }

    /// <summary>
    /// What every host request (tool call, permission prompt, question, hook, ...) carries: the
    /// core's payload and a <see cref="CancellationToken"/> that is cancelled when the answer is no
    /// longer wanted — the turn was aborted (<c>AbortAsync</c>, or a send-and-wait timeout with
    /// AbortOnTimeout), the session was disconnected or disposed, the client stopped, or the
    /// connection to the CLI was lost. The core has then already answered the CLI; whatever the
    /// handler returns or throws afterwards is ignored. The library's cancellation is delivered on
    /// the thread pool (callbacks registered on the token never run on the SDK's callback thread).
    /// </summary>
    public abstract class HostRequest
    {
        readonly RequestCancellation _cancellation;

        internal HostRequest(JsonData payload, RequestCancellation cancellation)
        {
            Payload = payload ?? JsonData.Null;
            _cancellation = cancellation;
        }

        /// <summary>The request payload, as received.</summary>
        public JsonData Payload { get; private set; }
        public string SessionId { get { return Payload["sessionId"].AsString(); } }

        /// <summary>Cancelled when the answer is no longer wanted (see <see cref="HostRequest"/>).</summary>
        public CancellationToken CancellationToken
        {
            get { return _cancellation != null ? _cancellation.Token : CancellationToken.None; }
        }

        /// <summary>Why the request was cancelled (the core's reason, e.g. "the turn was
        /// aborted"), or null while it is not.</summary>
        public string CancellationReason
        {
            get { return _cancellation != null ? _cancellation.Reason : null; }
        }
    }

    /// <summary>The cancellation of one pending host request: cancelled by the library's
    /// <c>"cancel"</c> call for the request, or when the session is closed on this client.</summary>
    internal sealed class RequestCancellation : IDisposable
    {
        readonly CancellationTokenSource _cts = new CancellationTokenSource();
        readonly CancellationToken _token;
        readonly CancellationTokenRegistration _closing;
        string _reason;

        internal RequestCancellation(CancellationToken sessionClosing)
        {
            _token = _cts.Token;
            _closing = sessionClosing.Register(() => Cancel("the session was closed on this client"));
        }

        public CancellationToken Token { get { return _token; } }
        public string Reason { get { return Volatile.Read(ref _reason); } }

        /// <summary>Records the first reason, then cancels (registered callbacks run on this thread).</summary>
        public void Cancel(string reason)
        {
            Interlocked.CompareExchange(ref _reason, reason ?? "cancelled", null);
            try { _cts.Cancel(); }
            catch (ObjectDisposedException) { }
            catch (AggregateException e) { Trace.TraceError("copilot: a cancellation callback threw: " + e); }
        }

        public void Dispose()
        {
            _closing.Dispose();
            _cts.Dispose();
        }
    }

    /// <summary>A tool call: <c>{sessionId, requestId, toolCallId, toolName, arguments, workingDirectory}</c>.</summary>
    public sealed class ToolInvocation : HostRequest
    {
        internal ToolInvocation(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string RequestId { get { return Payload["requestId"].AsString(); } }
        public string ToolCallId { get { return Payload["toolCallId"].AsString(); } }
        public string ToolName { get { return Payload["toolName"].AsString(); } }
        /// <summary>The arguments object the model produced.</summary>
        public JsonData Arguments { get { return Payload["arguments"]; } }
        /// <summary>May be null.</summary>
        public string WorkingDirectory { get { return Payload["workingDirectory"].AsString(); } }
        /// <summary>The W3C trace context of the CLI's span for this call (null when the CLI sent
        /// none). The handler runs with it as <see cref="TraceContext.Current"/>.</summary>
        public string Traceparent { get { return Payload["traceparent"].AsString(); } }
        public string Tracestate { get { return Payload["tracestate"].AsString(); } }
    }

    /// <summary>A full tool result object; the fields left unset are not sent.</summary>
    public sealed class ToolResult
    {
        /// <summary>The text the model sees.</summary>
        public string TextResultForLlm { get; set; }
        /// <summary><c>success</c>, <c>failure</c>, <c>rejected</c>, <c>denied</c> or <c>timeout</c>.</summary>
        public string ResultType { get; set; }
        public string Error { get; set; }
        public string SessionLog { get; set; }
        /// <summary>Other result fields (binaryResultsForLlm, toolTelemetry, ...).</summary>
        public JsonData Extra { get; set; }

        public static ToolResult Success(string text) { return new ToolResult { TextResultForLlm = text, ResultType = "success" }; }
        public static ToolResult Failure(string message) { return new ToolResult { TextResultForLlm = message, ResultType = "failure", Error = message }; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (Extra != null) foreach (var kv in Extra.Properties) o.Set(kv.Key, kv.Value);
            o.SetIfNotNull("textResultForLlm", TextResultForLlm);
            o.SetIfNotNull("resultType", ResultType);
            o.SetIfNotNull("error", Error);
            o.SetIfNotNull("sessionLog", SessionLog);
            return o;
        }
    }

    /// <summary>A permission prompt: <c>{sessionId, requestId, kind, toolCallId, request}</c>.</summary>
    public sealed class PermissionRequest : HostRequest
    {
        internal PermissionRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string RequestId { get { return Payload["requestId"].AsString(); } }
        /// <summary><c>shell</c>, <c>write</c>, <c>read</c>, <c>custom-tool</c>, <c>mcp</c>, <c>url</c>, ...</summary>
        public string Kind { get { return Payload["kind"].AsString(); } }
        /// <summary>May be null.</summary>
        public string ToolCallId { get { return Payload["toolCallId"].AsString(); } }
        /// <summary>The prompt's details (the CLI's <c>permissionRequest</c>).</summary>
        public JsonData Request { get { return Payload["request"]; } }
    }

    /// <summary>An answer to a permission prompt: sent as its kind (<c>"approve-once"</c>), or as
    /// <c>{kind, feedback}</c> when it has feedback.</summary>
    public sealed class PermissionDecision
    {
        readonly JsonData _custom;

        /// <summary>A decision of any kind the CLI accepts (<c>approve-once</c>,
        /// <c>approve-for-session</c>, <c>reject</c>, <c>user-not-available</c>, <c>no-result</c>).</summary>
        public PermissionDecision(string kind, string feedback = null)
        {
            if (kind == null) throw new ArgumentNullException("kind");
            Kind = kind;
            Feedback = feedback;
        }

        PermissionDecision(JsonData custom) { _custom = custom; }

        /// <summary>The decision kind (null for a <see cref="Custom"/> decision).</summary>
        public string Kind { get; private set; }
        public string Feedback { get; private set; }

        public static readonly PermissionDecision ApproveOnce = new PermissionDecision("approve-once");
        public static readonly PermissionDecision ApproveForSession = new PermissionDecision("approve-for-session");
        public static readonly PermissionDecision UserNotAvailable = new PermissionDecision("user-not-available");
        /// <summary>Send nothing: another client (or a later call) answers.</summary>
        public static readonly PermissionDecision NoResult = new PermissionDecision("no-result");
        public static PermissionDecision Reject(string feedback = null) { return new PermissionDecision("reject", feedback); }
        /// <summary>Any answer the core reads, sent as is (a decision object such as
        /// <c>{"kind":"approve-for-location",...}</c>, or <c>true</c> / <c>false</c>).</summary>
        public static PermissionDecision Custom(JsonData decision)
        {
            if (decision == null) throw new ArgumentNullException("decision");
            return new PermissionDecision(decision);
        }

        public JsonData ToJson()
        {
            if (_custom != null) return _custom;
            if (Feedback == null) return Kind;
            return JsonData.Object().Set("kind", Kind).Set("feedback", Feedback);
        }
    }

    /// <summary>The context of a permission prompt, the second argument of the official
    /// two-argument handler (<see cref="SessionConfig.OnPermissionRequestWithInvocation"/>).</summary>
    public sealed class PermissionInvocation
    {
        /// <summary>The id of the session that asks.</summary>
        public string SessionId { get; set; }
    }

    /// <summary>The context of a question for the user, the second argument of the official
    /// two-argument handler (<see cref="SessionConfig.OnUserInputRequestWithInvocation"/>).</summary>
    public sealed class UserInputInvocation
    {
        /// <summary>The id of the session that asks.</summary>
        public string SessionId { get; set; }
    }

    /// <summary>Ready-made permission handlers.</summary>
    public static class PermissionHandler
    {
        /// <summary>Approves every prompt once.</summary>
        public static readonly Func<PermissionRequest, Task<PermissionDecision>> ApproveAll =
            req => Task.FromResult(PermissionDecision.ApproveOnce);

        /// <summary><see cref="ApproveAll"/> in the official two-argument form, for
        /// <see cref="SessionConfig.OnPermissionRequestWithInvocation"/>.</summary>
        public static readonly Func<PermissionRequest, PermissionInvocation, Task<PermissionDecision>> ApproveAllWithInvocation =
            (req, invocation) => Task.FromResult(PermissionDecision.ApproveOnce);
    }

    /// <summary>A question for the user (<c>ask_user</c>): <c>{sessionId, question, choices, allowFreeform}</c>.</summary>
    public sealed class UserInputRequest : HostRequest
    {
        internal UserInputRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string Question { get { return Payload["question"].AsString(); } }
        public IList<string> Choices { get { return Payload["choices"].AsStringList(); } }
        public bool AllowFreeform { get { return Payload["allowFreeform"].AsBool(); } }
    }

    /// <summary>The user's answer. Without <see cref="WasFreeform"/> the core decides: freeform
    /// unless the answer is one of the offered choices.</summary>
    public sealed class UserInputResponse
    {
        public string Answer { get; set; }
        public bool? WasFreeform { get; set; }

        public UserInputResponse() { }
        public UserInputResponse(string answer, bool? wasFreeform = null) { Answer = answer; WasFreeform = wasFreeform; }

        /// <summary>An answer with nothing else said.</summary>
        public static implicit operator UserInputResponse(string answer) { return new UserInputResponse(answer); }

        public JsonData ToJson()
        {
            var o = JsonData.Object().Set("answer", Answer);
            if (WasFreeform.HasValue) o.Set("wasFreeform", WasFreeform.Value);
            return o;
        }
    }

    /// <summary>A hook call: <c>{sessionId, hookType, input}</c>.</summary>
    public sealed class HookInvocation : HostRequest
    {
        internal HookInvocation(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        /// <summary><c>preToolUse</c>, <c>postToolUse</c>, <c>userPromptSubmitted</c>, ...</summary>
        public string HookType { get { return Payload["hookType"].AsString(); } }
        /// <summary>The hook's input as the CLI sent it.</summary>
        public JsonData Input { get { return Payload["input"]; } }
    }

    /// <summary>A system-message transform: <c>{sessionId, sections: {id: {content}}}</c>.</summary>
    public sealed class SystemMessageTransformRequest : HostRequest
    {
        internal SystemMessageTransformRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        /// <summary><c>{id: {content}}</c>: the sections configured with action <c>transform</c>.</summary>
        public JsonData Sections { get { return Payload["sections"]; } }
    }

    /// <summary>A request to leave plan mode: <c>{sessionId, summary, planContent, actions, recommendedAction}</c>.</summary>
    public sealed class ExitPlanModeRequest : HostRequest
    {
        internal ExitPlanModeRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string Summary { get { return Payload["summary"].AsString(); } }
        public string PlanContent { get { return Payload["planContent"].AsString(); } }
        /// <summary><c>autopilot</c>, <c>interactive</c>, <c>exit_only</c>, ...</summary>
        public IList<string> Actions { get { return Payload["actions"].AsStringList(); } }
        public string RecommendedAction { get { return Payload["recommendedAction"].AsString(); } }
    }

    /// <summary>The answer to <see cref="ExitPlanModeRequest"/>; unset fields are not sent
    /// (<see cref="Approved"/> unset: approved).</summary>
    public sealed class ExitPlanModeResponse
    {
        public bool? Approved { get; set; }
        public string SelectedAction { get; set; }
        public string Feedback { get; set; }

        public JsonData ToJson()
        {
            var o = JsonData.Object();
            if (Approved.HasValue) o.Set("approved", Approved.Value);
            o.SetIfNotNull("selectedAction", SelectedAction);
            o.SetIfNotNull("feedback", Feedback);
            return o;
        }
    }

    /// <summary>A bearer token for a BYOK provider: <c>{sessionId, providerName}</c>.</summary>
    public sealed class ProviderTokenRequest : HostRequest
    {
        internal ProviderTokenRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        /// <summary><c>default</c> for the session's provider.</summary>
        public string ProviderName { get { return Payload["providerName"].AsString(); } }
    }

    /// <summary>The CLI asks to switch to auto mode after a model error: <c>{sessionId, errorCode, retryAfterSeconds}</c>.</summary>
    public sealed class AutoModeSwitchRequest : HostRequest
    {
        internal AutoModeSwitchRequest(JsonData payload, RequestCancellation cancellation) : base(payload, cancellation) { }

        public string ErrorCode { get { return Payload["errorCode"].AsString(); } }
        public double? RetryAfterSeconds
        {
            get { var v = Payload["retryAfterSeconds"]; return v.Kind == JsonKind.Number ? (double?)v.AsDouble() : null; }
        }
    }

    /// <summary>The answers to <see cref="AutoModeSwitchRequest"/>.</summary>
    public static class AutoModeSwitchResponse
    {
        public const string Yes = "yes";
        public const string YesAlways = "yes_always";
        public const string No = "no";
    }
}
