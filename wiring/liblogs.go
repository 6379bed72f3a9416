package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs through a package-level logger that prints plain lines to
// stderr; routeLibraryLogs sends them to the process's slog logger instead,
// so that with NARCIDI_LOG_FORMAT=json every line is JSON. (asynq's logs go
// through slog already: workers.asynqLogger.) The logger is swapped
// atomically: tests build many.
var (
	libraryLog     atomic.Pointer[slog.Logger]
	routeRedisOnce sync.Once
)

func routeLibraryLogs(l *slog.Logger) {
	libraryLog.Store(l)
	routeRedisOnce.Do(func() { redis.SetLogger(RedisLogger{}) })
}

// RedisLogger is go-redis's internal.Logging on slog.
// RedisLogger is go-redis's logger: its lines go to the process logger.
type RedisLogger struct{}

func (RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := libraryLog.Load(); l != nil {
		l.WarnContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
	}
}
