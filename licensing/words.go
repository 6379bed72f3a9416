package licensing

import (
	"fmt"
	"time"
)

// DurationWords says d as people do in a mail or a page: "15 minutes",
// "1 hour", "24 hours", "3 days" (never Go's "15m0s"). It rounds down to
// the largest unit that keeps d whole, so 90 minutes stays "90 minutes".
func DurationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "no time"
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	case d < time.Minute:
		return plural(int64((d+time.Second-1)/time.Second), "second")
	}
	return plural(int64(d/time.Minute), "minute")
}

// DateWords says a date as people read it in a mail: "14 December 2026".
func DateWords(t time.Time) string { return t.UTC().Format("2 January 2006") }
