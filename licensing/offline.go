package licensing

import (
	"context"
	"strconv"
	"time"
)

// OfflineTTLMetadata is the policy metadata key that caps the lease TTL of an
// air-gapped activation, in seconds. Without it the cap is MaxLeaseTTL.
const OfflineTTLMetadata = "offline_max_lease_ttl_seconds"

// OfflineActivation is an air-gapped machine's request, relayed by an admin.
type OfflineActivation struct {
	Request MachineRequest
	Product string        // the product the app asked for: must be the license's
	TTL     time.Duration // wanted lease TTL; 0: the cap
}

// ActivateOffline activates a machine that has no network, for an admin who
// carries its request file (or a customer, through the portal): the seat is
// taken exactly as by Activate, then a lease is signed for longer than the
// policy's online TTL (an air-gapped machine cannot renew), capped by the
// policy (OfflineTTLMetadata; without it MaxLeaseTTL for staff and the
// policy's lease TTL for a customer) and never past the license's end
// (expiry plus grace). The machine keeps its seat until that lease ends
// (Machine.OfflineUntil). EInvalid, ENotFound, ESeatLimit, ELicense*,
// EMachineBlocked, EConflict (the seat was freed while the lease was made).
func (s *Leasing) ActivateOffline(ctx context.Context, in OfflineActivation) (*Grant, error) {
	if in.TTL < 0 {
		return nil, FieldErrorf("ttl_seconds", "ttl must not be negative")
	}
	if err := in.Request.validate(); err != nil {
		return nil, err
	}
	if err := required("product", in.Product); err != nil {
		return nil, err
	}
	// Before taking a seat: a request of another product takes none.
	lic, err := s.secrets.licenseByKey(ctx, s.store, NormalizeKey(in.Request.Key), false)
	if err != nil {
		return nil, licenseKeyNotFound(err)
	}
	// A customer's portal relays only its own licenses' requests (as not
	// found otherwise, like every other read of another customer's data).
	if err := visible(ctx, lic.CustomerID, "license"); err != nil {
		return nil, err
	}
	if in.Product != lic.ProductID {
		return nil, FieldErrorf("product", "the request is for product %q, the license for %q", in.Product, lic.ProductID)
	}
	g, err := s.Activate(ctx, in.Request)
	if err != nil {
		return nil, err
	}
	pol := *g.Policy
	limit := MaxLeaseTTL
	if ActorFrom(ctx).Role == RoleCustomer {
		// A customer relays its own machines' requests: without an offline
		// cap in the plan, its leases last what the plan's leases last.
		limit = pol.LeaseTTL()
	}
	if v, ok := pol.Metadata[OfflineTTLMetadata]; ok {
		// Compared in seconds: n*time.Second overflows past ~292 years.
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && n < int64(MaxLeaseTTL/time.Second) {
			limit = time.Duration(n) * time.Second
		}
	}
	ttl := in.TTL
	if ttl == 0 || ttl > limit {
		ttl = limit
	}
	ttl = max(ttl, pol.LeaseTTL())
	now := s.clock()
	if exp := g.License.ExpiresAt; exp != nil {
		if end := exp.Add(seconds(pol.GraceSeconds)); now.Add(ttl).After(end) {
			ttl = max(end.Sub(now), time.Second)
		}
	}
	pol.LeaseTTLSeconds = int64(ttl / time.Second)
	pol.ExpiryAction = ExpiryRestrict // never past the license's end
	// The seat is held before the lease exists: a "free seat" that wins
	// the race leaves HoldOfflineSeat nothing to hold, and no lease is made.
	until := now.Add(time.Duration(pol.LeaseTTLSeconds) * time.Second)
	if err := s.store.HoldOfflineSeat(ctx, g.Machine.ID, until); ErrorCode(err) == ENotFound {
		return nil, Errorf(EConflict, "the machine's seat was freed while its lease was being made: try again")
	} else if err != nil {
		return nil, err
	}
	g.Machine.OfflineUntil = &until
	meters, err := s.store.ListMeters(ctx, g.License.ID)
	if err != nil {
		return nil, err
	}
	off, err := s.sign(ctx, g.License, &pol, g.Machine, now, g.Overage, meters)
	if err != nil {
		return nil, err
	}
	off.Created, off.Policy = g.Created, g.Policy
	return off, nil
}

// offlineHeld refuses to free the seat of a machine whose offline lease
// runs past now: the machine works without network until then, so freeing
// its seat would let another machine take a second one. The seat frees
// itself when the lease ends (as Cryptlex and LicenseSpring do for offline
// activations).
func offlineHeld(m *Machine, now time.Time) error {
	if m.OfflineUntil != nil && now.Before(*m.OfflineUntil) {
		return Errorf(EConflict, "this machine was activated offline: its seat can be freed once its lease ends, at %s UTC",
			m.OfflineUntil.UTC().Format("2006-01-02 15:04"))
	}
	return nil
}
