package licensing_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func claimsOf(t *testing.T, g *licensing.Grant, pub ed25519.PublicKey) verifier.LeaseClaims {
	t.Helper()
	obj, err := jose.ParseSigned(g.Lease, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		t.Fatal(err)
	}
	var c verifier.LeaseClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var start = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

type fixture struct {
	svc    *licensing.Services
	store  *storage.Store
	clock  *licensingtest.Clock
	pub    ed25519.PublicKey
	policy *licensing.Policy
	cust   *licensing.Customer
}

func newFixture(t *testing.T, dialect string, pol licensing.PolicyInput) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storagetest.Open(t, dialect)
	clk := licensingtest.NewClock(start)
	kr, pub := keystest.Keyring(t, clk.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clk.Now, Issuer: "narcidi-test"})
	prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"export", "sync", "beta"} {
		if _, err := svc.Catalog.CreateEntitlement(ctx, licensing.EntitlementInput{Code: code, Name: code}); err != nil {
			t.Fatal(err)
		}
	}
	pol.ProductID = prod.ID
	if pol.Name == "" {
		pol.Name = "Plan"
	}
	p, err := svc.Catalog.CreatePolicy(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "ops@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: st, clock: clk, pub: pub, policy: p, cust: c}
}

func (f *fixture) license(t *testing.T, in licensing.LicenseInput) *licensing.CreatedLicense {
	t.Helper()
	in.PolicyID, in.CustomerID = f.policy.ID, f.cust.ID
	l, err := f.svc.Licenses.CreateLicense(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func req(key, fp string) licensing.MachineRequest {
	return licensing.MachineRequest{Key: key, Fingerprint: fp, Hostname: "host", Platform: "linux/amd64", IP: "192.0.2.1"}
}

func wantCode(t *testing.T, err error, code licensing.Code) {
	t.Helper()
	if got := licensing.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 2, Floating: true, LeaseTTLSeconds: 3600,
				DurationSeconds: 30 * 86400, Entitlements: []string{"sync", "export"}})
			lic := f.license(t, licensing.LicenseInput{Entitlements: []string{"beta", "export"}})

			g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
			if err != nil {
				t.Fatal(err)
			}
			if !g.Created {
				t.Error("first activation should take a new seat")
			}
			c := claimsOf(t, g, f.pub)
			want := verifier.LeaseClaims{
				Issuer: "narcidi-test", Subject: g.Machine.ID, Audience: f.policy.ProductID, ID: c.ID,
				IssuedAt: start.Unix(), NotBefore: start.Unix(), Expiry: start.Add(time.Hour).Unix(),
				License: lic.ID, Policy: f.policy.ID, Customer: f.cust.ID, Machine: g.Machine.ID,
				Fingerprint: "fingerprint-a", Entitlements: []string{"beta", "export", "sync"},
				LicenseExpiry: start.Add(30 * 24 * time.Hour).Unix(),
			}
			if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
				t.Errorf("claims\n got %+v\nwant %+v", c, want)
			}

			// Activating the same fingerprint again re-uses the seat.
			g2, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
			if err != nil {
				t.Fatal(err)
			}
			if g2.Created || g2.Machine.ID != g.Machine.ID {
				t.Errorf("re-activation: created=%v machine %s vs %s", g2.Created, g2.Machine.ID, g.Machine.ID)
			}

			f.clock.Add(30 * time.Minute)
			r, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
			if err != nil {
				t.Fatal(err)
			}
			if !r.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
				t.Errorf("renewed lease ends %v", r.ExpiresAt)
			}
			_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-zz"))
			wantCode(t, err, licensing.ENotActivated)

			if _, _, err := f.svc.Leasing.Heartbeat(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatal(err)
			}

			// Suspension stops renewal, activation and heartbeats; reinstating restores them.
			if _, err := f.svc.Licenses.SuspendLicense(ctx, lic.ID, "unpaid invoice"); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
			wantCode(t, err, licensing.ELicenseSuspended)
			_, err = f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-b"))
			wantCode(t, err, licensing.ELicenseSuspended)
			v, err := f.svc.Leasing.Validate(ctx, lic.Key, "fingerprint-a")
			if err != nil || v.Valid || v.Code != verifier.ValidationSuspended {
				t.Errorf("validate suspended = %+v, %v", v, err)
			}
			_, err = f.svc.Licenses.SuspendLicense(ctx, lic.ID, "twice")
			wantCode(t, err, licensing.EConflict)
			if _, err := f.svc.Licenses.ReinstateLicense(ctx, lic.ID, "paid"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatal(err)
			}

			// Seat limit, then deactivation frees a seat.
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-b")); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-c"))
			wantCode(t, err, licensing.ESeatLimit)
			if err := f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-b")); err != nil {
				t.Fatal(err)
			}
			wantCode(t, f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-b")), licensing.ENotActivated)
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-c")); err != nil {
				t.Fatal(err)
			}

			v, err = f.svc.Leasing.Validate(ctx, lic.Key, "fingerprint-c")
			if err != nil || !v.Valid || v.Code != verifier.ValidationValid {
				t.Errorf("validate = %+v, %v", v, err)
			}
			v, err = f.svc.Leasing.Validate(ctx, lic.Key, "fingerprint-b")
			if err != nil || v.Valid || v.Code != verifier.ValidationNotActivated {
				t.Errorf("validate deactivated = %+v, %v", v, err)
			}
			v, err = f.svc.Leasing.Validate(ctx, "NZL-NOT-A-KEY-AT-ALL", "")
			if err != nil || v.Valid || v.Code != verifier.ValidationNotFound {
				t.Errorf("validate unknown = %+v, %v", v, err)
			}

			// Past its expiry the license gets no lease.
			f.clock.Set(start.Add(31 * 24 * time.Hour))
			_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
			wantCode(t, err, licensing.ELicenseExpired)
			v, _ = f.svc.Leasing.Validate(ctx, lic.Key, "")
			if v.Code != verifier.ValidationExpired {
				t.Errorf("validate expired = %+v", v)
			}
		})
	}
}

