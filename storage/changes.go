package storage

import (
	"strings"
	"sync"

	"gorm.io/gorm"
)

// cachedTables are the tables whose rows a cache of this package may keep
// (PolicyCache). A write to one of them, through any method of the Store,
// is reported to the watchers once it is committed.
var cachedTables = []string{"policies"}

// changeFeed reports committed writes to cachedTables. It hangs on gorm's
// write callbacks, not on the Store's methods, so that a write method added
// later cannot forget to invalidate: every create, update, delete and raw
// statement that names one of the tables is seen. A write inside a
// transaction started by Store.InTx is reported after the transaction ends
// (reporting it before the commit would let a concurrent reader cache the
// old row again); one inside a transaction opened otherwise is reported at
// once, and the cache's TTL covers the commit that follows. Writes made
// outside this process's gorm (another program, SQL by hand) are seen only
// through the TTL, or through a relay of another instance (Redis).
type changeFeed struct {
	mu       sync.Mutex
	watchers []func(table string)
	// open holds the tables written so far by each transaction of InTx,
	// by its connection.
	open map[gorm.ConnPool]map[string]bool
}

func newChangeFeed() *changeFeed {
	return &changeFeed{open: map[gorm.ConnPool]map[string]bool{}}
}

// watchChanges registers the feed on db's write callbacks.
func watchChanges(db *gorm.DB, f *changeFeed) error {
	cb := db.Callback()
	for _, r := range []struct {
		name string
		reg  func(string, func(*gorm.DB)) error
	}{
		{"narcidi:changes_create", cb.Create().After("gorm:create").Register},
		{"narcidi:changes_update", cb.Update().After("gorm:update").Register},
		{"narcidi:changes_delete", cb.Delete().After("gorm:delete").Register},
		{"narcidi:changes_raw", cb.Raw().After("gorm:raw").Register},
	} {
		if err := r.reg(r.name, f.observe); err != nil {
			return err
		}
	}
	return nil
}

// watch adds fn, called with the table's name after each committed write
// to one of cachedTables (possibly more than once per write, and for a
// write that failed or was rolled back: a watcher drops what it keeps,
// which is always safe). fn must not block.
func (f *changeFeed) watch(fn func(table string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchers = append(f.watchers, fn)
}

func (f *changeFeed) observe(db *gorm.DB) {
	table := written(db.Statement)
	if table == "" {
		return
	}
	f.mu.Lock()
	if tables, ok := f.open[db.Statement.ConnPool]; ok {
		tables[table] = true
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.report(table)
}

// written is the cached table a statement writes, or "". A raw statement
// names its tables only in its text: any mention counts (a SELECT too,
// which costs a needless drop, never a stale read).
func written(st *gorm.Statement) string {
	for _, t := range cachedTables {
		if st.Table == t {
			return t
		}
		if st.Table == "" && strings.Contains(strings.ToLower(st.SQL.String()), t) {
			return t
		}
	}
	return ""
}

func (f *changeFeed) report(table string) {
	f.mu.Lock()
	ws := f.watchers
	f.mu.Unlock()
	for _, w := range ws {
		w(table)
	}
}

// begin starts holding back the reports of the transaction on pool; it
// answers false when pool is already held (a nested InTx, a savepoint: the
// outer one reports).
func (f *changeFeed) begin(pool gorm.ConnPool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.open[pool]; ok {
		return false
	}
	f.open[pool] = map[string]bool{}
	return true
}

// end reports what the transaction on pool wrote: it has been committed or
// rolled back.
func (f *changeFeed) end(pool gorm.ConnPool) {
	f.mu.Lock()
	tables := f.open[pool]
	delete(f.open, pool)
	f.mu.Unlock()
	for t := range tables {
		f.report(t)
	}
}

// WatchChanges calls fn with the table's name after every committed write
// to a table that a cache may keep (today "policies"), made through this
// Store or any Store opened on the same connection pool in this process.
// fn runs on the writer's goroutine and must not block. A cache relay
// (NARCIDI_LEASE_CACHE_TTL with Redis) publishes these to other instances.
func (s *Store) WatchChanges(fn func(table string)) {
	s.changes.watch(fn)
}
