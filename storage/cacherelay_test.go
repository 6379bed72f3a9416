package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestCacheRelay, on a real Redis: another instance's change drops the
// policy cache; a broken subscription drops it too (messages may have been
// lost) and the relay comes back when Redis does; this instance's commits
// are published; a closed relay drops nothing.
func TestCacheRelay(t *testing.T) {
	ctx := context.Background()
	s := storagetest.Open(t, "sqlite") // the relay is no SQL: one dialect
	_, pol, _, l := seed(t, s)
	m := &licensing.Machine{LicenseID: l.ID, Fingerprint: "fp-relay-1", Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateMachine(ctx, m))
	cache := storage.NewPolicyCache(s, storage.PolicyCacheConfig{TTL: time.Minute})
	leasing := storage.StoresWith(s, nil, cache).Leasing
	fill := func() {
		t.Helper()
		_, err := leasing.ReadLease(ctx, l.KeyHash, m.Fingerprint)
		must(t, err)
		if cache.Len() != 1 {
			t.Fatalf("the cache holds %d policies after a read, want 1", cache.Len())
		}
	}
	// eventually waits up to d for cond.
	eventually := func(d time.Duration, cond func() bool) bool {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return true
			}
		}
		return cond()
	}
	emptied := func() bool { return cache.Len() == 0 }

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "relaytest-" + hex.EncodeToString(b) + ":" // channels are server-wide: one of its own
	direct := redis.NewClient(&redis.Options{Addr: storagetest.RedisAddr()})
	t.Cleanup(func() { _ = direct.Close() })
	other := func() { must(t, direct.Publish(ctx, prefix+"cache-changes", "policies").Err()) } // another instance's change

	proxy := storagetest.NewProxy(t, storagetest.RedisAddr())
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay, err := storage.StartCacheRelay(ctx, rdb, prefix, cache, log)
	must(t, err)

	fill()
	other()
	if !eventually(5*time.Second, emptied) {
		t.Fatal("another instance's change left the cache as it was")
	}

	fill()
	proxy.Cut()
	if !eventually(5*time.Second, emptied) {
		t.Fatal("a broken subscription left the cache as it was")
	}
	proxy.Restore()
	// Back: a change reaches the relay again (it resubscribes within
	// about a second).
	back := eventually(15*time.Second, func() bool {
		fill()
		other()
		return eventually(300*time.Millisecond, emptied)
	})
	if !back {
		t.Fatal("after Redis came back, changes no longer reach the relay")
	}

	// This instance's commits are published for the others.
	sub := direct.Subscribe(ctx, prefix+"cache-changes")
	t.Cleanup(func() { _ = sub.Close() })
	_, err = sub.Receive(ctx)
	must(t, err)
	storage.PublishChanges(s, direct, prefix, log)
	pol.LeaseTTLSeconds = 120
	must(t, s.UpdatePolicy(ctx, pol))
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(rctx)
	if err != nil || msg.Payload != "policies" {
		t.Fatalf("after UpdatePolicy the channel got %v, %v; want policies", msg, err)
	}

	must(t, relay.Close())
	fill()
	other()
	if eventually(300*time.Millisecond, emptied) {
		t.Error("a closed relay still drops the cache")
	}
	must(t, (*storage.CacheRelay)(nil).Close())
}
