package subscription_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// env is the subscription service on a fresh database of one dialect, with
// a test clock and a product "studio" to hang policies on.
type env struct {
	clock *licensingtest.Clock
	st    *storage.Store
	svc   *licensing.Services
	subs  *subscription.Service
	prod  *licensing.Product
}

func newEnv(t *testing.T, dialect string, now time.Time) *env {
	t.Helper()
	clock := licensingtest.NewClock(now)
	st := storagetest.Open(t, dialect)
	kr, _ := keystest.Keyring(t, clock.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clock.Now, Issuer: "test"})
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := svc.Catalog.CreateProduct(context.Background(), licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{clock: clock, st: st, svc: svc, subs: subs, prod: prod}
}
