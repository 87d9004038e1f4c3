// The bridge between the C ABI's callbacks and .NET Tasks.
//
// - One static delegate per callback type, kept in static fields (never collected).
// - user_data is an integer id (never a GC pointer): for calls, an id into a table of
//   TaskCompletionSource (RunContinuationsAsynchronously, so no continuation runs on the
//   library's dispatcher thread); for sessions, an id into a table of live sessions; for event
//   subscriptions, an id into a table of handlers.
// - Every callback runs on the library's one dispatcher thread ("copilot-callbacks") and never
//   lets an exception escape into native code.

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GitHub.Copilot.SDK.Interop;

namespace GitHub.Copilot.SDK
{
    /// <summary>Process-wide functions of the native library.</summary>
    public static class CopilotRuntime
    {
        /// <summary>The native library's version (libcopilot).</summary>
        public static string NativeVersion { get { return Native.FromUtf8(Native.copilot_version()); } }

        /// <summary>The native ABI version (raised by each additive change).</summary>
        public static uint AbiVersion { get { return Native.copilot_abi_version(); } }

        /// <summary>
        /// Ends the library's callback thread after running the callbacks already queued. The SDK
        /// calls it itself when the process exits (AppDomain.ProcessExit): Mono 6.8 waits forever
        /// at exit for a foreign thread that called managed code, and this ends that thread. Call
        /// it yourself to end the thread earlier, after disposing every client. The library starts
        /// a new thread if it is used again. Must not be called from an SDK callback (event
        /// handler, tool, permission, ...).
        /// </summary>
        public static void Shutdown()
        {
            int st = Native.copilot_shutdown();
            if (st != Native.Ok) throw Calls.LastError(st);
        }
    }

    internal delegate int Starter(IntPtr handle, IntPtr userData, out ulong callId);

    /// <summary>Async calls: integer ids mapped to pending TaskCompletionSources.</summary>
    internal static class Calls
    {
        sealed class Pending
        {
            public readonly TaskCompletionSource<JsonData> Tcs = new TaskCompletionSource<JsonData>(TaskCreationOptions.RunContinuationsAsynchronously);
            public CancellationToken Token;
        }

        static long _nextId;
        static readonly ConcurrentDictionary<long, Pending> Table = new ConcurrentDictionary<long, Pending>();

        static Calls()
        {
            // End the library's callback thread when the process exits, so that Mono 6.8 does not
            // wait forever for it (it called managed code). Verified on Mono: without this (or an
            // explicit CopilotRuntime.Shutdown) a program that used the SDK hangs after Main.
            AppDomain.CurrentDomain.ProcessExit += (s, e) =>
            {
                try { Native.copilot_shutdown(); }
                catch (Exception) { }
            };
        }

        /// <summary>The completion callback of every asynchronous call.</summary>
        internal static readonly CopilotCallback Completion = OnCompletion;

        /// <summary>Number of calls whose completion has not run yet (for tests).</summary>
        internal static int PendingCount { get { return Table.Count; } }

        static void OnCompletion(IntPtr userData, int status, IntPtr json)
        {
            try
            {
                Pending p;
                if (!Table.TryRemove(userData.ToInt64(), out p)) return;
                var text = Native.FromUtf8(json);
                if (status == Native.Ok)
                {
                    JsonData v;
                    try { v = text == null ? JsonData.Null : CopilotJson.Parse(text); }
                    catch (Exception e)
                    {
                        p.Tcs.TrySetException(new CopilotProtocolException(ErrorCodes.Internal, 20, "libcopilot returned a result that is not JSON: " + e.Message));
                        return;
                    }
                    p.Tcs.TrySetResult(v);
                }
                else if (status == Native.ErrCancelled && p.Token.IsCancellationRequested)
                {
                    p.Tcs.TrySetCanceled(p.Token);
                }
                else
                {
                    p.Tcs.TrySetException(ErrorFromJson(status, text));
                }
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: completion callback failed: " + e);
            }
        }

