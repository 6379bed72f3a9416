package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// A renewal whose stamp is still held by the batcher when the offline scan
// runs must not make the scan mark its machine offline: the scan allows
// licensing.LastSeenMargin (it cannot see another instance's batch). Once
// written, the stamp counts; a machine silent past window and margin is
// still caught.
func TestOfflineScanWithPendingStamps(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		start := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		clk := &testClock{now: start}
		// Held until Close: the stamp is pending for the whole scan.
		b := storage.NewLastSeenBatcherUnbounded(st, storage.LastSeenConfig{MaxDelay: time.Hour})
		defer b.Close(ctx)
		svc := licensing.NewServices(storage.StoresWithLastSeen(st, b), licensing.Deps{Signer: unsigned{}, Clock: clk.Now, Issuer: "t"})
		prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
		must(t, err)
		pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Plan", HeartbeatWindowSeconds: 60, LeaseTTLSeconds: 3600})
		must(t, err)
		cus, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "ops@acme.test"})
		must(t, err)
		lic, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: cus.ID})
		must(t, err)
		req := licensing.MachineRequest{Key: lic.Key, Fingerprint: "fingerprint-a", IP: "192.0.2.1"}
		g, err := svc.Leasing.Activate(ctx, req) // written at once, in its transaction
		must(t, err)

		clk.add(59 * time.Second)
		_, err = svc.Leasing.Renew(ctx, req)
		must(t, err)
		renewed := clk.Now()
		// The written stamp is now 61 s old, past the 60 s window.
		clk.add(2 * time.Second)
		res, err := svc.Automation.ScanOffline(ctx)
		must(t, err)
		if b.Pending() != 1 {
			t.Fatalf("the renewal's stamp is not pending (%d): the test proves nothing", b.Pending())
		}
		if res.Offline != 0 {
			t.Fatalf("the scan marked %d machine offline while its renewal's stamp was pending", res.Offline)
		}
		must(t, b.Flush(ctx))
		m, err := st.GetMachine(ctx, g.Machine.ID)
		must(t, err)
		if m.Status != licensing.MachineActive || !m.LastHeartbeat.Equal(renewed) || !m.LastLeaseAt.Equal(renewed) {
			t.Fatalf("machine = %s, heartbeat %v, lease %v; want active at %v", m.Status, m.LastHeartbeat, m.LastLeaseAt, renewed)
		}
		// Silent past the window and the margin: caught.
		clk.set(renewed.Add(61*time.Second + licensing.LastSeenMargin))
		res, err = svc.Automation.ScanOffline(ctx)
		must(t, err)
		if res.Offline != 1 {
			t.Fatalf("silent past window and margin: %+v, want one machine offline", res)
		}
	})
}

// testClock is the scan's clock (storage tests cannot import the keys adapter
// through licensingtest).
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time      { return c.now }
func (c *testClock) add(d time.Duration) { c.now = c.now.Add(d) }
func (c *testClock) set(t time.Time)     { c.now = t }

// unsigned stands in for the keys adapter: the lease's signature is not
// what this test is about.
type unsigned struct{}

func (unsigned) SignLease(context.Context, verifier.LeaseClaims) (string, error) {
	return "unsigned", nil
}
