package licensing

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Tx is the transaction contract every narrow store of this package offers:
// InTx runs fn in one database transaction and hands it the same store bound
// to that transaction (R is the store's own interface). fn's error rolls the
// transaction back and is returned; nil commits. Inside fn callers use only
// tx, never the outer store (on SQLite, with one connection, that would
// deadlock). Transactions do not nest. Implementations are safe for
// concurrent use; a tx value is not (it belongs to the one fn call).
type Tx[R any] interface {
	InTx(ctx context.Context, fn func(tx R) error) error
}

// EventAppender is the outbox every store that records changes offers:
// AppendEvent writes e (giving it an id) to the audit log and queues it for
// the relay, in the caller's transaction. Errors: EUnavailable, EInternal.
type EventAppender interface {
	AppendEvent(ctx context.Context, e *Event) error
}

// core is what every service shares: the clock.
type core struct {
	now Clock
}

func newCore(clock Clock) core {
	if clock == nil {
		clock = time.Now
	}
	return core{now: clock}
}

// clock is the time of a change, as the databases store it (UTC, µs).
func (c core) clock() time.Time { return c.now().UTC().Truncate(time.Microsecond) }

// record appends an audit event for a change made in tx.
func (c core) record(ctx context.Context, tx EventAppender, action, targetType, targetID, reason string, before, after any) error {
	a := ActorFrom(ctx)
	e := &Event{
		Time: c.clock(), Action: action, TargetType: targetType, TargetID: targetID,
		Actor: a.Label(), ActorName: a.Name, Reason: reason, RequestID: a.RequestID,
		Before: snapshot(before), After: snapshot(after),
	}
	return tx.AppendEvent(ctx, e)
}

// licenseChanger is what changeLicense needs of a store.
type licenseChanger interface {
	EventAppender
	LockLicense(ctx context.Context, id string) (*License, error)
	UpdateLicense(ctx context.Context, l *License) error
}

// changeLicense is the one path for changes to a license: lock it, check the
// caller may see it, apply change, save, and record the event with before
// and after, all in one transaction.
func changeLicense[R licenseChanger](ctx context.Context, c core, st Tx[R], id, action, reason string, change func(tx R, l *License) error) (*License, error) {
	return changeLicenseAs(ctx, c, st, id, action, reason, func(tx R, l *License) (any, error) { return l, change(tx, l) })
}

// changeLicenseAs is changeLicense whose change also says what the event
// records as after (the license with more beside it, e.g. a suspension's
// message to the customer).
func changeLicenseAs[R licenseChanger](ctx context.Context, c core, st Tx[R], id, action, reason string, change func(tx R, l *License) (any, error)) (*License, error) {
	if len(reason) > 500 {
		return nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	var out *License
	err := st.InTx(ctx, func(tx R) error {
		l, err := tx.LockLicense(ctx, id)
		if err != nil {
			return err
		}
		if err := visible(ctx, l.CustomerID, "license"); err != nil {
			return err
		}
		before := *l
		after, err := change(tx, l)
		if err != nil {
			return err
		}
		l.UpdatedAt = c.clock()
		if err := tx.UpdateLicense(ctx, l); err != nil {
			return err
		}
		out = l
		return c.record(ctx, tx, action, "license", l.ID, reason, &before, after)
	})
	return out, err
}

// machineRemover is what removeMachine needs of a store.
type machineRemover interface {
	EventAppender
	GetMachine(ctx context.Context, id string) (*Machine, error)
	DeleteMachine(ctx context.Context, id string, now time.Time) error
}

// removeMachine deletes a machine (freeing its seat) and records action.
// A machine activated offline keeps its seat until its lease has ended:
// EConflict, saying when.
func removeMachine[R machineRemover](ctx context.Context, c core, st Tx[R], id, action, reason string) error {
	return st.InTx(ctx, func(tx R) error {
		m, err := tx.GetMachine(ctx, id)
		if err != nil {
			return err
		}
		now := c.clock()
		if err := offlineHeld(m, now); err != nil {
			return err
		}
		if err := tx.DeleteMachine(ctx, id, now); ErrorCode(err) == EConflict {
			// Activated offline since the read above.
			if m, gerr := tx.GetMachine(ctx, id); gerr == nil {
				if herr := offlineHeld(m, now); herr != nil {
					return herr
				}
			}
			return err
		} else if err != nil {
			return err
		}
		return c.record(ctx, tx, action, "machine", id, reason, m, nil)
	})
}

// visible hides another customer's data from a customer token (as not found,
// so ids cannot be probed).
func visible(ctx context.Context, customerID, what string) error {
	if a := ActorFrom(ctx); a.Role == RoleCustomer && a.CustomerID != customerID {
		return Errorf(ENotFound, "%s not found", what)
	}
	return nil
}

// NewID is the one id generator: a time-ordered UUID (v7), so ids sort by
// creation and serve as pagination cursors. Stores use it for new rows, the
// domain for ids needed before a row exists (lease ids, webhook ids, object
// keys).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewLicenseKey returns a fresh random license key: 150 bits in five
// groups, e.g. NZL-ABCDEF-GHIJK2-...
func NewLicenseKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	s := keyEncoding.EncodeToString(b)[:30]
	parts := []string{"NZL"}
	for i := 0; i < 30; i += 6 {
		parts = append(parts, s[i:i+6])
	}
	return strings.Join(parts, "-")
}

// NewAPITokenSecret returns a fresh random API token (256 bits).
func NewAPITokenSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "nzt_" + strings.ToLower(keyEncoding.EncodeToString(b))
}

func requireName(name string) error {
	if n := len(strings.TrimSpace(name)); n == 0 || n > 200 {
		return FieldErrorf("name", "name is required (at most 200 characters)")
	}
	return nil
}

// entitlementLister is what checkEntitlements needs of a store.
type entitlementLister interface {
	// MissingEntitlements returns the codes that no entitlement has.
	MissingEntitlements(ctx context.Context, codes []string) ([]string, error)
}

// checkEntitlements normalizes codes and checks that each names an
// existing entitlement.
func checkEntitlements(ctx context.Context, st entitlementLister, in []string) ([]string, error) {
	return checkEntitlementsField(ctx, st, "entitlements", in)
}

// checkEntitlementsField is checkEntitlements whose errors name field.
func checkEntitlementsField(ctx context.Context, st entitlementLister, field string, in []string) ([]string, error) {
	if len(in) > 1000 {
		return nil, FieldErrorf(field, "at most 100 entitlements")
	}
	out := normalizeCodes(in)
	if len(out) > 100 {
		return nil, FieldErrorf(field, "at most 100 entitlements")
	}
	for _, e := range out {
		if !codePattern.MatchString(e) {
			return nil, FieldErrorf(field, "entitlement %q must be lowercase letters, digits, '.', '_' or '-'", truncate(e, 70))
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	missing, err := st.MissingEntitlements(ctx, out)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, FieldErrorf(field, "unknown or retired entitlements %v: create them first (POST /v1/entitlements)", missing)
	}
	return out, nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > 50 {
		return FieldErrorf("metadata", "at most 50 metadata entries")
	}
	for k, v := range m {
		if k == "" || len(k) > 64 || len(v) > 1000 {
			return FieldErrorf("metadata", "metadata keys are 1-64 characters and values at most 1000")
		}
	}
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
