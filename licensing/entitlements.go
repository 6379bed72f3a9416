package licensing

import (
	"context"
	"encoding/json"
	"slices"
)

// EntitlementChange attaches entitlements to, or detaches them from, a
// policy or a license already issued. The next lease of every license
// concerned carries the change.
type EntitlementChange struct {
	Attach []string `json:"attach,omitempty"`
	Detach []string `json:"detach,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// entitlementsChanged is what the audit event of a change records as
// after: the target's fields, and which codes came (attached) and went
// (detached).
func entitlementsChanged(target any, attached, detached []string) map[string]any {
	out := map[string]any{}
	if b, err := json.Marshal(target); err == nil {
		_ = json.Unmarshal(b, &out)
	}
	out["attached"] = nonNilStrings(attached)
	out["detached"] = nonNilStrings(detached)
	return out
}

// plan checks the change and returns the new set of codes from current,
// with what is really attached and detached. A code to detach that current
// does not hold is refused (on a license it may come from the policy: the
// error says where to detach it).
func (in EntitlementChange) plan(ctx context.Context, st entitlementLister, current []string, where string) (next, attached, detached []string, err error) {
	if len(in.Attach) == 0 && len(in.Detach) == 0 {
		return nil, nil, nil, FieldErrorf("attach", "nothing to attach or detach")
	}
	if len(in.Reason) > 500 {
		return nil, nil, nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	att, err := checkEntitlementsField(ctx, st, "attach", in.Attach)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(in.Detach) > 1000 {
		return nil, nil, nil, FieldErrorf("detach", "at most 100 entitlements")
	}
	det := normalizeCodes(in.Detach)
	if len(det) > 100 {
		return nil, nil, nil, FieldErrorf("detach", "at most 100 entitlements")
	}
	for _, c := range det {
		if slices.Contains(att, c) {
			return nil, nil, nil, FieldErrorf("detach", "%q is both attached and detached", truncate(c, 70))
		}
		if !slices.Contains(current, c) {
			return nil, nil, nil, FieldErrorf("detach", "%q is not granted by the %s itself", truncate(c, 70), where)
		}
	}
	for _, c := range att {
		if !slices.Contains(current, c) {
			attached = append(attached, c)
		}
	}
	next = make([]string, 0, len(current)+len(attached))
	for _, c := range current {
		if !slices.Contains(det, c) {
			next = append(next, c)
		}
	}
	next = normalizeCodes(append(next, attached...))
	if len(next) > 100 {
		return nil, nil, nil, FieldErrorf("attach", "at most 100 entitlements")
	}
	return next, attached, det, nil
}

// ChangePolicyEntitlements attaches and detaches entitlements of a policy:
// every license of the policy follows from its next lease. ENotFound,
// EInvalid (an unknown or retired code to attach, one to detach that the
// policy does not grant).
func (s *Catalog) ChangePolicyEntitlements(ctx context.Context, id string, in EntitlementChange) (*Policy, error) {
	var out *Policy
	err := s.store.InTx(ctx, func(tx CatalogStore) error {
		p, err := tx.LockPolicy(ctx, id)
		if err != nil {
			return err
		}
		before := *p
		next, att, det, err := in.plan(ctx, tx, p.Entitlements, "policy")
		if err != nil {
			return err
		}
		p.Entitlements = next
		p.UpdatedAt = s.clock()
		if err := tx.UpdatePolicy(ctx, p); err != nil {
			return err
		}
		out = p
		return s.record(ctx, tx, ActionPolicyEntitlements, "policy", id, in.Reason, &before,
			entitlementsChanged(p, att, det))
	})
	return out, err
}

// ChangeEntitlements attaches and detaches the entitlements a license
// grants on top of its policy's. ENotFound, EInvalid (an unknown or
// retired code to attach, one to detach that only the policy grants).
func (s *Licenses) ChangeEntitlements(ctx context.Context, id string, in EntitlementChange) (*License, error) {
	l, err := changeLicenseAs(ctx, s.core, s.store, id, ActionLicenseEntitlements, in.Reason, func(tx LicensesStore, l *License) (any, error) {
		next, att, det, err := in.plan(ctx, tx, l.Entitlements, "license (detach those of its policy from the policy)")
		if err != nil {
			return nil, err
		}
		l.Entitlements = next
		return entitlementsChanged(l, att, det), nil
	})
	if err != nil {
		return nil, err
	}
	return l, s.withSeats(ctx, []*License{l})
}

// RetiredEntitlement is the audit record of a retirement: the policies
// and licenses that granted the entitlement until then.
type RetiredEntitlement struct {
	*Entitlement
	Policies []string `json:"policies"`
	Licenses []string `json:"licenses"`
}

// RetireEntitlement retires an entitlement: every policy and license that
// grants it stops granting it (their next leases lack it), none may be
// given it again, and the entitlement stays, retired, for the audit log
// and the leases issued before. Retiring twice answers the retired
// entitlement. ENotFound.
func (s *Catalog) RetireEntitlement(ctx context.Context, id, reason string) (*Entitlement, error) {
	if len(reason) > 500 {
		return nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	var out *Entitlement
	err := s.store.InTx(ctx, func(tx CatalogStore) error {
		e, err := tx.LockEntitlement(ctx, id)
		if err != nil {
			return err
		}
		out = e
		if e.RetiredAt != nil {
			return nil
		}
		before := *e
		now := s.clock()
		if err := tx.RetireEntitlement(ctx, id, now); err != nil {
			return err
		}
		e.RetiredAt = &now
		pols, lics, err := tx.StripEntitlement(ctx, e.Code, now)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, ActionEntitlementRetired, "entitlement", id, reason, &before,
			RetiredEntitlement{Entitlement: e, Policies: nonNilStrings(pols), Licenses: nonNilStrings(lics)})
	})
	return out, err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
