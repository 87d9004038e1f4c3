// Typed hooks (issue 12): the shared part of the generated adapters `Hooks.PreToolUse(...)`, ...
// (Protocol.g.cs, from the hook schema xtask/protocol/hooks.schema.json). An adapter turns a typed
// handler into the untyped `Func<HookInvocation, Task<JsonData>>` of SessionConfig.Hooks, so typed
// and untyped hooks are served by the same path.

using System;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Protocol;

namespace GitHub.Copilot.SDK
{
    public static partial class Hooks
    {
        /// <summary>Decodes the wire input into <typeparamref name="TIn"/>, runs the handler, and
        /// encodes its output (null: no output). A hook call of another type than the adapter's, or an
        /// input that is not a JSON object, fails the hook (handler_failed).</summary>
        static Func<HookInvocation, Task<JsonData>> Adapt<TIn, TOut>(string hookType, Func<TIn, HookInvocation, Task<TOut>> handler, Func<JsonData, TIn> decode)
            where TIn : class
            where TOut : class, IWireValue
        {
            if (handler == null) throw new ArgumentNullException("handler");
            return async inv =>
            {
                var actual = inv.HookType;
                if (actual != null && actual != hookType)
                    throw new InvalidOperationException("a typed " + hookType + " hook was called for a " + actual + " hook");
                var input = decode(inv.Input);
                if (input == null)
                    throw new InvalidOperationException("the " + hookType + " hook input is not a JSON object: " + inv.Input.ToJson());
                var pending = handler(input, inv);
                if (pending == null) return null;
                var output = await pending.ConfigureAwait(false);
                return output == null ? null : output.ToJson();
            };
        }
    }
}
