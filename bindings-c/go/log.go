package copilot

/*
#include <stdint.h>
#include "copilot.h"

extern void goLog(void *user_data, int32_t level, char *target, char *message);
static CopilotLogCallback log_cb(void) { return (CopilotLogCallback)goLog; }
*/
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"sync"
)

// LevelTrace is the slog level of libcopilot's trace records (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

// logSink is what goLog reaches: the logger and the goroutine that calls it.
type logSink struct {
	logger *slog.Logger
	q      *serialQueue
}

var logState struct {
	mu     sync.Mutex
	sink   *logSink
	handle cgo.Handle
}

// SetLogger sends libcopilot's log records (the core's: a server lost, a session moved, a
// lease lost, a drain, reconnects, …) to logger, from now on, as slog records with the
// attribute "target" (the module that wrote it) and the record's fields in the message. Only
// the levels logger is enabled for are forwarded (checked once, here: call SetLogger again
// after changing the handler's level). The records reach the logger in order, on a goroutine
// of their own. nil stops forwarding. Shutdown ends forwarding too.
func SetLogger(logger *slog.Logger) error {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	level := C.int32_t(C.COPILOT_LOG_OFF)
	var sink *logSink
	var h cgo.Handle
	if logger != nil {
		ctx := context.Background()
		switch {
		case logger.Enabled(ctx, LevelTrace):
			level = C.COPILOT_LOG_TRACE
		case logger.Enabled(ctx, slog.LevelDebug):
			level = C.COPILOT_LOG_DEBUG
		case logger.Enabled(ctx, slog.LevelInfo):
			level = C.COPILOT_LOG_INFO
		case logger.Enabled(ctx, slog.LevelWarn):
			level = C.COPILOT_LOG_WARN
		case logger.Enabled(ctx, slog.LevelError):
			level = C.COPILOT_LOG_ERROR
		}
		if level != C.COPILOT_LOG_OFF {
			sink = &logSink{logger: logger, q: newSerialQueue()}
			h = cgo.NewHandle(sink)
		}
	}
	_, err := startLocked(func() C.CopilotStatus {
		if sink == nil {
			return C.copilot_set_log_callback(C.COPILOT_LOG_OFF, nil, nil)
		}
		return C.copilot_set_log_callback(level, C.log_cb(), handlePtr(h))
	})
	if err != nil {
		if sink != nil {
			h.Delete()
			sink.q.close()
		}
		return err
	}
	// The previous callback is not called once copilot_set_log_callback returned.
	if old := logState.sink; old != nil {
		logState.handle.Delete()
		old.q.close()
	}
	logState.sink, logState.handle = sink, h
	return nil
}

// slogLevel maps a libcopilot level (COPILOT_LOG_*) to slog's.
func slogLevel(level int) slog.Level {
	switch level {
	case 1:
		return slog.LevelError
	case 2:
		return slog.LevelWarn
	case 3:
		return slog.LevelInfo
	case 4:
		return slog.LevelDebug
	default:
		return LevelTrace
	}
}

func (s *logSink) record(level int, target, message string) {
	s.q.push(func() {
		s.logger.Log(context.Background(), slogLevel(level), message, slog.String("target", target))
	})
}
