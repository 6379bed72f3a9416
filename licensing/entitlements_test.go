package licensing_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// wantField checks err is an invalid input naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *licensing.Error
	if !errors.As(err, &e) || e.Code != licensing.EInvalid || e.Field != field {
		t.Fatalf("error = %v, want invalid naming %q", err, field)
	}
}

// Entitlements attached, detached and retired after issue reach the next
// lease, and the audit log names each change.
func TestEntitlementsAfterIssue(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 2, Floating: true, Entitlements: []string{"sync"}})
			lic := f.license(t, licensing.LicenseInput{})
			lease := func() []string {
				t.Helper()
				g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1"))
				if err != nil {
					t.Fatal(err)
				}
				return claimsOf(t, g, f.pub).Entitlements
			}
			if got := lease(); !slices.Equal(got, []string{"sync"}) {
				t.Fatalf("first lease: %v", got)
			}
			l, err := f.svc.Licenses.ChangeEntitlements(ctx, lic.ID, licensing.EntitlementChange{Attach: []string{"export", "beta"}, Reason: "upsell"})
			if err != nil || !slices.Equal(l.Entitlements, []string{"beta", "export"}) {
				t.Fatalf("attach to license: %+v %v", l, err)
			}
			if got := lease(); !slices.Equal(got, []string{"beta", "export", "sync"}) {
				t.Fatalf("lease after attach: %v", got)
			}
			if _, err := f.svc.Licenses.ChangeEntitlements(ctx, lic.ID, licensing.EntitlementChange{Detach: []string{"beta"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Catalog.ChangePolicyEntitlements(ctx, f.policy.ID, licensing.EntitlementChange{Attach: []string{"beta"}, Detach: []string{"sync"}}); err != nil {
				t.Fatal(err)
			}
			if got := lease(); !slices.Equal(got, []string{"beta", "export"}) {
				t.Fatalf("lease after license detach and policy change: %v", got)
			}
			// Retire export: granted by the license, it goes from the
			// license and from the next lease; it stays, retired.
			e := entitlementByCode(t, f, "export")
			ret, err := f.svc.Catalog.RetireEntitlement(ctx, e.ID, "end of line")
			if err != nil || ret.RetiredAt == nil {
				t.Fatalf("retire: %+v %v", ret, err)
			}
			if again, err := f.svc.Catalog.RetireEntitlement(ctx, e.ID, ""); err != nil || !again.RetiredAt.Equal(*ret.RetiredAt) {
				t.Fatalf("retire twice: %+v %v", again, err)
			}
			if got := lease(); !slices.Equal(got, []string{"beta"}) {
				t.Fatalf("lease after retire: %v", got)
			}
			if got, err := f.svc.Catalog.Entitlement(ctx, e.ID); err != nil || got.RetiredAt == nil {
				t.Fatalf("retired entitlement read back: %+v %v", got, err)
			}
			_, err = f.svc.Licenses.ChangeEntitlements(ctx, lic.ID, licensing.EntitlementChange{Attach: []string{"export"}})
			wantField(t, err, "attach")
			_, err = f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{Entitlements: &[]string{"export"}})
			wantField(t, err, "entitlements")

			evs, err := f.store.ListEvents(ctx, licensing.EventFilter{}, licensing.Page{Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, ev := range evs {
				switch ev.Action {
				case licensing.ActionLicenseEntitlements, licensing.ActionPolicyEntitlements, licensing.ActionEntitlementRetired:
					actions = append(actions, ev.Action+" "+string(ev.After))
				}
			}
			if len(actions) != 4 {
				t.Fatalf("events: %v", actions)
			}
			for i, want := range []string{`"attached":["beta","export"]`, `"detached":["beta"]`, `"detached":["sync"]`, `"licenses":["` + lic.ID + `"]`} {
				if !strings.Contains(actions[i], want) {
					t.Errorf("event %d = %s, want %s", i, actions[i], want)
				}
			}
		})
	}
}

func entitlementByCode(t *testing.T, f *fixture, code string) *licensing.Entitlement {
	t.Helper()
	es, err := f.svc.Catalog.Entitlements(context.Background(), licensing.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		if es[i].Code == code {
			return &es[i]
		}
	}
	t.Fatalf("no entitlement %q", code)
	return nil
}

// The checks of a change, each refused before anything is written.
func TestEntitlementChangeInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite", licensing.PolicyInput{Entitlements: []string{"sync"}})
	lic := f.license(t, licensing.LicenseInput{Entitlements: []string{"beta"}})
	ctx := context.Background()
	many := make([]string, 2000)
	for i := range many {
		many[i] = "x"
	}
	for _, c := range []struct {
		name  string
		in    licensing.EntitlementChange
		field string
	}{
		{"nothing", licensing.EntitlementChange{}, "attach"},
		{"unknown", licensing.EntitlementChange{Attach: []string{"nope"}}, "attach"},
		{"bad code", licensing.EntitlementChange{Attach: []string{"NO SPACES"}}, "attach"},
		{"too many", licensing.EntitlementChange{Attach: many}, "attach"},
		{"detach the policy's", licensing.EntitlementChange{Detach: []string{"sync"}}, "detach"},
		{"both", licensing.EntitlementChange{Attach: []string{"beta"}, Detach: []string{"beta"}}, "detach"},
		{"long reason", licensing.EntitlementChange{Attach: []string{"export"}, Reason: strings.Repeat("r", 501)}, "reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.Licenses.ChangeEntitlements(ctx, lic.ID, c.in)
			wantField(t, err, c.field)
			got, err := f.svc.Licenses.License(ctx, lic.ID)
			if err != nil || !slices.Equal(got.Entitlements, []string{"beta"}) {
				t.Fatalf("license changed: %+v %v", got, err)
			}
		})
	}
}
