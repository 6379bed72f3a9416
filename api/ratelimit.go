package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// RateRule is a request budget: Rate requests per Period, bursts up to Burst.
type RateRule struct {
	Name   string
	Rate   int
	Period time.Duration
	Burst  int
}

// RateDecision is a limiter's answer for one request.
type RateDecision struct {
	Allowed    bool
	Remaining  int
	RetryAfter time.Duration // when refused: how long until one more request fits
	ResetAfter time.Duration // how long until the budget is full again
}

// RateLimiter counts requests per key under a rule.
type RateLimiter interface {
	Allow(ctx context.Context, key string, rule RateRule) (RateDecision, error)
	// Refund gives back one request allowed earlier under key and rule, so
	// that only failures count (a redeemed link, a password set); the
	// budget never grows past its burst.
	Refund(ctx context.Context, key string, rule RateRule) error
}

// NewRateLimiter returns a limiter shared by every server instance through
// Redis when rdb is not nil (GCRA, github.com/go-redis/redis_rate), and a
// per-process one otherwise. When Redis fails, the shared limiter falls back
// to the local one rather than refusing or waving through all traffic.
// Keys in Redis start with prefix (e.g. "narcidi:").
func NewRateLimiter(rdb redis.UniversalClient, prefix string, log *slog.Logger) RateLimiter {
	local := newMemoryLimiter(maxLimiterKeys)
	if rdb == nil {
		return local
	}
	return &redisLimiter{limiter: redis_rate.NewLimiter(rdb), prefix: prefix + "rl:", fallback: local, log: log}
}

type redisLimiter struct {
	limiter  *redis_rate.Limiter
	prefix   string
	fallback RateLimiter
	log      *slog.Logger
}

func (l *redisLimiter) Allow(ctx context.Context, key string, rule RateRule) (RateDecision, error) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	res, err := l.limiter.Allow(ctx, l.prefix+rule.Name+":"+boundKey(key), redis_rate.Limit{Rate: rule.Rate, Period: rule.Period, Burst: rule.Burst})
	if err != nil {
		l.log.Warn("rate limiter: Redis unavailable, limiting per instance", "err", err)
		return l.fallback.Allow(ctx, key, rule)
	}
	return RateDecision{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(res.RetryAfter, 0), ResetAfter: res.ResetAfter}, nil
}

// Refund spends minus one: GCRA moves the key's theoretical arrival time
// back by one interval, never before now (the script clamps it).
func (l *redisLimiter) Refund(ctx context.Context, key string, rule RateRule) error {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := l.limiter.AllowN(ctx, l.prefix+rule.Name+":"+boundKey(key), redis_rate.Limit{Rate: rule.Rate, Period: rule.Period, Burst: rule.Burst}, -1)
	if err != nil {
		l.log.Warn("rate limiter: Redis unavailable, refunding per instance", "err", err)
		return l.fallback.Refund(ctx, key, rule)
	}
	return nil
}

// maxLimiterKeys bounds the per-process limiter's memory: about 200 bytes
// a key (a bounded key, a token bucket, the map's share), so some 20 MiB.
const maxLimiterKeys = 100_000

// maxKeyLength bounds a key as the limiters keep it: longer keys (a typed
// email can be 64 KiB) are kept as their SHA-256.
const maxKeyLength = 128

