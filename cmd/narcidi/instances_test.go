package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Two instances of the server over one PostgreSQL database (as behind a
// load balancer): a suspension made on one is refused by a renewal,
// heartbeat and validation on the other within licensing.UsabilityStaleness
// (the test waits for the bound, then asserts), and last-seen stamps written
// behind by an instance are all in the database once it stops cleanly.
func TestTwoInstancesSeeSuspensionAndKeepStamps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{
		"NARCIDI_DATABASE_URL": storagetest.MigratedPostgresURL(t),
		"NARCIDI_MASTER_KEY":   "bWFzdGVyLWtleS1zZWNyZXQtdmFsdWUtMzItYnl0ZXM=",
	}
	a, b := startAppWith(t, env), startAppWith(t, env)
	admin := apiClient{t, a.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	sdkA, sdkB := &verifier.Client{BaseURL: a.URL()}, &verifier.Client{BaseURL: b.URL()}
	req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: verifier.FingerprintFrom("studio", "instances-1"), Hostname: "pc-1"}
	act, err := sdkA.Activate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}

	// The renewal on B is written behind; B's clean stop writes it.
	before := time.Now().Truncate(time.Microsecond) // after the activation stamped the machine
	if _, err := sdkB.Renew(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var m licensing.Machine
	if status, body := admin.call("GET", "/v1/machines/"+act.MachineID, nil, &m); status != http.StatusOK {
		t.Fatalf("machine = %d %s", status, body)
	}
	if m.LastLeaseAt == nil || m.LastLeaseAt.Before(before) {
		t.Fatalf("after B stopped, last lease %v; want B's renewal (≥ %v)", m.LastLeaseAt, before)
	}
	b = startAppWith(t, env)
	sdkB = &verifier.Client{BaseURL: b.URL()}
	for _, c := range []*verifier.Client{sdkA, sdkB} {
		if _, err := c.Renew(ctx, req); err != nil {
			t.Fatal(err)
		}
	}

	check := func(what, want string) {
		t.Helper()
		time.Sleep(licensing.UsabilityStaleness)
		for name, c := range map[string]*verifier.Client{"A": sdkA, "B": sdkB} {
			if _, err := c.Renew(ctx, req); apiCode(err) != want {
				t.Errorf("%s: renew on %s: %v, want %s", what, name, err, want)
			}
			if _, err := c.Heartbeat(ctx, req); apiCode(err) != want {
				t.Errorf("%s: heartbeat on %s: %v, want %s", what, name, err, want)
			}
		}
	}
	if status, body := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", map[string]string{"reason": "unpaid"}, nil); status != http.StatusOK {
		t.Fatalf("suspend = %d %s", status, body)
	}
	check("suspended on A", "license_suspended")
	v, err := sdkB.Validate(ctx, req)
	if err != nil || v.Valid || v.Code != verifier.ValidationSuspended {
		t.Fatalf("validate on B while suspended: %+v, %v", v, err)
	}
	// Reinstated on B: both renew again at once.
	adminB := apiClient{t, b.URL(), adminToken}
	if status, body := adminB.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/reinstate", map[string]string{"reason": "paid"}, nil); status != http.StatusOK {
		t.Fatalf("reinstate = %d %s", status, body)
	}
	check("reinstated on B", "<nil>")
}
