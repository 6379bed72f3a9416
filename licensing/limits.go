package licensing

import (
	"errors"
	"time"
)

// Limits on every duration and date the API takes. Both databases, RFC 3339
// and JSON hold times up to the end of year 9999 only; a date past it is
// written by one database and then breaks every read of the row (listing,
// validation, the expiry scan) and every answer that carries it. Durations
// are bounded too, so that no sum of a date and a duration leaves that range
// and no seconds-to-time.Duration conversion overflows.
const (
	// MaxDurationSeconds bounds every duration in seconds the API takes
	// (duration_seconds, grace_seconds, heartbeat_window_seconds,
	// offline_release_seconds): 100 years of 366 days.
	MaxDurationSeconds int64 = 100 * 366 * 24 * 60 * 60
	// MaxDuration is MaxDurationSeconds as a time.Duration (about 3.2e18 ns,
	// below the int64 limit).
	MaxDuration = time.Duration(MaxDurationSeconds) * time.Second
)

var (
	// LatestTime is the latest time the databases and the wire hold.
	LatestTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	// LatestExpiry is the latest expiry a license may have: with the
	// longest grace period added it still ends by LatestTime.
	LatestExpiry = LatestTime.Add(-MaxDuration)
	// EarliestTime is the earliest date the API takes: lease claims carry
	// dates as Unix seconds, where 0 means "none".
	EarliestTime = time.Unix(1, 0).UTC()
)

// checkSeconds checks a duration in seconds that field takes: 0 (the
// field's "none" or default) up to MaxDurationSeconds.
func checkSeconds(field string, v int64) error {
	if v < 0 || v > MaxDurationSeconds {
		return FieldErrorf(field, "%s must be between 0 and %d (100 years)", field, MaxDurationSeconds)
	}
	return nil
}

// checkExpiry checks a license expiry that field takes.
func checkExpiry(field string, t time.Time) error {
	return checkTime(field, t, LatestExpiry)
}

// checkTime checks a date that field takes: from EarliestTime to latest.
func checkTime(field string, t time.Time, latest time.Time) error {
	if t.Before(EarliestTime) || t.After(latest) {
		return FieldErrorf(field, "%s must be between %s and %s", field, EarliestTime.Format(time.RFC3339), latest.Format(time.RFC3339))
	}
	return nil
}

// expiryAfter is from plus secs seconds, as a license expiry that field
// (the source of secs) gives. The addition cannot overflow (both are
// bounded) and the result is checked against LatestExpiry.
func expiryAfter(field string, from time.Time, secs int64) (time.Time, error) {
	if err := checkSeconds(field, secs); err != nil {
		return time.Time{}, err
	}
	t := from.Add(time.Duration(secs) * time.Second)
	if t.After(LatestExpiry) {
		return time.Time{}, FieldErrorf(field, "%s would move the expiry to %s, past the latest %s", field, t.Format(time.RFC3339), LatestExpiry.Format(time.RFC3339))
	}
	return t, nil
}

// seconds turns a stored duration in seconds into a time.Duration,
// saturating at the limits so that a row written before the limits existed
// cannot overflow the conversion.
func seconds(v int64) time.Duration {
	return time.Duration(min(max(v, 0), MaxDurationSeconds)) * time.Second
}

// required answers EInvalid naming field when v is empty: a reference the
// request must carry is a client mistake, never "not found".
func required(field, v string) error {
	if v == "" {
		return FieldErrorf(field, "%s is required", field)
	}
	return nil
}

// missing names field in the not-found error of a reference the request
// carries (the policy of a new license): the code stays ENotFound, the field
// lets the console and API clients point at the input. It sets it on a copy,
// as a store may hand out a shared error value.
func missing(err error, field string) error {
	var e *Error
	if ErrorCode(err) != ENotFound || !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Field = field
	return &c
}

// refersTo turns ENotFound for a reference a request body carries into
// EInvalid naming the field: the request is wrong, the URL's resource is
// there.
func refersTo(err error, field, what, id string) error {
	if ErrorCode(err) == ENotFound {
		return FieldErrorf(field, "%s: %s %s does not exist", field, what, id)
	}
	return err
}
