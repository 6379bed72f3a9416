package api

import (
	"context"
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
}

// NewRateLimiter returns a limiter shared by every server instance through
// Redis when rdb is not nil (GCRA, github.com/go-redis/redis_rate), and a
// per-process one otherwise. When Redis fails, the shared limiter falls back
// to the local one rather than refusing or waving through all traffic.
// Keys in Redis start with prefix (e.g. "narcidi:").
func NewRateLimiter(rdb redis.UniversalClient, prefix string, log *slog.Logger) RateLimiter {
	local := &memoryLimiter{limiters: map[string]*memoryEntry{}}
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
	res, err := l.limiter.Allow(ctx, l.prefix+rule.Name+":"+key, redis_rate.Limit{Rate: rule.Rate, Period: rule.Period, Burst: rule.Burst})
	if err != nil {
		l.log.Warn("rate limiter: Redis unavailable, limiting per instance", "err", err)
		return l.fallback.Allow(ctx, key, rule)
	}
	return RateDecision{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(res.RetryAfter, 0), ResetAfter: res.ResetAfter}, nil
}

// memoryLimiter keeps one token bucket (golang.org/x/time/rate) per key.
type memoryLimiter struct {
	mu       sync.Mutex
	limiters map[string]*memoryEntry
	calls    int
}

type memoryEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func (l *memoryLimiter) Allow(_ context.Context, key string, rule RateRule) (RateDecision, error) {
	now := time.Now()
	every := rule.Period / time.Duration(rule.Rate)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%1024 == 0 {
		for k, e := range l.limiters {
			if now.Sub(e.seen) > 2*rule.Period+time.Minute {
				delete(l.limiters, k) // a full bucket: forgetting it changes nothing
			}
		}
	}
	k := rule.Name + ":" + key
	e := l.limiters[k]
	if e == nil {
		e = &memoryEntry{lim: rate.NewLimiter(rate.Every(every), rule.Burst)}
		l.limiters[k] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return RateDecision{RetryAfter: d, ResetAfter: time.Duration(float64(rule.Burst) * float64(every))}, nil
	}
	tokens := e.lim.TokensAt(now)
	missing := float64(rule.Burst) - tokens
	return RateDecision{Allowed: true, Remaining: int(math.Floor(tokens)), ResetAfter: time.Duration(missing * float64(every))}, nil
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
