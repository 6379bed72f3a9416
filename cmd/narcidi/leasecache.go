package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/redis/go-redis/v9"
)

// The policy cache of renewals, heartbeats and validations
// (storage.PolicyCache) and its relay between instances over Redis.
// defaultLeaseCacheTTL is NARCIDI_LEASE_CACHE_TTL's default (its reason:
// storage.DefaultPolicyCacheTTL).
const defaultLeaseCacheTTL = storage.DefaultPolicyCacheTTL

// leaseCacheSetting is the row of NARCIDI_LEASE_CACHE_TTL (group server).
func leaseCacheSetting(c *Config) setting {
	return setting{env: "NARCIDI_LEASE_CACHE_TTL", def: defaultLeaseCacheTTL.String(), kind: "duration",
		help: "how long a server keeps a policy for renewals, heartbeats and validations (0 keeps none; at most " +
			licensing.MaxPolicyStaleness.String() + "): a policy change reaches every instance within it, at once on the instance that made it " +
			"and, with NARCIDI_REDIS_URL, on the others; licenses, customers and machines are never kept",
		value: durationIn(&c.LeaseCacheTTL, 0, licensing.MaxPolicyStaleness)}
}

// cacheChannel is the Redis pub/sub channel of the changes to cached
// tables. Pub/sub channels are not per Redis database, hence the prefix.
func cacheChannel(prefix string) string { return prefix + "cache-changes" }

// publishTimeout bounds one publication: a writer never waits on Redis
// (publishing runs on its own goroutine), and a lost message leaves the
// TTL as the bound.
const publishTimeout = 2 * time.Second

// publishChanges sends every committed write to a cached table made
// through st (storage.Store.WatchChanges) to the other instances. Servers
// and workers both publish, whether or not they keep a cache themselves.
func publishChanges(st *storage.Store, rdb redis.UniversalClient, prefix string, log *slog.Logger) {
	ch := cacheChannel(prefix)
	st.WatchChanges(func(table string) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
			defer cancel()
			if err := rdb.Publish(ctx, ch, table).Err(); err != nil && !errors.Is(err, redis.ErrClosed) {
				log.Warn("could not tell the other instances about a change; their caches keep the old row until their TTL", "table", table, "err", err)
			}
		}()
	})
}

// cacheRelay drops the local cache when another instance (or a worker)
// publishes a change.
type cacheRelay struct {
	ps   *redis.PubSub
	wg   sync.WaitGroup
	log  *slog.Logger
	stop chan struct{}
}

// startCacheRelay subscribes before it returns, so that the server does
// not answer from a cache that could miss a message.
func startCacheRelay(ctx context.Context, rdb redis.UniversalClient, prefix string, cache *storage.PolicyCache, log *slog.Logger) (*cacheRelay, error) {
	ps := rdb.Subscribe(ctx, cacheChannel(prefix))
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		_ = ps.Close()
		return nil, err
	}
	r := &cacheRelay{ps: ps, log: log, stop: make(chan struct{})}
	r.wg.Add(1)
	go r.run(cache)
	return r, nil
}

func (r *cacheRelay) run(cache *storage.PolicyCache) {
	defer r.wg.Done()
	for {
		msg, err := r.ps.Receive(context.Background())
		select {
		case <-r.stop:
			return
		default:
		}
		switch {
		case err != nil:
			// Messages may be lost while the connection is down: drop
			// everything (the Receive that follows reconnects).
			cache.Invalidate()
			r.log.Warn("cache relay: Redis subscription broken; policies are read again until it is back", "err", err)
			select {
			case <-r.stop:
				return
			case <-time.After(time.Second):
			}
		default:
			// A change (*redis.Message), or the subscription made again
			// after a reconnection (*redis.Subscription): either way what
			// is kept may be old.
			_ = msg
			cache.Invalidate()
		}
	}
}

func (r *cacheRelay) close() error {
	if r == nil {
		return nil
	}
	close(r.stop)
	err := r.ps.Close()
	r.wg.Wait()
	return err
}
