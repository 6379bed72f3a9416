package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Issue 23 item 3: a backup taken while the server takes writes, restored
// into a new folder and served, holds every row, key and token it counted;
// its JWKS verifies a lease issued before the backup, and the license
// renews there.
func TestBackupUnderLoadRestoreServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	envA := withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_MASTER_KEY": testMasterKey})
	a, stopA := startStop(t, envA)
	defer stopA()
	admin := apiClient{t, a.URL(), adminToken}
	cat := seedCatalog(t, admin, 5)
	sdk := &verifier.Client{BaseURL: a.URL()}
	fp := "backup-test-machine"
	before, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}

	// The write load: customers created one after another until stopped.
	var stop atomic.Bool
	var created atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if s, _ := admin.call("POST", "/v1/customers", map[string]any{"name": fmt.Sprintf("load %d-%d", w, i), "email": fmt.Sprintf("l%d-%d@load.test", w, i)}, nil); s == 201 {
					created.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	backupDir := filepath.Join(t.TempDir(), "backup")
	out := runOK(t, envA, "backup", backupDir)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if !strings.Contains(out, "REMINDER: the backup does not hold the master key") {
		t.Errorf("no master key reminder: %s", out)
	}
	var m backupManifest
	b, err := os.ReadFile(filepath.Join(backupDir, backupManifestFile))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("manifest: %v %s", err, b)
	}
	t.Logf("backup under load: %d customers created during the run, %d in the backup", created.Load(), m.Counts["customers"])
	if m.Counts["customers"] < 2 || m.Counts["signing_keys"] != 1 || m.Counts["machines"] != 1 || len(m.KIDs) != 1 {
		t.Fatalf("backup counts %v keys %v", m.Counts, m.KIDs)
	}

	// verify-backup with the master key; a wrong one is refused.
	if out := runOK(t, map[string]string{"NARCIDI_MASTER_KEY": testMasterKey}, "verify-backup", backupDir); !strings.Contains(out, "master key matches") || !strings.Contains(out, m.KIDs[0]) {
		t.Errorf("verify-backup: %s", out)
	}
	var o, e strings.Builder
	other := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if code := run(ctx, []string{"verify-backup", backupDir}, func(k string) string { return map[string]string{"NARCIDI_MASTER_KEY": other}[k] }, &o, &e); code == 0 || !strings.Contains(e.String(), "another master key") && !strings.Contains(e.String(), "not the one") {
		t.Errorf("verify-backup with another master key: exit %d %s%s", code, o.String(), e.String())
	}

	// Restore into a new folder, serve.
	envB := withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": filepath.Join(t.TempDir(), "restored"), "NARCIDI_MASTER_KEY": testMasterKey})
	if out := runOK(t, envB, "restore", backupDir); !strings.Contains(out, "verified") {
		t.Fatalf("restore: %s", out)
	}
	bApp, stopB := startStop(t, envB)
	defer stopB()
	counts, err := bApp.store.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range m.Counts {
		if table == "events" || table == "api_tokens" {
			continue // the restored server's own start writes to these
		}
		if counts[table] != n {
			t.Errorf("restored %s: %d rows, the backup counted %d", table, counts[table], n)
		}
	}
	// Every restored customer is one the source has (a consistent copy).
	var src, dst []string
	_ = a.store.DB().Table("customers").Pluck("id", &src).Error
	_ = bApp.store.DB().Table("customers").Pluck("id", &dst).Error
	for _, id := range dst {
		if !slices.Contains(src, id) {
			t.Fatalf("restored customer %s is not in the source", id)
		}
	}
	// The tokens: the admin token of the source works there.
	if s, body := (apiClient{t, bApp.URL(), adminToken}).call("GET", "/v1/licenses/"+cat.licenseID, nil, nil); s != 200 {
		t.Fatalf("the source's admin token on the restore: %d %s", s, body)
	}
	// The keys: the same JWKS, verifying the lease issued before the backup.
	if got, want := jwksKids(t, bApp), jwksKids(t, a); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("restored JWKS %v, source %v", got, want)
	}
	sdkB := &verifier.Client{BaseURL: bApp.URL()}
	ks, err := sdkB.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Keys: ks, Product: cat.productID, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(before.Lease); err != nil {
		t.Fatalf("a lease issued before the backup does not verify with the restored JWKS: %v", err)
	}
	if r, err := sdkB.Renew(ctx, verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp}); err != nil {
		t.Fatalf("renew on the restore: %v", err)
	} else if _, err := v.Verify(r.Lease); err != nil {
		t.Fatalf("the restore's lease: %v", err)
	}
	// A restore never writes over a database.
	if code := run(ctx, []string{"restore", backupDir}, func(k string) string { return envB[k] }, &o, &e); code == 0 {
		t.Fatal("restore over an existing database succeeded")
	}
}