// boundKey is key, or its hash when it is longer than maxKeyLength: every
// key a limiter keeps, in memory or in Redis, has a bounded size whatever
// the client sent.
func boundKey(key string) string {
	if len(key) <= maxKeyLength {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// memoryLimiter keeps one token bucket (golang.org/x/time/rate) per key,
// at most max of them: a bucket is forgotten once full again (idle for
// two periods), and when max buckets are live a new key is refused rather
// than an old one forgotten (forgetting would hand a flooder a fresh
// budget). The per-IP rules beside the per-(IP, email) ones keep one client
// from filling the table.
type memoryLimiter struct {
	mu       sync.Mutex
	limiters map[string]*memoryEntry
	max      int
	calls    int
}

type memoryEntry struct {
	lim     *rate.Limiter
	expires time.Time // idle until then: the bucket is full, forgetting it changes nothing
}

func newMemoryLimiter(max int) *memoryLimiter {
	return &memoryLimiter{limiters: map[string]*memoryEntry{}, max: max}
}

// sweep forgets the buckets full again by now.
func (l *memoryLimiter) sweep(now time.Time) {
	for k, e := range l.limiters {
		if now.After(e.expires) {
			delete(l.limiters, k)
		}
	}
}

func (l *memoryLimiter) Allow(_ context.Context, key string, rule RateRule) (RateDecision, error) {
	now := time.Now()
	every := rule.Period / time.Duration(rule.Rate)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%1024 == 0 {
		l.sweep(now)
	}
	k := rule.Name + ":" + boundKey(key)
	e := l.limiters[k]
	if e == nil {
		if len(l.limiters) >= l.max {
			l.sweep(now)
		}
		if len(l.limiters) >= l.max {
			return RateDecision{RetryAfter: every, ResetAfter: every}, nil
		}
		e = &memoryEntry{lim: rate.NewLimiter(rate.Every(every), rule.Burst)}
		l.limiters[k] = e
	}
	e.expires = now.Add(2*rule.Period + time.Minute)
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return RateDecision{RetryAfter: d, ResetAfter: time.Duration(float64(rule.Burst) * float64(every))}, nil
	}
	tokens := e.lim.TokensAt(now)
	missing := float64(rule.Burst) - tokens
	return RateDecision{Allowed: true, Remaining: int(math.Floor(tokens)), ResetAfter: time.Duration(missing * float64(every))}, nil
}

// Refund puts one token back in key's bucket (x/time/rate caps it at the
// burst at its next use); an unknown key has nothing to give back.
func (l *memoryLimiter) Refund(_ context.Context, key string, rule RateRule) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.limiters[rule.Name+":"+boundKey(key)]; e != nil {
		e.lim.ReserveN(time.Now(), -1)
	}
	return nil
}

// limit applies rule to the requests of the handler, keyed by keyOf, and
// sets the RateLimit headers (draft-ietf-httpapi-ratelimit-headers) on every
// answer, in the terms of the configured rule: the quota is the burst, and
// its window the time the configured rate takes to refill it, so that
// RateLimit-Policy "3;w=30" states the configured 6 per minute. On a refusal
// RateLimit-Reset and Retry-After name the same moment: when the next
// request fits.
func (s *Server) limit(rule RateRule, keyOf func(c *fiber.Ctx) string) fiber.Handler {
	if rule.Burst <= 0 {
		rule.Burst = 1 // a zero burst would refuse every request for ever
	}
	policy := strconv.Itoa(rule.Burst) + ";w=" + strconv.Itoa(max(1, ceilSeconds(rule.window())))
	return func(c *fiber.Ctx) error {
		d, err := s.limiter.Allow(c.UserContext(), keyOf(c), rule)
		if err != nil {
			return err
		}
		c.Set("RateLimit-Policy", policy)
		c.Set("RateLimit-Limit", strconv.Itoa(rule.Burst))
		if !d.Allowed {
			retry := strconv.Itoa(max(1, ceilSeconds(d.RetryAfter)))
			c.Set("RateLimit-Remaining", "0")
			c.Set("RateLimit-Reset", retry)
			c.Set(fiber.HeaderRetryAfter, retry)
			return licensing.Errorf(licensing.ERateLimited, "too many requests: retry in %s s", retry)
		}
		c.Set("RateLimit-Remaining", strconv.Itoa(max(0, d.Remaining)))
		c.Set("RateLimit-Reset", strconv.Itoa(min(ceilSeconds(d.ResetAfter), ceilSeconds(rule.window()))))
		return c.Next()
	}
}

// window is how long the rule's rate takes to refill a whole burst.
func (r RateRule) window() time.Duration {
	return time.Duration(float64(r.Period) * float64(r.Burst) / float64(r.Rate))
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

func byIP(c *fiber.Ctx) string { return c.IP() }

func byToken(c *fiber.Ctx) string {
	if a := actor(c); a != nil {
		return a.TokenID
	}
	return c.IP()
}