func TestLeaseNeverOutlivesLicense(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", licensing.PolicyInput{LeaseTTLSeconds: 7 * 86400, GraceSeconds: 3600})
	end := start.Add(48 * time.Hour)
	lic := f.license(t, licensing.LicenseInput{ExpiresAt: &end})
	g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
	if err != nil {
		t.Fatal(err)
	}
	if want := end.Add(time.Hour); !g.ExpiresAt.Equal(want) {
		t.Errorf("lease ends %v, want license end + grace %v", g.ExpiresAt, want)
	}
	// Within grace: still renewable. After it: expired.
	f.clock.Set(end.Add(30 * time.Minute))
	if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a")); err != nil {
		t.Fatalf("renew in grace period: %v", err)
	}
	f.clock.Set(end.Add(61 * time.Minute))
	_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
	wantCode(t, err, licensing.ELicenseExpired)
}

func TestExpiryAllowKeepsLeasing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", licensing.PolicyInput{ExpiryAction: licensing.ExpiryAllow})
	end := start.Add(time.Hour)
	lic := f.license(t, licensing.LicenseInput{ExpiresAt: &end})
	f.clock.Set(end.Add(24 * time.Hour))
	g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, g, f.pub); c.LicenseExpiry != end.Unix() {
		t.Errorf("license_expiry = %d, want %d", c.LicenseExpiry, end.Unix())
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", licensing.PolicyInput{})
	pid := f.policy.ProductID
	cases := []struct {
		name string
		err  func() error
		code licensing.Code
	}{
		{"product code", func() error {
			_, err := f.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "Bad Code", Name: "x"})
			return err
		}, licensing.EInvalid},
		{"product name", func() error {
			_, err := f.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "ok"})
			return err
		}, licensing.EInvalid},
		{"duplicate product", func() error {
			_, err := f.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "x"})
			return err
		}, licensing.EConflict},
		{"node-locked with seats", func() error {
			_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: pid, Name: "x", MaxMachines: 3})
			return err
		}, licensing.EInvalid},
		{"lease ttl too short", func() error {
			_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: pid, Name: "x", LeaseTTLSeconds: 10})
			return err
		}, licensing.EInvalid},
		{"expiry action", func() error {
			_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: pid, Name: "x", ExpiryAction: "explode"})
			return err
		}, licensing.EInvalid},
		{"bad entitlement", func() error {
			_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: pid, Name: "x", Entitlements: []string{"NO SPACES"}})
			return err
		}, licensing.EInvalid},
		{"policy of unknown product", func() error {
			_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: "0190a8e8-0000-7000-8000-000000000000", Name: "x"})
			return err
		}, licensing.ENotFound},
		{"customer email", func() error {
			_, err := f.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "x", Email: "not an email"})
			return err
		}, licensing.EInvalid},
		{"short supplied key", func() error {
			_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.cust.ID, Key: "short"})
			return err
		}, licensing.EInvalid},
		{"license of unknown customer", func() error {
			_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: "nope"})
			return err
		}, licensing.ENotFound},
		{"activate without fingerprint", func() error { _, err := f.svc.Leasing.Activate(ctx, req("NZL-SOME-KEY-0000000", "")); return err }, licensing.EInvalid},
		{"activate unknown key", func() error {
			_, err := f.svc.Leasing.Activate(ctx, req("NZL-SOME-KEY-0000000", "fingerprint-a"))
			return err
		}, licensing.ENotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err(), tc.code) })
	}
	// Nothing above was written.
	ps, _ := f.store.ListProducts(ctx, licensing.Page{})
	pols, _ := f.store.ListPolicies(ctx, licensing.PolicyFilter{}, licensing.Page{})
	ls, _ := f.store.ListLicenses(ctx, licensing.LicenseFilter{}, licensing.Page{})
	if len(ps) != 1 || len(pols) != 1 || len(ls) != 0 {
		t.Errorf("refused input left rows: %d products, %d policies, %d licenses", len(ps), len(pols), len(ls))
	}
}

func TestSuppliedKeyIsHashedAtRest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite", licensing.PolicyInput{})
	key := "CUSTOM-KEY-0123456789"
	f.license(t, licensing.LicenseInput{Key: key})
	var n int64
	if err := f.store.DB().Raw("SELECT count(*) FROM licenses WHERE key_hash = ? OR key_hint = ?", key, key).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the clear key is stored")
	}
	if _, err := f.svc.Leasing.Activate(context.Background(), req(key, "fingerprint-a")); err != nil {
		t.Fatal(err)
	}
}

// The seat limit holds when many machines activate at once: 50 distinct
// fingerprints on a 5-seat license leave exactly 5 machines.
func TestConcurrentActivationsRespectSeatLimit(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 5, Floating: true})
			lic := f.license(t, licensing.LicenseInput{})
			var ok, full atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprintf("fingerprint-%03d", i)))
					switch licensing.ErrorCode(err) {
					case "":
						ok.Add(1)
					case licensing.ESeatLimit:
						full.Add(1)
					default:
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("unexpected error: %v", err)
			}
			n, err := f.store.CountMachines(ctx, lic.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ok.Load() != 5 || full.Load() != 45 || n != 5 {
				t.Errorf("succeeded %d, seat-limit %d, machines %d; want 5, 45, 5", ok.Load(), full.Load(), n)
			}
		})
	}
}
