package api

import (
	"strconv"
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
