package release_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// TestDownloadsFollowTheUsableCheck: a release credential (license key or
// lease) is refused exactly when licensing.CheckUsable refuses the license,
// a disabled customer included, with the same codes as before the check
// was shared.
func TestDownloadsFollowTheUsableCheck(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storagetest.Open(t, d)
			clk := licensingtest.NewClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
			kr, _ := keystest.Keyring(t, clk.Now)
			svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clk.Now, Issuer: "test"})
			local, err := blob.NewLocal(t.TempDir(), "", bytes.Repeat([]byte{9}, 32), clk.Now)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := release.NewService(release.Config{Store: st.Releases(), Blobs: local, Leasing: svc.Leasing, Catalog: svc.Catalog,
				LeaseKeys:   func() (*verifier.KeySet, error) { return verifier.NewKeySet(kr.PublicKeys()) },
				MetadataKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32)), Clock: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
			if err != nil {
				t.Fatal(err)
			}
			pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: p.ID, Name: "Pro", LeaseTTLSeconds: 3600})
			if err != nil {
				t.Fatal(err)
			}
			newLicense := func(t *testing.T) (*licensing.CreatedLicense, string) {
				t.Helper()
				c, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme"})
				if err != nil {
					t.Fatal(err)
				}
				l, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: c.ID})
				if err != nil {
					t.Fatal(err)
				}
				g, err := svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: l.Key, Fingerprint: "fingerprint-a"})
				if err != nil {
					t.Fatal(err)
				}
				return l, g.Lease
			}
			disable := func(t *testing.T, l *licensing.CreatedLicense) {
				s := licensing.CustomerDisabled
				if _, err := svc.Customers.UpdateCustomer(ctx, l.CustomerID, licensing.CustomerPatch{Status: &s}); err != nil {
					t.Fatal(err)
				}
			}
			suspend := func(t *testing.T, l *licensing.CreatedLicense) {
				if _, err := svc.Licenses.SuspendLicense(ctx, l.ID, "unpaid"); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				name   string
				lease  bool
				fp     string
				change func(*testing.T, *licensing.CreatedLicense)
				code   licensing.Code
			}{
				{"key", false, "", nil, ""},
				{"key and its machine", false, "fingerprint-a", nil, ""},
				{"key and another machine", false, "fingerprint-b", nil, licensing.EForbidden},
				{"key, customer disabled", false, "", disable, licensing.EForbidden},
				{"key, suspended", false, "", suspend, licensing.ELicenseSuspended},
				{"lease", true, "fingerprint-a", nil, ""},
				{"lease, customer disabled", true, "fingerprint-a", disable, licensing.EForbidden},
				{"lease, suspended", true, "fingerprint-a", suspend, licensing.ELicenseSuspended},
			} {
				t.Run(tc.name, func(t *testing.T) {
					l, lease := newLicense(t)
					if tc.change != nil {
						tc.change(t, l)
					}
					c := release.Credential{LicenseKey: l.Key, Fingerprint: tc.fp}
					if tc.lease {
						c = release.Credential{Lease: lease, Fingerprint: tc.fp}
					}
					_, err := rs.Metadata(ctx, c, "stable")
					if got := licensing.ErrorCode(err); got != tc.code {
						t.Errorf("code = %q (%v), want %q", got, err, tc.code)
					}
				})
			}
			_, err = rs.Metadata(ctx, release.Credential{LicenseKey: "NZL-NOPE-NOPE-NOPE"}, "stable")
			if licensing.ErrorCode(err) != licensing.EForbidden {
				t.Errorf("unknown key: %v, want forbidden", err)
			}
		})
	}
}
