// An ILogger-shaped logging hook. Microsoft.Extensions.Logging is not available here (Mono, no
// NuGet), so GitHub.Copilot.SDK.Logging declares the same shape: ILogger (Log<TState>, IsEnabled,
// BeginScope), LogLevel (same names and values) and EventId. An application that uses the real
// package wraps its logger in a class of a few lines that forwards these three members. The
// records are the library's own (CopilotLog: the core's connection, failover, lease and reaper
// records), one stream per process.

using System;

namespace GitHub.Copilot.SDK.Logging
{
    /// <summary>The levels of Microsoft.Extensions.Logging.LogLevel, with the same values.</summary>
    public enum LogLevel
    {
        Trace = 0,
        Debug = 1,
        Information = 2,
        Warning = 3,
        Error = 4,
        Critical = 5,
        None = 6,
    }

    /// <summary>Microsoft.Extensions.Logging.EventId's shape: an id and an optional name.</summary>
    public struct EventId
    {
        public EventId(int id, string name = null)
        {
            Id = id;
            Name = name;
        }

        public int Id { get; private set; }
        public string Name { get; private set; }

        public static implicit operator EventId(int id) { return new EventId(id); }

        public override string ToString() { return Name ?? Id.ToString(); }
    }

    /// <summary>Microsoft.Extensions.Logging.ILogger's members. The library calls
    /// <see cref="IsEnabled"/> once per level when the logger is installed (to pick the minimum
    /// level it asks the core for) and <see cref="Log{TState}"/> per record; it never calls
    /// <see cref="BeginScope{TState}"/>.</summary>
    public interface ILogger
    {
        void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception, Func<TState, Exception, string> formatter);
        bool IsEnabled(LogLevel logLevel);
        IDisposable BeginScope<TState>(TState state);
    }

    /// <summary>The state of a record passed to <see cref="ILogger.Log{TState}"/>: the level, the
    /// target (the module that wrote it, e.g. <c>copilot_core::pool</c>) and the message with the
    /// record's fields. ToString() and the formatter give the message.</summary>
    public sealed class CopilotLogRecord
    {
        internal CopilotLogRecord(CopilotLogLevel level, string target, string message)
        {
            Level = level;
            Target = target;
            Message = message;
        }

        public CopilotLogLevel Level { get; private set; }
        public string Target { get; private set; }
        public string Message { get; private set; }

        public override string ToString() { return Message; }
    }
}

namespace GitHub.Copilot.SDK
{
    using GitHub.Copilot.SDK.Logging;

    public static partial class CopilotLog
    {
        static readonly Func<CopilotLogRecord, Exception, string> Format = (r, e) => r.Message;

        /// <summary>Sends the library's records to an ILogger-shaped <paramref name="logger"/>
        /// (null stops forwarding). The minimum level is the most verbose one the logger reports
        /// enabled; each record arrives as <c>Log(level, new EventId(0, target), record, null,
        /// formatter)</c> with a <see cref="CopilotLogRecord"/> state. Like
        /// <see cref="SetHandler"/>, this is process-wide and replaces the previous handler.</summary>
        public static void SetLogger(ILogger logger)
        {
            if (logger == null)
            {
                SetHandler(CopilotLogLevel.Off, null);
                return;
            }
            var minimum = CopilotLogLevel.Off;
            foreach (var l in new[] { CopilotLogLevel.Error, CopilotLogLevel.Warning, CopilotLogLevel.Information, CopilotLogLevel.Debug, CopilotLogLevel.Trace })
                if (logger.IsEnabled(ToLogLevel(l))) minimum = l;
            SetHandler(minimum, (level, target, message) =>
            {
                var ll = ToLogLevel(level);
                if (!logger.IsEnabled(ll)) return;
                logger.Log(ll, new EventId(0, target), new CopilotLogRecord(level, target, message), null, Format);
            });
        }

        /// <summary>The Microsoft.Extensions.Logging level of a library level.</summary>
        public static LogLevel ToLogLevel(CopilotLogLevel level)
        {
            switch (level)
            {
                case CopilotLogLevel.Error: return LogLevel.Error;
                case CopilotLogLevel.Warning: return LogLevel.Warning;
                case CopilotLogLevel.Information: return LogLevel.Information;
                case CopilotLogLevel.Debug: return LogLevel.Debug;
                case CopilotLogLevel.Trace: return LogLevel.Trace;
                default: return LogLevel.None;
            }
        }
    }
}
