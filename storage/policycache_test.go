package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// movingClock is a clock the test moves; safe for concurrent use.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movingClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setPolicyTTLBehindTheStore changes a policy with SQL that gorm never sees
// (as another program would): no callback, so no invalidation.
func setPolicyTTLBehindTheStore(t *testing.T, s *storage.Store, id string, ttl int) {
	t.Helper()
	q := fmt.Sprintf("UPDATE policies SET lease_ttl_seconds = %d WHERE id = '%s'", ttl, id)
	if _, err := s.DB().Statement.ConnPool.ExecContext(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// Through the cache, ReadLease answers what the uncached one does; a policy
// comes from the cache until its TTL (a change behind the Store's back
// shows after it) or until a write through the Store is committed (at
// once, and not before the commit); licenses, customers and machines are
// read every time; the leasing store's transactions never see the cache.
func TestPolicyCacheOnTheStore(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, pol, cus, l := seed(t, s)
		m := &licensing.Machine{LicenseID: l.ID, Fingerprint: "fp-cache-1", Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreateMachine(ctx, m))
		clk := &movingClock{t: time.Now()}
		cache := storage.NewPolicyCache(s, storage.PolicyCacheConfig{TTL: 2 * time.Second, Now: clk.now})
		leasing := storage.StoresWith(s, nil, cache).Leasing
		read := func() *licensing.LeaseView {
			t.Helper()
			v, err := leasing.ReadLease(ctx, l.KeyHash, m.Fingerprint)
			must(t, err)
			return v
		}

		want, err := s.ReadLease(ctx, l.KeyHash, m.Fingerprint)
		must(t, err)
		for i := range 2 { // a miss, then a hit
			if got := read(); !reflect.DeepEqual(got, want) {
				t.Fatalf("read %d through the cache:\n got %+v %+v\nwant %+v %+v", i, got.License, got.Policy, want.License, want.Policy)
			}
		}
		if _, err := leasing.ReadLease(ctx, "no-such-hash", m.Fingerprint); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("unknown key: %v, want not_found", err)
		}

		setPolicyTTLBehindTheStore(t, s, pol.ID, 60)
		if got := read().Policy.LeaseTTLSeconds; got != 3600 {
			t.Fatalf("within the TTL the policy came from the database (%d), not the cache", got)
		}
		err = leasing.InTx(ctx, func(tx licensing.LeasingStore) error {
			v, err := tx.ReadLease(ctx, l.KeyHash, m.Fingerprint)
			if err == nil && v.Policy.LeaseTTLSeconds != 60 {
				t.Errorf("inside a transaction the policy came from the cache (%d)", v.Policy.LeaseTTLSeconds)
			}
			return err
		})
		must(t, err)
		clk.advance(2 * time.Second)
		if got := read().Policy.LeaseTTLSeconds; got != 60 {
			t.Fatalf("after the TTL the policy is still the cached one (%d)", got)
		}

		// A write through the Store drops the cache at once.
		pol.LeaseTTLSeconds = 120
		must(t, s.UpdatePolicy(ctx, pol))
		if got := read().Policy.LeaseTTLSeconds; got != 120 {
			t.Fatalf("after UpdatePolicy: %d, want 120 at once", got)
		}
		// In a transaction: dropped once it has ended, not before (a
		// reader could otherwise keep the row before the commit).
		must(t, s.InTx(ctx, func(tx *storage.Store) error {
			pol.LeaseTTLSeconds = 300
			if err := tx.UpdatePolicy(ctx, pol); err != nil {
				return err
			}
			if cache.Len() != 1 {
				t.Errorf("the cache was dropped before the commit (len %d)", cache.Len())
			}
			return nil
		}))
		if cache.Len() != 0 {
			t.Fatalf("the cache still holds %d policies after the transaction that changed one", cache.Len())
		}
		if got := read().Policy.LeaseTTLSeconds; got != 300 {
			t.Fatalf("after the transaction: %d, want 300", got)
		}

		// Never kept: the license, the customer's status, the machine.
		l.Status = licensing.LicenseSuspended
		must(t, s.UpdateLicense(ctx, l))
		cus.Status = licensing.CustomerDisabled
		must(t, s.UpdateCustomer(ctx, cus))
		must(t, s.SetMachineStatus(ctx, m.ID, licensing.MachineBlocked, "test", false, time.Now()))
		v := read()
		if v.License.Status != licensing.LicenseSuspended || v.CustomerStatus != licensing.CustomerDisabled || v.Machine.Status != licensing.MachineBlocked {
			t.Fatalf("license %s, customer %s, machine %s: a change to them was not seen at once", v.License.Status, v.CustomerStatus, v.Machine.Status)
		}
		must(t, s.DeleteMachine(ctx, m.ID, time.Now()))
		if v := read(); v.Machine != nil {
			t.Fatalf("a deleted machine is still read: %+v", v.Machine)
		}
	})
}
