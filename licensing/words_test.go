package licensing_test

import (
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

func TestDurationWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{72 * time.Hour, "3 days"},
		{90 * time.Minute, "90 minutes"},
		{30 * time.Second, "30 seconds"},
		{0, "no time"},
	} {
		if got := licensing.DurationWords(tc.d); got != tc.want {
			t.Errorf("DurationWords(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := licensing.DateWords(time.Date(2026, 12, 14, 23, 0, 0, 0, time.UTC)); got != "14 December 2026" {
		t.Errorf("DateWords = %q", got)
	}
}
