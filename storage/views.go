package storage

import (
	"context"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// view presents a Store as the narrow store R of one licensing service:
// every method is the Store's, and InTx hands fn the view of the
// transaction-bound Store, so the service sees only R inside the
// transaction too.
type view[R any] struct{ *Store }

func (v view[R]) InTx(ctx context.Context, fn func(tx R) error) error {
	return v.Store.InTx(ctx, func(tx *Store) error {
		return fn(any(view[R]{tx}).(R))
	})
}

// The views implement the narrow stores (checked at compile time), so the
// conversion in InTx cannot fail.
var (
	_ licensing.CatalogStore       = view[licensing.CatalogStore]{}
	_ licensing.CustomersStore     = view[licensing.CustomersStore]{}
	_ licensing.LicensesStore      = view[licensing.LicensesStore]{}
	_ licensing.LeasingStore       = view[licensing.LeasingStore]{}
	_ licensing.AccessStore        = view[licensing.AccessStore]{}
	_ licensing.NotificationsStore = view[licensing.NotificationsStore]{}
	_ licensing.AutomationStore    = view[licensing.AutomationStore]{}
)

// Stores returns the narrow store of every licensing service over s.
func Stores(s *Store) licensing.Stores {
	return licensing.Stores{
		Catalog:       view[licensing.CatalogStore]{s},
		Customers:     view[licensing.CustomersStore]{s},
		Licenses:      view[licensing.LicensesStore]{s},
		Leasing:       view[licensing.LeasingStore]{s},
		Access:        view[licensing.AccessStore]{s},
		Notifications: view[licensing.NotificationsStore]{s},
		Automation:    view[licensing.AutomationStore]{s},
	}
}
