package insights

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The bounds of a day's sets: a day keeps at most this many distinct
// networks and platforms (the smallest in text order). A count that
// reaches the bound reads "at least that many", which is all a sharing
// score needs, and keeps a row's size fixed whatever a client does.
const (
	MaxNetworks    = 64
	MaxPlatforms   = 8
	MaxAppVersions = 8
)

// DayLayout is the layout of Day.Day (a UTC date).
const DayLayout = "2006-01-02"

// Day is the roll-up of one UTC day of a license (MachineID "") or of one
// machine of it.
//
// What is stored and what is read differ: a Store keeps one row per
// machine and day, plus a row with MachineID "" only for the uses that
// named no machine (so a renewal writes one row, not two: the license's
// row was half of telemetry's database work). Readers get the engine's
// shape from LicenseDays: every machine row, and per day one license row
// that holds everything.
type Day struct {
	Day         string // YYYY-MM-DD, UTC
	LicenseID   string
	MachineID   string // "": the license's roll-up, every machine together
	Activations int64
	Renewals    int64
	Heartbeats  int64
	Validations int64
	Networks    []string // distinct /24 (IPv4) or /48 (IPv6) networks, sorted, at most MaxNetworks
	Platforms   []string // distinct platforms, sorted, at most MaxPlatforms
	AppVersions []string // distinct app versions the SDK sent, sorted, at most MaxAppVersions
}

// RefusalEvent is a kept refusal (licensing.Refusal, with its network in
// place of the address).
type RefusalEvent struct {
	ID          string
	At          time.Time
	Kind        licensing.UseKind
	Code        licensing.Code
	LicenseID   string
	MachineID   string
	Fingerprint string
	Network     string
}

// Store is the data of the insights concern. Errors as licensing's stores
// (EUnavailable, EInternal). Safe for concurrent use.
type Store interface {
	// AddDays adds each day's counts to the stored row of the same day,
	// license and machine (creating it) and merges its sets into the
	// stored ones, bounded as the constants say, in one statement. The
	// caller gives each (day, license, machine) at most once per call,
	// and a use in one row only (see Day).
	AddDays(ctx context.Context, days []Day) error
	// AddRefusals stores the events in one statement; an event whose ID
	// is stored already is skipped (a batch retried after a write whose
	// outcome was lost), so each is kept once. Roll-ups have no such key:
	// a retried batch whose first write did land counts twice, which only
	// a lost connection between commit and answer can cause.
	AddRefusals(ctx context.Context, events []RefusalEvent) error
	// Days lists the roll-ups of a license with from <= day <= to
	// (YYYY-MM-DD) as LicenseDays shapes them (its machines' rows and its
	// own total per day), by day then machine.
	Days(ctx context.Context, licenseID, from, to string) ([]Day, error)
	// Refusals lists the refusals of a license with from <= At < to, oldest
	// first.
	Refusals(ctx context.Context, licenseID string, from, to time.Time) ([]RefusalEvent, error)
	// DeleteBefore deletes the roll-ups of days before the day of cutoff
	// and the refusals before cutoff; it returns how many rows went.
	DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// Network is the /24 (IPv4, IPv4-mapped IPv6) or /48 (IPv6) network of
// ip, "" when ip is not an address. Only networks are kept: they tell
// apart places of use without keeping who the user is.
func Network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// addToSet adds v to the sorted set s, keeping at most max values (the
// smallest).
func addToSet(s []string, v string, max int) []string {
	if v == "" {
		return s
	}
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	if len(s) >= max && i >= len(s) {
		return s
	}
	s = slices.Insert(s, i, v)
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// LicenseDays turns stored rows (see Day) into what the engine reads:
// the machine rows as they are and, for each license and day that has
// any row, one license row (MachineID "") that merges them all, the
// machine-less uses included. Rows come out by license, day, then
// machine (the license row first); the input is not changed.
func LicenseDays(stored []Day) []Day {
	type key struct{ license, day string }
	totals := map[key]*Day{}
	var out []Day
	for _, d := range stored {
		k := key{d.LicenseID, d.Day}
		t, ok := totals[k]
		if !ok {
			t = &Day{Day: d.Day, LicenseID: d.LicenseID}
			totals[k] = t
		}
		t.merge(&d)
		if d.MachineID != "" {
			out = append(out, d)
		}
	}
	for _, t := range totals {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Day) int {
		return cmp.Or(strings.Compare(a.LicenseID, b.LicenseID), strings.Compare(a.Day, b.Day), strings.Compare(a.MachineID, b.MachineID))
	})
	return out
}

// merge adds b's counts and sets to a (same day, license and machine).
func (a *Day) merge(b *Day) {
	a.Activations += b.Activations
	a.Renewals += b.Renewals
	a.Heartbeats += b.Heartbeats
	a.Validations += b.Validations
	for _, n := range b.Networks {
		a.Networks = addToSet(a.Networks, n, MaxNetworks)
	}
	for _, p := range b.Platforms {
		a.Platforms = addToSet(a.Platforms, p, MaxPlatforms)
	}
	for _, v := range b.AppVersions {
		a.AppVersions = addToSet(a.AppVersions, v, MaxAppVersions)
	}
}
