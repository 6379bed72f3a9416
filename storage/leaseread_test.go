package storage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// oldLeaseReads is what Renew read before ReadLease: four statements.
func oldLeaseReads(ctx context.Context, s *storage.Store, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	l, err := s.GetLicenseByKeyHash(ctx, keyHash, false)
	if err != nil {
		return nil, err
	}
	p, err := s.GetPolicy(ctx, l.PolicyID)
	if err != nil {
		return nil, err
	}
	c, err := s.GetCustomer(ctx, l.CustomerID)
	if err != nil {
		return nil, err
	}
	v := &licensing.LeaseView{License: l, Policy: p, CustomerStatus: c.Status}
	m, err := s.FindMachine(ctx, l.ID, fingerprint)
	switch licensing.ErrorCode(err) {
	case "":
		v.Machine = m
	case licensing.ENotFound:
	default:
		return nil, err
	}
	return v, nil
}

// ReadLease's one statement answers what the four reads it replaces did,
// on both databases, for every case the domain tells apart.
func TestReadLeaseMatchesTheOldReads(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, pol, c, l := seed(t, s) // l holds a legacy (unkeyed) hash
		// A policy with every optional column filled, for a second license.
		pol2 := &licensing.Policy{ProductID: pol.ProductID, Name: "Full", MaxMachines: 1, LeaseTTLSeconds: 60, HeartbeatWindowSeconds: 600,
			GraceSeconds: 30, ExpiryAction: licensing.ExpiryAllow, Entitlements: []string{"a"}, Metadata: map[string]string{"k": "v"},
			ExpiryNoticeDays: []int{7, 1}, OfflineReleaseSeconds: 1200, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreatePolicy(ctx, pol2))
		disabled := &licensing.Customer{Name: "Gone", Email: "x@gone.test", Status: licensing.CustomerDisabled, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreateCustomer(ctx, disabled))
		mk := func(hash string, p *licensing.Policy, cus *licensing.Customer, st licensing.LicenseStatus, exp *time.Time) *licensing.License {
			x := &licensing.License{KeyHash: hash, KeyHint: "wxyz", ProductID: p.ProductID, PolicyID: p.ID, CustomerID: cus.ID,
				Status: st, StatusReason: string(st), ExpiresAt: exp, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}
			must(t, s.CreateLicense(ctx, x))
			return x
		}
		suspended := mk("hash-suspended", pol, c, licensing.LicenseSuspended, nil)
		ofDisabled := mk("hash-disabled-customer", pol2, disabled, licensing.LicenseActive, nil)
		machine := func(lic *licensing.License, fp string, st licensing.MachineStatus, seen *time.Time) {
			must(t, s.CreateMachine(ctx, &licensing.Machine{LicenseID: lic.ID, Fingerprint: fp, Name: "n", Hostname: "h", Platform: "linux",
				IP: "192.0.2.9", Status: st, StatusReason: "r", LastHeartbeat: seen, LastLeaseAt: seen, CreatedAt: t0, UpdatedAt: t0}))
		}
		seen := t0.Add(30 * time.Second)
		machine(l, "fp-active", licensing.MachineActive, &seen)
		machine(l, "fp-blocked", licensing.MachineBlocked, nil)
		machine(l, "fp-offline", licensing.MachineOffline, &seen)
		machine(suspended, "fp-active", licensing.MachineActive, nil)
		machine(ofDisabled, "fp-active", licensing.MachineActive, &seen)

		for _, c := range []struct {
			name, hash, fp string
			want           func(*licensing.LeaseView) bool
		}{
			{"unknown key", "no-such-hash", "fp-active", nil},
			{"legacy hash, active machine", l.KeyHash, "fp-active", func(v *licensing.LeaseView) bool {
				return v.Machine != nil && v.Machine.Status == licensing.MachineActive && v.License.ExpiresAt != nil
			}},
			{"blocked machine", l.KeyHash, "fp-blocked", func(v *licensing.LeaseView) bool {
				return v.Machine != nil && v.Machine.Status == licensing.MachineBlocked && v.Machine.LastHeartbeat == nil
			}},
			{"offline machine", l.KeyHash, "fp-offline", func(v *licensing.LeaseView) bool {
				return v.Machine != nil && v.Machine.Status == licensing.MachineOffline
			}},
			{"no seat", l.KeyHash, "fp-elsewhere", func(v *licensing.LeaseView) bool { return v.Machine == nil }},
			{"no fingerprint", l.KeyHash, "", func(v *licensing.LeaseView) bool { return v.Machine == nil }},
			{"suspended license", suspended.KeyHash, "fp-active", func(v *licensing.LeaseView) bool {
				return v.License.Status == licensing.LicenseSuspended && v.License.ExpiresAt == nil
			}},
			{"disabled customer", ofDisabled.KeyHash, "fp-active", func(v *licensing.LeaseView) bool {
				return v.CustomerStatus == licensing.CustomerDisabled && len(v.Policy.ExpiryNoticeDays) == 2 && v.Policy.Metadata["k"] == "v"
			}},
			{"another license's machine", suspended.KeyHash, "fp-offline", func(v *licensing.LeaseView) bool { return v.Machine == nil }},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, gerr := s.ReadLease(ctx, c.hash, c.fp)
				want, werr := oldLeaseReads(ctx, s, c.hash, c.fp)
				if licensing.ErrorCode(gerr) != licensing.ErrorCode(werr) {
					t.Fatalf("ReadLease error %v, old reads %v", gerr, werr)
				}
				if c.want == nil {
					if licensing.ErrorCode(gerr) != licensing.ENotFound {
						t.Fatalf("error %v, want ENotFound", gerr)
					}
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("ReadLease:\n license %+v\n policy %+v\n customer %s\n machine %+v\nold reads:\n license %+v\n policy %+v\n customer %s\n machine %+v",
						got.License, got.Policy, got.CustomerStatus, got.Machine, want.License, want.Policy, want.CustomerStatus, want.Machine)
				}
				if !c.want(got) {
					t.Fatalf("unexpected view: %+v %+v %s %+v", got.License, got.Policy, got.CustomerStatus, got.Machine)
				}
			})
		}
		// Inside a transaction it reads the transaction's rows.
		must(t, s.InTx(ctx, func(tx *storage.Store) error {
			l2 := *l
			l2.Status = licensing.LicenseRevoked
			if err := tx.UpdateLicense(ctx, &l2); err != nil {
				return err
			}
			v, err := tx.ReadLease(ctx, l.KeyHash, "fp-active")
			if err != nil {
				return err
			}
			if v.License.Status != licensing.LicenseRevoked {
				t.Errorf("in the transaction: %s", v.License.Status)
			}
			return nil
		}))
	})
}
