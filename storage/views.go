package storage

import (
	"context"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// view presents a Store as the narrow store R of one licensing service:
// every method is the Store's, and InTx hands fn the view of the
// transaction-bound Store, so the service sees only R inside the
// transaction too. seen, when set, takes the last-seen stamps (RecordSeen)
// outside transactions.
type view[R any] struct {
	*Store
	seen licensing.LastSeenRecorder
}

func (v view[R]) InTx(ctx context.Context, fn func(tx R) error) error {
	return v.Store.InTx(ctx, func(tx *Store) error {
		// Inside a transaction stamps are written in it, at once.
		return fn(any(view[R]{Store: tx}).(R))
	})
}

// RecordSeen implements licensing.LastSeenRecorder: through the batcher
// when the view has one, else at once (TouchMachine).
func (v view[R]) RecordSeen(ctx context.Context, s licensing.Sighting) error {
	if v.seen != nil {
		return v.seen.RecordSeen(ctx, s)
	}
	return v.Store.TouchMachine(ctx, s.MachineID, true, s.Lease, s.IP, s.At)
}

// The views implement the narrow stores (checked at compile time), so the
// conversion in InTx cannot fail.
var (
	_ licensing.CatalogStore       = view[licensing.CatalogStore]{}
	_ licensing.CustomersStore     = view[licensing.CustomersStore]{}
	_ licensing.LicensesStore      = view[licensing.LicensesStore]{}
	_ licensing.LeasingStore       = view[licensing.LeasingStore]{}
	_ licensing.LeasingStore       = leasingView{}
	_ licensing.AccessStore        = view[licensing.AccessStore]{}
	_ licensing.NotificationsStore = view[licensing.NotificationsStore]{}
	_ licensing.AutomationStore    = view[licensing.AutomationStore]{}
	_ licensing.MetersStore        = view[licensing.MetersStore]{}
)

// Stores returns the narrow store of every licensing service over s.
// Last-seen stamps are written at once (see StoresWithLastSeen).
func Stores(s *Store) licensing.Stores {
	return StoresWithLastSeen(s, nil)
}

// StoresWithLastSeen is Stores with the last-seen stamps of renewals and
// heartbeats handed to seen (a LastSeenBatcher in a server); nil writes
// them at once.
func StoresWithLastSeen(s *Store, seen licensing.LastSeenRecorder) licensing.Stores {
	return StoresWith(s, seen, nil)
}

// StoresWith is StoresWithLastSeen with the leasing store's ReadLease
// taking policies from policies (nil: none kept, every read goes to the
// database).
func StoresWith(s *Store, seen licensing.LastSeenRecorder, policies *PolicyCache) licensing.Stores {
	var leasing licensing.LeasingStore = view[licensing.LeasingStore]{Store: s, seen: seen}
	if policies != nil {
		leasing = leasingView{view: view[licensing.LeasingStore]{Store: s, seen: seen}, policies: policies}
	}
	return licensing.Stores{
		Catalog:       view[licensing.CatalogStore]{Store: s},
		Customers:     view[licensing.CustomersStore]{Store: s},
		Licenses:      view[licensing.LicensesStore]{Store: s},
		Leasing:       leasing,
		Access:        view[licensing.AccessStore]{Store: s},
		Notifications: view[licensing.NotificationsStore]{Store: s},
		Automation:    view[licensing.AutomationStore]{Store: s},
		Metering:      view[licensing.MetersStore]{Store: s},
	}
}

// leasingView is the leasing store whose ReadLease (renewals, heartbeats,
// validations) takes policies from a PolicyCache. Only ReadLease is
// decorated, and only outside transactions: InTx hands fn the plain view
// of the transaction, so seat accounting (Activate reads the license,
// policy and customer in its transaction) never sees a cached row.
type leasingView struct {
	view[licensing.LeasingStore]
	policies *PolicyCache
}

func (v leasingView) ReadLease(ctx context.Context, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	return v.policies.readLease(ctx, v.Store, keyHash, fingerprint)
}