        /// <summary>Starts a native call and returns its result as a Task. The caller's token
        /// cancels it through copilot_cancel: the task ends as cancelled.</summary>
        internal static Task<JsonData> Start(NativeHandle handle, Starter start, CancellationToken ct)
        {
            if (ct.IsCancellationRequested) return CanceledTask(ct);
            IntPtr h;
            try { h = handle.Acquire(); }
            catch (ObjectDisposedException e)
            {
                var failed = new TaskCompletionSource<JsonData>();
                failed.SetException(e);
                return failed.Task;
            }
            var id = Interlocked.Increment(ref _nextId);
            var p = new Pending { Token = ct };
            Table[id] = p;
            ulong callId;
            int st;
            try
            {
                st = start(h, new IntPtr(id), out callId);
            }
            catch (Exception)
            {
                Pending ignored;
                Table.TryRemove(id, out ignored);
                throw;
            }
            finally
            {
                handle.Release();
            }
            if (st != Native.Ok)
            {
                Pending ignored;
                Table.TryRemove(id, out ignored);
                var tcs = new TaskCompletionSource<JsonData>();
                tcs.SetException(LastError(st));
                return tcs.Task;
            }
            if (ct.CanBeCanceled)
            {
                // copilot_cancel of a call that already completed answers UNKNOWN_ID: harmless.
                // The registration is released off the dispatcher thread, once the task ends.
                var reg = ct.Register(() => Native.copilot_cancel(callId));
                p.Tcs.Task.ContinueWith(_ => reg.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            return p.Tcs.Task;
        }

        static Task<JsonData> CanceledTask(CancellationToken ct)
        {
            var tcs = new TaskCompletionSource<JsonData>();
            tcs.SetCanceled();
            return tcs.Task;
        }

        /// <summary>The typed exception for a synchronous failure (the thread's last error).</summary>
        internal static CopilotException LastError(int status)
        {
            string json = null;
            try { json = Native.TakeString(Native.copilot_last_error_json()); }
            catch (Exception) { }
            return ErrorFromJson(status, json);
        }

        /// <summary>The typed exception for an error JSON (README 1.7).</summary>
        internal static CopilotException ErrorFromJson(int status, string text)
        {
            JsonData j = JsonData.Null;
            if (text != null)
            {
                try { j = CopilotJson.Parse(text); }
                catch (Exception) { j = JsonData.Object().Set("message", text); }
            }
            var code = j["code"].AsString() ?? ErrorCodes.FromNumber(status);
            if (code == null)
            {
                try { code = Native.FromUtf8(Native.copilot_error_name(status)); }
                catch (Exception) { }
            }
            code = code ?? "unknown";
            var number = (int)j["status"].AsLong(status);
            var message = j["message"].AsString() ?? ("libcopilot error " + status + " (" + code + ")");
            var e = ErrorCodes.Create(code, number, message);
            e.IsTransportFailure = j["transportFailure"].AsBool();
            e.IsRetriable = j["retriable"].AsBool();
            var rpc = j["rpc"];
            if (rpc.IsObject)
            {
                e.RpcCode = rpc["code"].AsNullableLong();
                e.RpcMessage = rpc["message"].AsString();
                e.RpcData = rpc["data"];
            }
            e.StderrTail = j["stderr"].AsString();
            return e;
        }
    }

    /// <summary>
    /// The .NET ends of one handle's event subscriptions (a session's <c>copilot_session_subscribe</c>,
    /// a client's <c>copilot_client_subscribe_lifecycle</c>). The native user data is a process-wide
    /// integer key of the handler; the library filters by type and calls on its dispatcher thread.
    /// </summary>
    internal sealed class EventSubscriptions
    {
        internal delegate int SubscribeFn(IntPtr handle, byte[] typesJson, CopilotEventCallback cb, IntPtr userData, out ulong subscription);
        internal delegate int UnsubscribeFn(IntPtr handle, ulong subscription);

        static long _next;
        static readonly ConcurrentDictionary<long, Action<JsonData>> Handlers = new ConcurrentDictionary<long, Action<JsonData>>();
        static readonly CopilotEventCallback Callback = OnNative;

        readonly SubscribeFn _subscribe;
        readonly UnsubscribeFn _unsubscribe;
        /// <summary>This owner's keys in <see cref="Handlers"/>.</summary>
        readonly HashSet<long> _mine = new HashSet<long>();

        internal EventSubscriptions(SubscribeFn subscribe, UnsubscribeFn unsubscribe)
        {
            _subscribe = subscribe;
            _unsubscribe = unsubscribe;
        }

        /// <summary>Subscribes (<paramref name="types"/> null: every type); <paramref name="deliver"/>
        /// gets each event's JSON. Dispose the result to unsubscribe: no call starts after that.</summary>
        internal IDisposable Subscribe(NativeHandle handle, IEnumerable<string> types, Action<JsonData> deliver)
        {
            var key = Interlocked.Increment(ref _next);
            Handlers[key] = deliver;
            lock (_mine) _mine.Add(key);
            var typesJson = Native.Utf8(types == null ? null : JsonData.Array(types).ToJson());
            ulong native = 0;
            int st;
            try
            {
                st = handle.Use(h => _subscribe(h, typesJson, Callback, new IntPtr(key), out native));
            }
            catch (Exception)
            {
                Forget(key);
                throw;
            }
            if (st != Native.Ok)
            {
                Forget(key);
                throw Calls.LastError(st);
            }
            return new Unsubscriber(() =>
            {
                // UNKNOWN_ID: the handle was freed or the subscription already ended.
                handle.UseIfOpen(h => _unsubscribe(h, native));
                Forget(key);
            });
        }

        /// <summary>Forgets every handler (the native handle was freed: none is called again).</summary>
        internal void Clear()
        {
            long[] keys;
            lock (_mine) keys = _mine.ToArray();
            foreach (var k in keys) Forget(k);
        }

        void Forget(long key)
        {
            Action<JsonData> ignored;
            Handlers.TryRemove(key, out ignored);
            lock (_mine) _mine.Remove(key);
        }

        static void OnNative(IntPtr userData, IntPtr json)
        {
            try
            {
                Action<JsonData> deliver;
                if (Handlers.TryGetValue(userData.ToInt64(), out deliver)) deliver(CopilotJson.Parse(Native.FromUtf8(json)));
            }
            catch (Exception e)
            {
                Trace.TraceError("copilot: event callback failed: " + e);
            }
        }
    }

    /// <summary>Runs user callbacks without ever letting an exception reach native code.</summary>
    internal static class Safe
    {
        internal static void Invoke<T>(Action<T> f, T arg, string what)
        {
            if (f == null) return;
            try { f(arg); }
            catch (Exception e) { Trace.TraceError("copilot: " + what + " threw: " + e); }
        }
    }
}
