package storage

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// DefaultPolicyCacheTTL is the TTL a server uses unless told otherwise
// (NARCIDI_LEASE_CACHE_TTL). Under load one policy serves thousands of
// renewals a second, so even a short TTL reads it once in thousands of
// calls; the TTL is the bound on staleness when an invalidation from
// another instance is lost (or without Redis), and 2 s keeps a policy
// change within the "few seconds" the renewal path allows, with room under
// licensing.MaxPolicyStaleness.
const DefaultPolicyCacheTTL = 2 * time.Second

// PolicyCacheConfig tunes a PolicyCache.
type PolicyCacheConfig struct {
	// TTL is the longest a policy is kept, counted from the moment its
	// read began (so a change committed after that is missed for at most
	// TTL). At most licensing.MaxPolicyStaleness; 0 or less disables the
	// cache (NewPolicyCache answers nil).
	TTL time.Duration
	// MaxEntries bounds the number of policies kept (default 1024): one
	// more evicts the one that expires first.
	MaxEntries int
	// Now is the clock (default time.Now; tests move it).
	Now func() time.Time
}

// PolicyCache keeps the policies that renewals, heartbeats and validations
// read (ReadLease), so their one statement reads the license, the
// customer's status and the machine, and not the policy: a policy is
// shared by many licenses, so it is read once per TTL per instance instead
// of on every call. Licenses, customers and machines are never kept: their
// per-key reuse within a few seconds is nil (a machine renews every few
// hours; the bench cycles 100,000 keys), so a suspension, a disabled
// customer or a blocked machine is still seen by the next call.
//
// A policy is dropped from the cache of this process as soon as a write to
// the policies table is committed through the Store (WatchChanges), and
// from other instances' caches by Invalidate when a relay (Redis) carries
// the change; in any case it is dropped TTL after its read began. Safe for
// concurrent use.
type PolicyCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.RWMutex
	// gen counts invalidations: a read that began before one must not
	// store what it read (it may be the row before the change).
	gen     uint64
	entries map[string]policyEntry
}

type policyEntry struct {
	p       *licensing.Policy
	expires time.Time
}

// NewPolicyCache returns a cache over the policies of s, dropped on every
// committed write to policies through s; nil when cfg.TTL ≤ 0 (a nil
// *PolicyCache is valid: it keeps nothing).
func NewPolicyCache(s *Store, cfg PolicyCacheConfig) *PolicyCache {
	if cfg.TTL <= 0 {
		return nil
	}
	c := newPolicyCache(cfg)
	s.WatchChanges(func(table string) {
		if table == "policies" {
			c.Invalidate()
		}
	})
	return c
}

func newPolicyCache(cfg PolicyCacheConfig) *PolicyCache {
	if cfg.TTL > licensing.MaxPolicyStaleness {
		cfg.TTL = licensing.MaxPolicyStaleness
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &PolicyCache{ttl: cfg.TTL, max: cfg.MaxEntries, now: cfg.Now, entries: map[string]policyEntry{}}
}

// TTL is the cache's bound on staleness (0 for a nil cache).
func (c *PolicyCache) TTL() time.Duration {
	if c == nil {
		return 0
	}
	return c.ttl
}

// Invalidate drops every policy kept, and what reads in flight would store.
func (c *PolicyCache) Invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

// Len is the number of policies kept (expired ones included until they
// are evicted or replaced).
func (c *PolicyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// begin is taken before a read whose result may be stored: its generation
// and the read's start, from which the entry's TTL counts.
func (c *PolicyCache) begin() (uint64, time.Time) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen, c.now()
}

// get answers a copy of the policy id if it is kept and fresh.
func (c *PolicyCache) get(id string) (*licensing.Policy, bool) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	return clonePolicy(e.p), true
}

// put keeps a copy of p, read from a start taken by begin, unless an
// invalidation came since.
func (c *PolicyCache) put(p *licensing.Policy, gen uint64, readAt time.Time) {
	e := policyEntry{p: clonePolicy(p), expires: readAt.Add(c.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.entries[p.ID]; !ok && len(c.entries) >= c.max {
		c.evictLocked()
	}
	c.entries[p.ID] = e
}

// evictLocked drops the entry that expires first (expired ones first of
// all). A linear scan: the cache holds policies, a few hundred at most in
// practice, and this runs only when a new one comes in at the bound.
func (c *PolicyCache) evictLocked() {
	var (
		victim string
		first  time.Time
	)
	for id, e := range c.entries {
		if victim == "" || e.expires.Before(first) {
			victim, first = id, e.expires
		}
	}
	delete(c.entries, victim)
}

// clonePolicy copies p deeply enough that no caller shares a slice or map
// with the cache.
func clonePolicy(p *licensing.Policy) *licensing.Policy {
	cp := *p
	cp.Entitlements = slices.Clone(p.Entitlements)
	cp.ExpiryNoticeDays = slices.Clone(p.ExpiryNoticeDays)
	cp.Metadata = maps.Clone(p.Metadata)
	return &cp
}

// readLease is ReadLease through the cache: the license, customer status
// and machine from the database, the policy from the cache (read by id and
// kept when missing).
func (c *PolicyCache) readLease(ctx context.Context, s *Store, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	v, err := s.readLease(ctx, keyHash, fingerprint, false)
	if err != nil {
		return nil, err
	}
	if p, ok := c.get(v.License.PolicyID); ok {
		v.Policy = p
		return v, nil
	}
	gen, at := c.begin()
	p, err := s.GetPolicy(ctx, v.License.PolicyID)
	if err != nil {
		return nil, err
	}
	c.put(p, gen, at)
	v.Policy = p
	return v, nil
}
