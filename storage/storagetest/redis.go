package storagetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAddrEnv overrides the Redis server tests use.
const RedisAddrEnv = "NARCIDI_TEST_REDIS_ADDR"

const redisStartHint = `start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log`

// RedisAddr is the host:port of the test Redis (127.0.0.1:6379 by default).
func RedisAddr() string {
	if a := os.Getenv(RedisAddrEnv); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// RedisDB reserves one of Redis's numbered databases (1-15) for the test,
// empties it, and returns its number; it is emptied and released when the
// test ends. asynq's keys cannot be prefixed, so queue tests get a whole
// database each. The reservation is a key with a TTL in database 0, so a
// crashed test run frees its database after a while.
func RedisDB(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	defer admin.Close()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is needed at %s (set %s to change it): %v\n%s", RedisAddr(), RedisAddrEnv, err, redisStartHint)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("narcidi-test:db:%d", db)
			ok, err := admin.SetNX(ctx, key, os.Getpid(), 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("reserve a Redis database: %v", err)
			}
			if !ok {
				continue
			}
			flush := func() {
				c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
				defer c.Close()
				_ = c.FlushDB(context.Background()).Err()
			}
			flush()
			t.Cleanup(func() {
				flush()
				a := redis.NewClient(&redis.Options{Addr: RedisAddr()})
				defer a.Close()
				_ = a.Del(context.Background(), key).Err()
			})
			return db
		}
		if time.Now().After(deadline) {
			t.Fatal("no free Redis test database (1-15) for 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
