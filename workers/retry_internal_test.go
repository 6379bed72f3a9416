package workers

import (
	"testing"
	"time"
)

// The delay between tries doubles from the base up to the cap, within the
// ±20% jitter.
func TestRetryDelayGrows(t *testing.T) {
	h := &handlers{cfg: Config{RetryBase: time.Second, RetryMax: 10 * time.Second}}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {20, 10 * time.Second}} {
		for range 50 {
			d := h.retryDelay(c.n, nil, nil)
			if d < c.want*8/10 || d > c.want*12/10 {
				t.Fatalf("try %d: delay %v, want %v ±20%%", c.n, d, c.want)
			}
		}
	}
}
