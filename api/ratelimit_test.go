package api

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// TestRateLimitHeadersAgree: with a configured rate, the RateLimit headers
// state that rate, count down to the refusal, and on the refusal name the
// same moment as Retry-After. Run on both limiters.
func TestRateLimitHeadersAgree(t *testing.T) {
	rule := RateRule{Name: "client", Rate: 6, Period: time.Minute, Burst: 3} // one every 10 s
	limiters := map[string]func(t *testing.T) RateLimiter{
		"memory": func(t *testing.T) RateLimiter { return NewRateLimiter(nil, "", discardLogger()) },
		"redis": func(t *testing.T) RateLimiter {
			rdb := redis.NewClient(&redis.Options{Addr: storagetest.RedisAddr(), DB: storagetest.RedisDB(t)})
			t.Cleanup(func() { _ = rdb.Close() })
			return NewRateLimiter(rdb, "narcidi-test:", discardLogger())
		},
	}
	for name, mk := range limiters {
		t.Run(name, func(t *testing.T) {
			a := newTestAPI(t, "sqlite", Config{ClientRate: rule, Limiter: mk(t)})
			body := `{"license_key":"NOPE-NOPE","fingerprint":"fingerprint-0001"}`
			for i := range rule.Burst + 1 {
				res, raw := a.do("POST", "/v1/client/validate", body)
				h := res.Header
				if h.Get("RateLimit-Policy") != "3;w=30" || h.Get("RateLimit-Limit") != "3" {
					t.Fatalf("request %d: policy %q limit %q, want 3;w=30 and 3 (6 per minute)", i, h.Get("RateLimit-Policy"), h.Get("RateLimit-Limit"))
				}
				reset, err := strconv.Atoi(h.Get("RateLimit-Reset"))
				if err != nil || reset < 0 || reset > 30 {
					t.Fatalf("request %d: RateLimit-Reset %q, want 0-30", i, h.Get("RateLimit-Reset"))
				}
				if i < rule.Burst {
					if res.StatusCode == 429 || h.Get("RateLimit-Remaining") != strconv.Itoa(rule.Burst-1-i) {
						t.Fatalf("request %d: %d remaining %q: %s", i, res.StatusCode, h.Get("RateLimit-Remaining"), raw)
					}
					continue
				}
				retry, _ := strconv.Atoi(h.Get("Retry-After"))
				if res.StatusCode != 429 || h.Get("RateLimit-Remaining") != "0" {
					t.Fatalf("over the burst: %d remaining %q", res.StatusCode, h.Get("RateLimit-Remaining"))
				}
				if retry < 9 || retry > 10 || reset != retry {
					t.Fatalf("refused: Retry-After %d, RateLimit-Reset %d; want both about 10 s", retry, reset)
				}
				if p := problemOf(t, res, raw); p.Code != "rate_limited" {
					t.Fatalf("problem %+v", p)
				}
			}
		})
	}
}

// TestMemoryLimiterIsBounded: keys of any length are kept at a bounded
// size, and the number of buckets never passes the limit; a key already
// known keeps its budget when the table is full, a new one is refused.
func TestMemoryLimiterIsBounded(t *testing.T) {
	rule := RateRule{Name: "console-signin", Rate: 5, Period: 15 * time.Minute, Burst: 5}
	l := newMemoryLimiter(1000)
	ctx := t.Context()
	long := strings.Repeat("a", 60<<10)
	if d, _ := l.Allow(ctx, "192.0.2.1|known@example.com", rule); !d.Allowed {
		t.Fatal("the first key was refused")
	}
	for i := range 5000 {
		_, _ = l.Allow(ctx, "192.0.2.1|"+strconv.Itoa(i)+long, rule)
	}
	l.mu.Lock()
	n, longest := len(l.limiters), 0
	for k := range l.limiters {
		longest = max(longest, len(k))
	}
	l.mu.Unlock()
	if n > 1000 {
		t.Errorf("%d buckets kept, want at most 1000", n)
	}
	if longest > len(rule.Name)+1+maxKeyLength {
		t.Errorf("a key of %d bytes kept, want at most %d", longest, len(rule.Name)+1+maxKeyLength)
	}
	if d, _ := l.Allow(ctx, "192.0.2.1|known@example.com", rule); !d.Allowed {
		t.Error("a known key lost its budget when the table filled")
	}
	if d, _ := l.Allow(ctx, "192.0.2.9|new@example.com", rule); d.Allowed {
		t.Error("a new key got a bucket in a full table")
	}
}

// TestRefundGivesBackOne (issue 22, 8): a refunded request is given back,
// so a success does not count, and refunds never raise the budget past its
// burst; on Redis as in memory.
func TestRefundGivesBackOne(t *testing.T) {
	for name, newLimiter := range map[string]func(t *testing.T) RateLimiter{
		"memory": func(t *testing.T) RateLimiter { return NewRateLimiter(nil, "", discardLogger()) },
		"redis": func(t *testing.T) RateLimiter {
			rdb := redis.NewClient(&redis.Options{Addr: storagetest.RedisAddr(), DB: storagetest.RedisDB(t)})
			t.Cleanup(func() { _ = rdb.Close() })
			return NewRateLimiter(rdb, "narcidi-test:", discardLogger())
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, l := context.Background(), newLimiter(t)
			rule := RateRule{Name: "refund-" + name, Rate: 3, Period: time.Hour, Burst: 3}
			allowed := func() int {
				n := 0
				for range 5 {
					if d, err := l.Allow(ctx, "k", rule); err != nil {
						t.Fatal(err)
					} else if d.Allowed {
						n++
					}
				}
				return n
			}
			// Refunds on a full budget add nothing.
			for range 3 {
				if err := l.Refund(ctx, "k", rule); err != nil {
					t.Fatal(err)
				}
			}
			if n := allowed(); n != 3 {
				t.Fatalf("%d allowed of a budget of 3 after refunds on a full budget", n)
			}
			for range 2 {
				if err := l.Refund(ctx, "k", rule); err != nil {
					t.Fatal(err)
				}
			}
			if n := allowed(); n != 2 {
				t.Fatalf("%d allowed after 2 refunds on an empty budget, want 2", n)
			}
		})
	}
}
