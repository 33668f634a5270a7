package session

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// LoggerFactory adapts pion's logging onto slog, so ICE, DTLS and SRTP
// messages land with the rest. Pion's debug and trace output is dropped.
type LoggerFactory struct{ log *slog.Logger }

// NewLoggerFactory returns a pion logger factory writing to log.
func NewLoggerFactory(log *slog.Logger) *LoggerFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LoggerFactory{log: log}
}

// NewLogger implements logging.LoggerFactory. Pion warns about every
// closed socket when a session ends, so its warnings are logged at debug
// level and its errors as warnings.
func (f *LoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) out(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(string)          {}
func (l pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(msg string)       { l.out(slog.LevelDebug, msg) }
func (l pionLogger) Infof(f string, a ...any) {
	l.out(slog.LevelDebug, fmt.Sprintf(f, a...))
}
func (l pionLogger) Warn(msg string) { l.out(slog.LevelDebug, msg) }
func (l pionLogger) Warnf(f string, a ...any) {
	l.out(slog.LevelDebug, fmt.Sprintf(f, a...))
}
func (l pionLogger) Error(msg string) { l.out(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(f string, a ...any) {
	l.out(slog.LevelWarn, fmt.Sprintf(f, a...))
}

var _ logging.LoggerFactory = (*LoggerFactory)(nil)
