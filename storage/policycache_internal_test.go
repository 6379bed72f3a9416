package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func testPolicy(id string) *licensing.Policy {
	return &licensing.Policy{ID: id, Name: "P " + id, LeaseTTLSeconds: 3600, Entitlements: []string{"a"},
		Metadata: map[string]string{"k": "v"}, ExpiryNoticeDays: []int{7}}
}

func TestPolicyCacheTTLCountsFromTheReadStart(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	c := newPolicyCache(PolicyCacheConfig{TTL: 2 * time.Second, Now: clk.now})
	gen, at := c.begin()
	clk.advance(300 * time.Millisecond) // the read takes a while
	c.put(testPolicy("p1"), gen, at)
	clk.advance(2*time.Second - 300*time.Millisecond - time.Nanosecond)
	if _, ok := c.get("p1"); !ok {
		t.Fatal("miss 1 ns before the TTL (counted from the read start)")
	}
	clk.advance(time.Nanosecond)
	if p, ok := c.get("p1"); ok {
		t.Fatalf("hit %+v at the TTL after the read start; want a miss", p)
	}
}

func TestPolicyCacheTTLIsCapped(t *testing.T) {
	t.Parallel()
	c := newPolicyCache(PolicyCacheConfig{TTL: time.Hour})
	if c.TTL() != licensing.MaxPolicyStaleness {
		t.Fatalf("TTL = %v, want the cap %v", c.TTL(), licensing.MaxPolicyStaleness)
	}
	if NewPolicyCache(nil, PolicyCacheConfig{}) != nil {
		t.Fatal("TTL 0 must disable the cache (nil)")
	}
	var none *PolicyCache
	none.Invalidate() // a nil cache is valid
	if none.TTL() != 0 {
		t.Fatal("nil cache TTL != 0")
	}
}

func TestPolicyCacheSizeBoundEvictsTheFirstToExpire(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	c := newPolicyCache(PolicyCacheConfig{TTL: 5 * time.Second, MaxEntries: 3, Now: clk.now})
	for i := range 5 {
		gen, at := c.begin()
		c.put(testPolicy(fmt.Sprint("p", i)), gen, at)
		clk.advance(time.Millisecond)
		if c.Len() > 3 {
			t.Fatalf("after %d puts, %d entries > bound 3", i+1, c.Len())
		}
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := c.get(fmt.Sprint("p", i)); ok != want {
			t.Errorf("p%d kept = %v, want %v (the oldest go first)", i, ok, want)
		}
	}
	// Replacing a kept policy at the bound evicts nothing.
	gen, at := c.begin()
	c.put(testPolicy("p4"), gen, at)
	if _, ok := c.get("p2"); !ok || c.Len() != 3 {
		t.Fatalf("replacing p4 evicted another (len %d)", c.Len())
	}
}

func TestPolicyCacheInvalidateDropsEntriesAndReadsInFlight(t *testing.T) {
	t.Parallel()
	c := newPolicyCache(PolicyCacheConfig{TTL: 5 * time.Second})
	gen, at := c.begin()
	c.put(testPolicy("p1"), gen, at)
	inFlight, inFlightAt := c.begin() // a read that began before the change
	c.Invalidate()
	if _, ok := c.get("p1"); ok {
		t.Fatal("p1 kept after Invalidate")
	}
	c.put(testPolicy("p2"), inFlight, inFlightAt)
	if _, ok := c.get("p2"); ok {
		t.Fatal("a read begun before Invalidate was stored: it may hold the row before the change")
	}
	gen, at = c.begin()
	c.put(testPolicy("p2"), gen, at)
	if _, ok := c.get("p2"); !ok {
		t.Fatal("a read begun after Invalidate was not stored")
	}
}

func TestPolicyCacheAnswersCopies(t *testing.T) {
	t.Parallel()
	c := newPolicyCache(PolicyCacheConfig{TTL: 5 * time.Second})
	orig := testPolicy("p1")
	gen, at := c.begin()
	c.put(orig, gen, at)
	orig.Entitlements[0], orig.Metadata["k"] = "changed", "changed" // the caller's copy
	got, _ := c.get("p1")
	got.Entitlements[0], got.Metadata["k"], got.ExpiryNoticeDays[0] = "x", "x", 99
	again, _ := c.get("p1")
	if again.Entitlements[0] != "a" || again.Metadata["k"] != "v" || again.ExpiryNoticeDays[0] != 7 {
		t.Fatalf("the cache shares memory with its callers: %+v", again)
	}
}

// Run with -race: gets, puts and invalidations from many goroutines.
func TestPolicyCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newPolicyCache(PolicyCacheConfig{TTL: time.Second, MaxEntries: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := fmt.Sprint("p", (g+i)%16)
				if p, ok := c.get(id); ok && p.ID != id {
					t.Errorf("get(%s) = %s", id, p.ID)
					return
				}
				gen, at := c.begin()
				c.put(testPolicy(id), gen, at)
				if i%97 == 0 {
					c.Invalidate()
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Fatalf("%d entries > bound 8", c.Len())
	}
}
