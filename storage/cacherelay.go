package storage

// The Redis relay of the policy cache (cache.go): every instance publishes
// the cached tables it changes, and each server with a cache drops it when
// another instance's change arrives, so the TTL only bounds what a lost
// message leaves behind.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// cacheChannel is the Redis pub/sub channel of the changes to cached
// tables. Pub/sub channels are not per Redis database, hence the prefix.
func cacheChannel(prefix string) string { return prefix + "cache-changes" }

// publishTimeout bounds one publication: a writer never waits on Redis
// (publishing runs on its own goroutine), and a lost message leaves the
// TTL as the bound.
const publishTimeout = 2 * time.Second

// PublishChanges sends every committed write to a cached table made
// through st (Store.WatchChanges) to the other instances. Servers
// and workers both publish, whether or not they keep a cache themselves.
func PublishChanges(st *Store, rdb redis.UniversalClient, prefix string, log *slog.Logger) {
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

// CacheRelay drops the local cache when another instance (or a worker)
// publishes a change.
type CacheRelay struct {
	ps   *redis.PubSub
	wg   sync.WaitGroup
	log  *slog.Logger
	stop chan struct{}
}

// StartCacheRelay subscribes before it returns, so that the server does
// not answer from a cache that could miss a message.
func StartCacheRelay(ctx context.Context, rdb redis.UniversalClient, prefix string, cache *PolicyCache, log *slog.Logger) (*CacheRelay, error) {
	ps := rdb.Subscribe(ctx, cacheChannel(prefix))
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		_ = ps.Close()
		return nil, err
	}
	r := &CacheRelay{ps: ps, log: log, stop: make(chan struct{})}
	r.wg.Add(1)
	go r.run(cache)
	return r, nil
}

func (r *CacheRelay) run(cache *PolicyCache) {
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

// Close unsubscribes and waits for the relay to stop.
func (r *CacheRelay) Close() error {
	if r == nil {
		return nil
	}
	close(r.stop)
	err := r.ps.Close()
	r.wg.Wait()
	return err
}
