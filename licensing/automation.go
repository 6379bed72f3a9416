package licensing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Events that the background scans record. Like every action they cross
// the wire (webhooks): only ever add.
const (
	ActionLicenseExpiring     = "license.expiring" // a notice N days before expiry (After carries the days)
	ActionLicenseExpired      = "license.expired"
	ActionMachineOffline      = "machine.offline"
	ActionWebhookCreated      = "webhook.created"
	ActionWebhookUpdated      = "webhook.updated"
	ActionWebhookDeleted      = "webhook.deleted"
	ActionWebhookDisabled     = "webhook.disabled"     // turned off after too many failures in a row
	ActionDeliveryRedelivered = "delivery.redelivered" // an admin asked for another try
	// ActionWebhookTest is a test event an admin sends to one endpoint
	// (whatever it subscribes to): it goes only there, never by email.
	ActionWebhookTest = "webhook.test"
)

// DefaultExpiryNoticeDays are the notice offsets of a policy that names none.
var DefaultExpiryNoticeDays = []int{30, 7, 1}

// normalizeNoticeDays checks and sorts notice offsets, largest first.
func normalizeNoticeDays(days []int) ([]int, error) {
	if len(days) > 10 {
		return nil, FieldErrorf("expiry_notice_days", "expiry_notice_days takes at most 10 values")
	}
	out := slices.Clone(days)
	for _, d := range out {
		if d < 1 || d > 365 {
			return nil, FieldErrorf("expiry_notice_days", "expiry_notice_days must be between 1 and 365")
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	slices.Reverse(out)
	if out == nil {
		out = []int{}
	}
	return out, nil
}

func validateOfflineRelease(release, heartbeat int64) error {
	switch {
	case release < 0:
		return FieldErrorf("offline_release_seconds", "offline_release_seconds must not be negative")
	case release > 0 && heartbeat == 0:
		return FieldErrorf("offline_release_seconds", "offline_release_seconds needs a heartbeat window")
	case release > 0 && release <= heartbeat:
		return FieldErrorf("offline_release_seconds", "offline_release_seconds must be longer than heartbeat_window_seconds")
	}
	return nil
}

// AutomationStore is the data the background work needs. The scans return
// only what is due, through an index, and each change is conditional so
// that several workers scanning at once never both act. Every method
// returns ENotFound when a row is missing (or a conditional change no
// longer applies), EConflict when a unique rule is broken, EUnavailable
// when the database cannot be reached, EInternal otherwise. Safe for
// concurrent use.
type AutomationStore interface {
	Tx[AutomationStore]
	EventAppender
	ListPolicies(ctx context.Context, filter PolicyFilter, page Page) ([]Policy, error)
	// LockLicense reads the license and locks its row until the
	// transaction ends (call it inside InTx).
	LockLicense(ctx context.Context, id string) (*License, error)
	// UpdateLicense saves every mutable field of l (not its key).
	UpdateLicense(ctx context.Context, l *License) error

	// DueExpiryNotices lists active licenses of the policy that expire
	// within days of now and have no notice for that offset and expiry yet.
	DueExpiryNotices(ctx context.Context, policyID string, days int, now time.Time, limit int) ([]License, error)
	// LicensesPastGrace lists active licenses of the policy that expired
	// before cutoff (now minus the grace period) and override none of its
	// values (OverriddenLicenses lists the others).
	LicensesPastGrace(ctx context.Context, policyID string, cutoff time.Time, limit int) ([]License, error)
	// OverriddenLicenses lists the licenses that override a value of their
	// policy (License.Overrides not zero), by id after afterID; with
	// expiredBefore not zero, only the active ones that expired before it.
	// The scans judge them one by one against their effective policy.
	OverriddenLicenses(ctx context.Context, expiredBefore time.Time, afterID string, limit int) ([]License, error)
	// ClaimExpiryNotice records that the notice was sent; EConflict if it
	// already was.
	ClaimExpiryNotice(ctx context.Context, licenseID string, days int, expiresAt, now time.Time) error
	// SilentMachines lists machines in status whose last heartbeat is
	// before silentSince: those of the policy's licenses that override
	// none of its values (LicenseID "" in the filter), or those of one
	// license (LicenseID set).
	SilentMachines(ctx context.Context, f SilentFilter, limit int) ([]Machine, error)
	// MarkMachineOffline sets an active machine silent since before
	// silentSince offline; ENotFound if it no longer is.
	MarkMachineOffline(ctx context.Context, id string, silentSince, now time.Time) error
	// ReleaseSilentMachine deletes an offline machine silent since before
	// silentSince, freeing its seat; ENotFound if it no longer is.
	ReleaseSilentMachine(ctx context.Context, id string, silentSince time.Time) error

	// Stats computes the dashboard figures at now with aggregate queries.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	DashboardStore // the overview's other reads (dashboard.go)
	SaveRollup(ctx context.Context, day string, st *Stats) error
	ListRollups(ctx context.Context, sinceDay string) ([]Rollup, error)
	// Cleanup deletes outbox entries relayed before outboxBefore and
	// finished deliveries (with their attempts) updated before
	// deliveriesBefore.
	Cleanup(ctx context.Context, outboxBefore, deliveriesBefore time.Time) (int64, error)
	// PruneEvents hands the audit events older than before to archive, at
	// most limit at a time, oldest first, and deletes each batch once
	// archive has returned; events an undelivered outbox entry or delivery
	// still needs stay. It returns how many it deleted.
	PruneEvents(ctx context.Context, before time.Time, limit int, archive func(context.Context, []Event) error) (int, error)

	// The outbox: every AppendEvent also queues the event for the relay.

	// PendingEvents lists events not yet dispatched whose hand-off to the
	// queue is not recorded or older than staleBefore (the queue may have
	// lost it), oldest first. In a transaction on PostgreSQL the rows are
	// locked and rows locked by another relay are skipped.
	PendingEvents(ctx context.Context, staleBefore time.Time, limit int) ([]Event, error)
	MarkEventsRelayed(ctx context.Context, ids []string, now time.Time) error
	// PendingDeliveries is PendingEvents for deliveries.
	PendingDeliveries(ctx context.Context, staleBefore time.Time, limit int) ([]Delivery, error)
	MarkDeliveriesEnqueued(ctx context.Context, ids []string, now time.Time) error
}

// SilentFilter selects the machines SilentMachines lists: of PolicyID's
// licenses without overrides, or of LicenseID alone when it is set.
type SilentFilter struct {
	PolicyID    string
	LicenseID   string
	Status      MachineStatus
	SilentSince time.Time
}

// Automation is the background work: expiry notices and expiry, offline
// machines, dashboard figures and roll-ups, clean-up, and the outbox relay
// that hands events and deliveries to the queue. Safe for concurrent use.
type Automation struct {
	core
	store AutomationStore
}

// NewAutomation builds the automation service.
func NewAutomation(store AutomationStore, clock Clock) *Automation {
	return &Automation{core: newCore(clock), store: store}
}

// Dashboard computes the dashboard figures.
func (s *Automation) Dashboard(ctx context.Context) (*Stats, error) {
	return s.store.Stats(ctx, s.clock())
}

// RelayEvents hands at most limit pending events (see
// AutomationStore.PendingEvents) to handOver and records, in the same
// transaction, the hand-off of the ids handOver returns (those the queue
// took). If handOver fails nothing is recorded and the next pass tries
// again. It returns how many were handed over.
func (s *Automation) RelayEvents(ctx context.Context, staleBefore time.Time, limit int, handOver func([]Event) ([]string, error)) (int, error) {
	return relay(ctx, s, func(tx AutomationStore) ([]Event, error) { return tx.PendingEvents(ctx, staleBefore, limit) },
		handOver, func(tx AutomationStore, ids []string, now time.Time) error {
			return tx.MarkEventsRelayed(ctx, ids, now)
		})
}

// RelayDeliveries is RelayEvents for pending deliveries.
func (s *Automation) RelayDeliveries(ctx context.Context, staleBefore time.Time, limit int, handOver func([]Delivery) ([]string, error)) (int, error) {
	return relay(ctx, s, func(tx AutomationStore) ([]Delivery, error) { return tx.PendingDeliveries(ctx, staleBefore, limit) },
		handOver, func(tx AutomationStore, ids []string, now time.Time) error {
			return tx.MarkDeliveriesEnqueued(ctx, ids, now)
		})
}

func relay[T any](ctx context.Context, s *Automation, pending func(AutomationStore) ([]T, error), handOver func([]T) ([]string, error),
	mark func(AutomationStore, []string, time.Time) error) (int, error) {
	n := 0
	err := s.store.InTx(ctx, func(tx AutomationStore) error {
		now := s.clock()
		items, err := pending(tx)
		if err != nil || len(items) == 0 {
			return err
		}
		ids, err := handOver(items)
		if err != nil {
			return err
		}
		n = len(ids)
		return mark(tx, ids, now)
	})
	return n, err
}

// ExpiryNotice is what a license.expiring event carries in After.
type ExpiryNotice struct {
	License
	DaysBefore int `json:"days_before"`
}

// ScanResult counts what one scan changed.
type ScanResult struct {
	Notices  int `json:"notices"`
	Expired  int `json:"expired"`
	Offline  int `json:"offline"`
	Released int `json:"released"`
}

// scanBatch bounds one query of a scan; a scan loops until nothing is due.
const scanBatch = 200

// errSkip abandons one item of a scan whose state changed under it (another
// worker got there first, or a heartbeat arrived).
var errSkip = errors.New("skip")

// forEachPolicy calls fn for every policy. Policies are few (plans), so the
// scans go policy by policy and each query uses the index of what is due.
func (s *Automation) forEachPolicy(ctx context.Context, fn func(p *Policy) error) error {
	page := Page{Limit: MaxPageLimit}
	for {
		ps, err := s.store.ListPolicies(ctx, PolicyFilter{}, page)
		if err != nil {
			return err
		}
		for i := range ps {
			if err := fn(&ps[i]); err != nil {
				return err
			}
		}
		if len(ps) < page.Limit {
			return nil
		}
		page.After = ps[len(ps)-1].ID
	}
}

// ScanExpiry sends the expiry notices that are due and expires the licenses
// past their expiry and grace period. Each notice is claimed in the same
// transaction as its event, so with several workers scanning at once every
// notice is recorded exactly once. When several notices of a license are due
// at once (a license created 5 days before its end), only the nearest one is
// sent and the others are marked done.
func (s *Automation) ScanExpiry(ctx context.Context) (ScanResult, error) {
	var res ScanResult
	now := s.clock()
	policies := map[string]*Policy{}
	err := s.forEachPolicy(ctx, func(p *Policy) error {
		policies[p.ID] = p
		for i, days := range p.ExpiryNoticeDays {
			nearer := p.ExpiryNoticeDays[i+1:] // smaller offsets
			for {
				due, err := s.store.DueExpiryNotices(ctx, p.ID, days, now, scanBatch)
				if err != nil {
					return err
				}
				for j := range due {
					sent, err := s.sendNotice(ctx, &due[j], days, nearer, now)
					if err != nil {
						return err
					}
					if sent {
						res.Notices++
					}
				}
				if len(due) < scanBatch {
					break
				}
			}
		}
		for {
			n, more, err := s.expireBatch(ctx, p, now)
			if err != nil {
				return err
			}
			res.Expired += n
			if !more {
				return nil
			}
		}
	})
	if err != nil {
		return res, err
	}
	// Licenses overriding their policy's grace or expiry action, judged
	// one by one: the policy's cutoff above does not apply to them.
	err = s.forEachOverridden(ctx, now, policies, func(l *License, p *Policy) error {
		if !l.PastGrace(p, now) {
			return nil
		}
		ok, err := s.expireOne(ctx, l, p, now)
		if ok {
			res.Expired++
		}
		return err
	})
	return res, err
}

// forEachOverridden calls fn for every license that overrides a value of
// its policy, with that policy as stored (policies, by id: the rules apply
// the overrides), the active ones that expired before expiredBefore unless
// it is zero. A license of a policy created since policies was read waits
// for the next scan.
func (s *Automation) forEachOverridden(ctx context.Context, expiredBefore time.Time, policies map[string]*Policy, fn func(l *License, p *Policy) error) error {
	after := ""
	for {
		ls, err := s.store.OverriddenLicenses(ctx, expiredBefore, after, scanBatch)
		if err != nil {
			return err
		}
		for i := range ls {
			l := &ls[i]
			p, ok := policies[l.PolicyID]
			if !ok {
				continue
			}
			if err := fn(l, p); err != nil {
				return err
			}
		}
		if len(ls) < scanBatch {
			return nil
		}
		after = ls[len(ls)-1].ID
	}
}

func (s *Automation) sendNotice(ctx context.Context, l *License, days int, nearer []int, now time.Time) (bool, error) {
	left := l.ExpiresAt.Sub(now)
	// A nearer offset is also due: this one is passed over silently.
	silent := slices.ContainsFunc(nearer, func(d int) bool { return left <= time.Duration(d)*24*time.Hour })
	err := s.store.InTx(ctx, func(tx AutomationStore) error {
		if err := tx.ClaimExpiryNotice(ctx, l.ID, days, *l.ExpiresAt, now); err != nil {
			return err
		}
		if silent {
			return nil
		}
		return s.record(ctx, tx, ActionLicenseExpiring, "license", l.ID, fmt.Sprintf("expires in %d days or less", days), nil, ExpiryNotice{License: *l, DaysBefore: days})
	})
	if ErrorCode(err) == EConflict {
		return false, nil // another worker sent it
	}
	return err == nil && !silent, err
}

// expireBatch marks expired the active licenses of p past expiry and grace.
func (s *Automation) expireBatch(ctx context.Context, p *Policy, now time.Time) (int, bool, error) {
	cutoff := now.Add(-time.Duration(p.GraceSeconds) * time.Second)
	due, err := s.store.LicensesPastGrace(ctx, p.ID, cutoff, scanBatch)
	if err != nil {
		return 0, false, err
	}
	n := 0
	for i := range due {
		ok, err := s.expireOne(ctx, &due[i], p, now)
		if err != nil {
			return n, false, err
		}
		if ok {
			n++
		}
	}
	return n, len(due) == scanBatch, nil
}

// expireOne marks expired the license l (as listed) of policy p if it
// still is active and past its grace, under the expiry action it follows
// (its override, or p's): a revoking one is revoked instead (it cannot come
// back). False when it no longer is due (another worker got there first,
// or it changed: the next scan judges it again).
func (s *Automation) expireOne(ctx context.Context, l *License, p *Policy, now time.Time) (bool, error) {
	revoke := expiryActionOf(l, p) == ExpiryRevoke
	action, status, reason := ActionLicenseExpired, LicenseExpired, "expired"
	if revoke {
		action, status, reason = ActionLicenseRevoked, LicenseRevoked, "revoked at expiry"
	}
	_, err := changeLicense(ctx, s.core, s.store, l.ID, action, reason, func(tx AutomationStore, cur *License) error {
		if cur.Status != LicenseActive || cur.PolicyID != p.ID || !cur.PastGrace(p, now) || (expiryActionOf(cur, p) == ExpiryRevoke) != revoke {
			return errSkip
		}
		cur.Status, cur.StatusReason = status, reason
		return nil
	})
	if errors.Is(err, errSkip) {
		return false, nil
	}
	return err == nil, err
}

// expiryActionOf is the expiry action l follows under p.
func expiryActionOf(l *License, p *Policy) ExpiryAction {
	eff, _ := l.WithOverrides(p)
	return eff.ExpiryAction
}

// ScanOffline marks offline the active machines that missed their policy's
// heartbeat window and, where the policy says so, frees the seats of those
// silent for longer. Updates are conditional (still active, still silent),
// so a heartbeat racing the scan wins and two workers never both act.
//
// Every silence is judged with LastSeenMargin added: renewals and
// heartbeats are written behind (LastSeenRecorder), and a scan cannot see
// the stamps still held by a recorder, on this process or on another
// instance. A held stamp is at most LastSeenMaxDelay old, so a machine
// whose written stamp is older than the window plus the margin was truly
// silent for longer than its window, held stamp or not.
func (s *Automation) ScanOffline(ctx context.Context) (ScanResult, error) {
	var res ScanResult
	now := s.clock()
	policies := map[string]*Policy{}
	err := s.forEachPolicy(ctx, func(p *Policy) error {
		policies[p.ID] = p
		return s.offlineSweeps(ctx, p, SilentFilter{PolicyID: p.ID}, now, &res)
	})
	if err != nil {
		return res, err
	}
	// The machines of licenses overriding their policy (its heartbeat
	// window) under the windows they follow: the sweeps above leave them.
	err = s.forEachOverridden(ctx, time.Time{}, policies, func(l *License, p *Policy) error {
		eff, _ := l.WithOverrides(p)
		return s.offlineSweeps(ctx, eff, SilentFilter{LicenseID: l.ID}, now, &res)
	})
	return res, err
}

// offlineSweeps marks offline the active machines f selects that missed
// p's heartbeat window, then frees the seats of those offline for longer
// than p's offline release, counting them in res.
func (s *Automation) offlineSweeps(ctx context.Context, p *Policy, f SilentFilter, now time.Time, res *ScanResult) error {
	cutoff := func(silence int64) time.Time {
		return now.Add(-time.Duration(silence)*time.Second - LastSeenMargin)
	}
	if p.HeartbeatWindowSeconds == 0 {
		return nil
	}
	f.Status, f.SilentSince = MachineActive, cutoff(p.HeartbeatWindowSeconds)
	n, err := s.offlineSweep(ctx, f, now)
	res.Offline += n
	if err != nil || p.OfflineReleaseSeconds == 0 {
		return err
	}
	f.Status, f.SilentSince = MachineOffline, cutoff(p.OfflineReleaseSeconds)
	n, err = s.offlineSweep(ctx, f, now)
	res.Released += n
	return err
}

func (s *Automation) offlineSweep(ctx context.Context, f SilentFilter, now time.Time) (int, error) {
	total := 0
	status, silentSince := f.Status, f.SilentSince
	for {
		ms, err := s.store.SilentMachines(ctx, f, scanBatch)
		if err != nil {
			return total, err
		}
		for i := range ms {
			m := &ms[i]
			err := s.store.InTx(ctx, func(tx AutomationStore) error {
				if status == MachineActive {
					if err := tx.MarkMachineOffline(ctx, m.ID, silentSince, now); err != nil {
						return err
					}
					after := *m
					after.Status = MachineOffline
					return s.record(ctx, tx, ActionMachineOffline, "machine", m.ID, "no heartbeat since "+m.LastHeartbeat.Format(time.RFC3339), m, &after)
				}
				if err := tx.ReleaseSilentMachine(ctx, m.ID, silentSince); err != nil {
					return err
				}
				return s.record(ctx, tx, ActionMachineDeactivated, "machine", m.ID, "seat freed: offline since "+m.LastHeartbeat.Format(time.RFC3339), m, nil)
			})
			switch ErrorCode(err) {
			case "":
				total++
			case ENotFound: // a heartbeat or another worker got there first
			default:
				return total, err
			}
		}
		if len(ms) < scanBatch {
			return total, nil
		}
	}
}

// Rollup stores today's dashboard figures (one row per UTC day, replaced
// by each roll-up of the day) for the dashboard's history.
func (s *Automation) Rollup(ctx context.Context) (*Stats, error) {
	now := s.clock()
	st, err := s.store.Stats(ctx, now)
	if err != nil {
		return nil, err
	}
	return st, s.store.SaveRollup(ctx, now.Format(time.DateOnly), st)
}

// DashboardHistory returns the daily roll-ups of the last days days.
func (s *Automation) DashboardHistory(ctx context.Context, days int) ([]Rollup, error) {
	if days < 1 || days > 366 {
		return nil, FieldErrorf("days", "days must be between 1 and 366")
	}
	since := s.clock().AddDate(0, 0, -days+1).Format(time.DateOnly)
	return s.store.ListRollups(ctx, since)
}

// Rollup is the dashboard figures of one UTC day.
type Rollup struct {
	Day   string `json:"day"`
	Stats Stats  `json:"stats"`
}

// Retention says how long the outbox and the delivery log keep what is done.
type Retention struct {
	Outbox     time.Duration
	Deliveries time.Duration
}

// AuditArchive keeps the audit events pruned from the database. Archive
// returns only once they are durably written: they are deleted after.
type AuditArchive interface {
	Archive(ctx context.Context, events []Event) error
}

// pruneBatch is how many audit events one archive-and-delete step takes.
const pruneBatch = 1000

// PruneAudit enforces the audit log's retention: events older than
// retention go to archive, then out of the database. A retention of 0 (or
// no archive) keeps everything. Events are archived at least once: a
// batch archived whose deletion then failed is archived again next time.
func (s *Automation) PruneAudit(ctx context.Context, retention time.Duration, archive AuditArchive) (int, error) {
	if retention <= 0 || archive == nil {
		return 0, nil
	}
	return s.store.PruneEvents(ctx, s.clock().Add(-retention), pruneBatch, archive.Archive)
}

// Cleanup deletes relayed outbox entries and finished deliveries older than
// the retention. The audit log has its own (PruneAudit).
func (s *Automation) Cleanup(ctx context.Context, r Retention) (int64, error) {
	now := s.clock()
	return s.store.Cleanup(ctx, now.Add(-r.Outbox), now.Add(-r.Deliveries))
}
