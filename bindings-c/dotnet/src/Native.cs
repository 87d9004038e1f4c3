// P/Invoke declarations of libcopilot (bindings-c/include/copilot.h). Conventions: bindings-c/README.md.
// Strings go in as NUL-terminated UTF-8 byte arrays; owned strings come back as IntPtr and are
// freed with copilot_string_free; callback strings are borrowed and copied at once.
// No GC pointer is ever handed to native code: user_data values are integer ids.

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace GitHub.Copilot.SDK.Interop
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void CopilotCallback(IntPtr userData, int status, IntPtr json);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void CopilotEventCallback(IntPtr userData, IntPtr eventJson);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void CopilotRequestCallback(IntPtr userData, ulong requestId, IntPtr kind, IntPtr payloadJson);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void CopilotLogCallback(IntPtr userData, int level, IntPtr target, IntPtr message);

    /// <summary>copilot_{client,pool}_{create,resume}_session in one shape (create ignores the id).</summary>
    internal delegate int OpenSessionNative(IntPtr owner, byte[] sessionId, byte[] configJson,
        CopilotEventCallback onEvent, CopilotRequestCallback onRequest, IntPtr sessionUserData,
        CopilotCallback cb, IntPtr ud, out IntPtr sessionOut, out ulong callId);

    internal static class Native
    {
        const string Lib = "copilot";

        public const int Ok = 0;
        public const int ErrCancelled = 5;
        public const int ErrUnknownId = 104;

        // ---------------------------------------------------------------- process-wide
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint copilot_abi_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_error_name(int status);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_last_error_message();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_last_error_json();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void copilot_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_cancel(ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_shutdown();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_request_reply(ulong requestId, byte[] resultJson);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_request_fail(ulong requestId, byte[] message);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_request_name(ulong requestId, out IntPtr nameOut);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_set_log_callback(int level, CopilotLogCallback cb, IntPtr userData);

        // ---------------------------------------------------------------- client
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_new(byte[] optionsJson, CopilotEventCallback onLifecycle, IntPtr userData, out IntPtr clientOut);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void copilot_client_free(IntPtr client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_client_info(IntPtr client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_start(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_stop(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_force_stop(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_ping(IntPtr client, byte[] message, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_get_status(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_get_auth_status(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_list_models(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_create_session(IntPtr client, byte[] configJson,
            CopilotEventCallback onEvent, CopilotRequestCallback onRequest, IntPtr sessionUserData,
            CopilotCallback cb, IntPtr ud, out IntPtr sessionOut, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_resume_session(IntPtr client, byte[] sessionId, byte[] configJson,
            CopilotEventCallback onEvent, CopilotRequestCallback onRequest, IntPtr sessionUserData,
            CopilotCallback cb, IntPtr ud, out IntPtr sessionOut, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_list_sessions(IntPtr client, byte[] filterJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_get_session_metadata(IntPtr client, byte[] sessionId, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_delete_session(IntPtr client, byte[] sessionId, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_get_last_session_id(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_get_foreground_session_id(IntPtr client, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_set_foreground_session_id(IntPtr client, byte[] sessionId, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_rpc(IntPtr client, byte[] method, byte[] paramsJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_rpc_with_timeout(IntPtr client, byte[] method, byte[] paramsJson, double timeoutSeconds, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_subscribe_lifecycle(IntPtr client, byte[] typesJson, CopilotEventCallback cb, IntPtr ud, out ulong subscription);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_unsubscribe_lifecycle(IntPtr client, ulong subscription);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_client_metrics(IntPtr client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_client_metrics_prometheus(IntPtr client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_cleanup_sessions(IntPtr client, byte[] optionsJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_client_start_reaper(IntPtr client, double intervalSeconds, byte[] optionsJson, out IntPtr reaperOut);

        // ---------------------------------------------------------------- pool (ABI 5)
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_new(byte[] optionsJson, out IntPtr poolOut);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void copilot_pool_free(IntPtr pool);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_start(IntPtr pool, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_stop(IntPtr pool, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_create_session(IntPtr pool, byte[] configJson,
            CopilotEventCallback onEvent, CopilotRequestCallback onRequest, IntPtr sessionUserData,
            CopilotCallback cb, IntPtr ud, out IntPtr sessionOut, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_resume_session(IntPtr pool, byte[] sessionId, byte[] configJson,
            CopilotEventCallback onEvent, CopilotRequestCallback onRequest, IntPtr sessionUserData,
            CopilotCallback cb, IntPtr ud, out IntPtr sessionOut, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_list_sessions(IntPtr pool, byte[] filterJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_delete_session(IntPtr pool, byte[] sessionId, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_cleanup_sessions(IntPtr pool, byte[] optionsJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_drain(IntPtr pool, byte[] url);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_undrain(IntPtr pool, byte[] url);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_pool_servers(IntPtr pool);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_pool_ranking(IntPtr pool, byte[] sessionId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_pool_metrics(IntPtr pool);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_pool_metrics_prometheus(IntPtr pool);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_pool_start_reaper(IntPtr pool, double intervalSeconds, byte[] optionsJson, CopilotEventCallback onSweep, IntPtr userData, out IntPtr reaperOut);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_reaper_stop(IntPtr reaper);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void copilot_reaper_free(IntPtr reaper);

        // ---------------------------------------------------------------- session
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void copilot_session_free(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_session_id(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_session_info(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern ulong copilot_session_lease_token(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr copilot_session_server(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_send(IntPtr session, byte[] messageJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_send_and_wait(IntPtr session, byte[] messageJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_abort(IntPtr session, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_disconnect(IntPtr session, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_get_messages(IntPtr session, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_set_model(IntPtr session, byte[] model, byte[] reasoningEffort, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_rpc(IntPtr session, byte[] method, byte[] paramsJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_rpc_with_timeout(IntPtr session, byte[] method, byte[] paramsJson, double timeoutSeconds, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_ui(IntPtr session, byte[] op, byte[] paramsJson, CopilotCallback cb, IntPtr ud, out ulong callId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_subscribe(IntPtr session, byte[] typesJson, CopilotEventCallback cb, IntPtr ud, out ulong subscription);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int copilot_session_unsubscribe(IntPtr session, ulong subscription);

        // ---------------------------------------------------------------- helpers

        /// <summary>A per-call deadline in the ABI's form: seconds, 0 for none
        /// (<see cref="System.Threading.Timeout.InfiniteTimeSpan"/> or <see cref="TimeSpan.Zero"/>).
        /// Other negative values go through as they are: the library refuses them.</summary>
        public static double Seconds(TimeSpan timeout)
        {
            if (timeout == System.Threading.Timeout.InfiniteTimeSpan || timeout == TimeSpan.Zero) return 0;
            return timeout.TotalSeconds;
        }

        /// <summary>NUL-terminated UTF-8 (null stays null, which the ABI reads as NULL).</summary>
        public static byte[] Utf8(string s)
        {
            if (s == null) return null;
            var n = Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>Copies a borrowed NUL-terminated UTF-8 string (null for NULL).</summary>
        public static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(p, len) != 0) len++;
            var b = new byte[len];
            Marshal.Copy(p, b, 0, len);
            return Encoding.UTF8.GetString(b);
        }

        /// <summary>Copies and frees a string the library handed over.</summary>
        public static string TakeString(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            try { return FromUtf8(p); }
            finally { copilot_string_free(p); }
        }
    }
}
