package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// seed creates one product, policy, customer and license.
func seed(t *testing.T, s *storage.Store) (*licensing.Product, *licensing.Policy, *licensing.Customer, *licensing.License) {
	t.Helper()
	ctx := context.Background()
	p := &licensing.Product{Code: "studio", Name: "Studio", Metadata: map[string]string{"tier": "pro"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateProduct(ctx, p))
	pol := &licensing.Policy{ProductID: p.ID, Name: "Pro", MaxMachines: 3, Floating: true, LeaseTTLSeconds: 3600,
		ExpiryAction: licensing.ExpiryRestrict, Entitlements: []string{"export", "sync"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreatePolicy(ctx, pol))
	c := &licensing.Customer{Name: "Acme", Email: "ops@acme.test", Status: licensing.CustomerActive, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateCustomer(ctx, c))
	exp := t0.Add(365 * 24 * time.Hour)
	l := &licensing.License{KeyHash: licensing.SecretHash("key-" + t.Name()), KeyHint: "abcd", ProductID: p.ID, PolicyID: pol.ID,
		CustomerID: c.ID, Status: licensing.LicenseActive, ExpiresAt: &exp, Entitlements: []string{"beta"},
		Metadata: map[string]string{"order": "42"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateLicense(ctx, l))
	return p, pol, c, l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code licensing.Code) {
	t.Helper()
	if got := licensing.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		p, pol, c, l := seed(t, s)

		gp, err := s.GetProduct(ctx, p.ID)
		must(t, err)
		if gp.Code != "studio" || gp.Metadata["tier"] != "pro" || !gp.CreatedAt.Equal(t0) {
			t.Errorf("product = %+v", gp)
		}
		gpol, err := s.GetPolicy(ctx, pol.ID)
		must(t, err)
		if gpol.MaxMachines != 3 || !gpol.Floating || gpol.LeaseTTLSeconds != 3600 || fmt.Sprint(gpol.Entitlements) != "[export sync]" {
			t.Errorf("policy = %+v", gpol)
		}
		gc, err := s.GetCustomer(ctx, c.ID)
		must(t, err)
		if gc.Email != "ops@acme.test" || gc.Status != licensing.CustomerActive {
			t.Errorf("customer = %+v", gc)
		}
		gl, err := s.GetLicenseByKeyHash(ctx, l.KeyHash, false)
		must(t, err)
		if gl.ID != l.ID || gl.ExpiresAt == nil || !gl.ExpiresAt.Equal(*l.ExpiresAt) || gl.ExpiresAt.Location() != time.UTC ||
			fmt.Sprint(gl.Entitlements) != "[beta]" || gl.Metadata["order"] != "42" {
			t.Errorf("license = %+v", gl)
		}
	})
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		p, _, _, l := seed(t, s)

		wantCode(t, s.CreateProduct(ctx, &licensing.Product{Code: p.Code, Name: "again", CreatedAt: t0, UpdatedAt: t0}), licensing.EConflict)
		dup := *l
		dup.ID = ""
		wantCode(t, s.CreateLicense(ctx, &dup), licensing.EConflict)

		_, err := s.GetProduct(ctx, "0190a8e8-0000-7000-8000-000000000000")
		wantCode(t, err, licensing.ENotFound)
		_, err = s.GetLicense(ctx, "not-a-uuid'; drop table licenses;--")
		wantCode(t, err, licensing.ENotFound)
		_, err = s.GetLicenseByKeyHash(ctx, licensing.SecretHash("nope"), false)
		wantCode(t, err, licensing.ENotFound)

		m := &licensing.Machine{LicenseID: l.ID, Fingerprint: "fp-1", Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreateMachine(ctx, m))
		m2 := *m
		m2.ID = ""
		wantCode(t, s.CreateMachine(ctx, &m2), licensing.EConflict)
		wantCode(t, s.DeleteMachine(ctx, "0190a8e8-0000-7000-8000-000000000000", time.Now()), licensing.ENotFound)
	})
}

// UpdateLicense saves status and reason (the service serializes changes
// with LockLicense; the store has no status rule of its own).
func TestStoreUpdateLicense(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, _, _, l := seed(t, s)
		l.Status, l.StatusReason = licensing.LicenseSuspended, "unpaid"
		must(t, s.UpdateLicense(ctx, l))
		got, err := s.GetLicense(ctx, l.ID)
		must(t, err)
		if got.Status != licensing.LicenseSuspended || got.StatusReason != "unpaid" {
			t.Errorf("license = %s %q", got.Status, got.StatusReason)
		}
		ghost := *l
		ghost.ID = "0190a8e8-0000-7000-8000-000000000000"
		wantCode(t, s.UpdateLicense(ctx, &ghost), licensing.ENotFound)
	})
}

func TestStoreMachines(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, _, _, l := seed(t, s)
		for i := range 3 {
			must(t, s.CreateMachine(ctx, &licensing.Machine{LicenseID: l.ID, Fingerprint: fmt.Sprintf("fp-%d", i), Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}))
		}
		n, err := s.CountMachines(ctx, l.ID)
		must(t, err)
		if n != 3 {
			t.Fatalf("count = %d", n)
		}
		m, err := s.FindMachine(ctx, l.ID, "fp-1")
		must(t, err)
		later := t0.Add(time.Hour)
		must(t, s.TouchMachine(ctx, m.ID, true, false, "192.0.2.7", later))
		m, err = s.FindMachine(ctx, l.ID, "fp-1")
		must(t, err)
		if m.LastHeartbeat == nil || !m.LastHeartbeat.Equal(later) || m.IP != "192.0.2.7" || m.LastLeaseAt != nil {
			t.Errorf("touched machine = %+v", m)
		}
		// An offline lease holds the seat until it ends; a later offline
		// activation moves the end later, never earlier; the condition is
		// in the delete itself.
		must(t, s.HoldOfflineSeat(ctx, m.ID, later.Add(time.Hour)))
		must(t, s.HoldOfflineSeat(ctx, m.ID, later))
		wantCode(t, s.DeleteMachine(ctx, m.ID, later.Add(59*time.Minute)), licensing.EConflict)
		must(t, s.DeleteMachine(ctx, m.ID, later.Add(time.Hour)))
		wantCode(t, s.HoldOfflineSeat(ctx, m.ID, later), licensing.ENotFound)
		_, err = s.FindMachine(ctx, l.ID, "fp-1")
		wantCode(t, err, licensing.ENotFound)
		ms, err := s.ListMachines(ctx, licensing.MachineFilter{LicenseID: l.ID}, licensing.Page{})
		must(t, err)
		if len(ms) != 2 {
			t.Errorf("machines left = %d", len(ms))
		}
	})
}

func TestStorePaginationAndFilters(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, pol, c, _ := seed(t, s)
		for i := range 6 {
			l := &licensing.License{KeyHash: licensing.SecretHash(fmt.Sprint("k", i)), KeyHint: "x", ProductID: pol.ProductID, PolicyID: pol.ID,
				CustomerID: c.ID, Status: licensing.LicenseActive, CreatedAt: t0, UpdatedAt: t0}
			if i%2 == 0 {
				l.Status = licensing.LicenseSuspended
			}
			must(t, s.CreateLicense(ctx, l))
		}
		var all []string
		page := licensing.Page{Limit: 3}
		for {
			ls, err := s.ListLicenses(ctx, licensing.LicenseFilter{CustomerID: c.ID}, page)
			must(t, err)
			for _, l := range ls {
				all = append(all, l.ID)
			}
			if len(ls) < page.Limit {
				break
			}
			page.After = ls[len(ls)-1].ID
		}
		if len(all) != 7 {
			t.Fatalf("paged through %d licenses, want 7", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i] <= all[i-1] {
				t.Fatalf("ids not ascending: %v", all)
			}
		}
		sus, err := s.ListLicenses(ctx, licensing.LicenseFilter{Status: licensing.LicenseSuspended}, licensing.Page{})
		must(t, err)
		if len(sus) != 3 {
			t.Errorf("suspended = %d, want 3", len(sus))
		}
	})
}

func TestStoreTxRollsBack(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx *storage.Store) error {
			must(t, tx.CreateProduct(ctx, &licensing.Product{Code: "ghost", Name: "Ghost", CreatedAt: t0, UpdatedAt: t0}))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v", err)
		}
		ps, err := s.ListProducts(ctx, licensing.Page{})
		must(t, err)
		if len(ps) != 0 {
			t.Errorf("rolled-back product is visible: %+v", ps)
		}
	})
}

// Several server processes start at once and all migrate: the advisory lock
// (PostgreSQL) or the single connection (SQLite) keeps them from racing.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := storagetest.PostgresURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := storage.Open(ctx, storage.Config{DatabaseURL: url})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), storage.Config{DatabaseURL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	wantCode(t, err, licensing.EUnavailable)
}

func TestStoreEventsStatsAndIdempotency(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, _, _, l := seed(t, s)
		for i := range 3 {
			must(t, s.AppendEvent(ctx, &licensing.Event{Time: t0.Add(time.Duration(i) * time.Hour), Action: licensing.ActionMachineActivated,
				TargetType: "machine", TargetID: fmt.Sprint("m", i), Actor: "license:" + l.ID, After: []byte(`{"a":1}`)}))
		}
		must(t, s.AppendEvent(ctx, &licensing.Event{Time: t0.Add(-48 * time.Hour), Action: licensing.ActionMachineActivated, TargetType: "machine", TargetID: "old", Actor: "system"}))
		evs, err := s.ListEvents(ctx, licensing.EventFilter{Actor: "license:" + l.ID}, licensing.Page{})
		must(t, err)
		if len(evs) != 3 || string(evs[0].After) != `{"a":1}` || evs[0].Before != nil || !evs[0].Time.Equal(t0) {
			t.Errorf("events = %+v", evs)
		}
		since := t0.Add(90 * time.Minute)
		evs, _ = s.ListEvents(ctx, licensing.EventFilter{Since: &since}, licensing.Page{})
		if len(evs) != 1 {
			t.Errorf("events since = %d", len(evs))
		}

		must(t, s.CreateMachine(ctx, &licensing.Machine{LicenseID: l.ID, Fingerprint: "fp", Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}))
		st, err := s.Stats(ctx, t0.Add(3*time.Hour))
		must(t, err)
		days := map[string]int{}
		for _, d := range st.ActivationsPerDay {
			days[d.Day] = d.Count
		}
		if st.LicensesByStatus[licensing.LicenseActive] != 1 || st.MachinesByStatus[licensing.MachineActive] != 1 ||
			len(st.ActivationsPerDay) != 30 || days["2026-11-28"] != 3 || days["2026-11-26"] != 1 || st.ExpiringIn30Days != 0 {
			t.Errorf("stats = %+v", st)
		}
		st, _ = s.Stats(ctx, l.ExpiresAt.Add(-24*time.Hour))
		if st.ExpiringIn7Days != 1 || st.ExpiringIn30Days != 1 {
			t.Errorf("expiring = %d/%d", st.ExpiringIn7Days, st.ExpiringIn30Days)
		}

		rec := &storage.IdempotencyRecord{Owner: "tok", Key: "k", RequestHash: "h1", CreatedAt: t0}
		prev, err := s.ClaimIdempotencyKey(ctx, rec)
		if err != nil || prev != nil {
			t.Fatalf("first claim: %v %v", prev, err)
		}
		prev, _ = s.ClaimIdempotencyKey(ctx, &storage.IdempotencyRecord{Owner: "tok", Key: "k", RequestHash: "h1", CreatedAt: t0.Add(time.Second)})
		if prev == nil || prev.Status != 0 {
			t.Fatalf("claim while running: %+v", prev)
		}
		rec.Status, rec.Body = 201, []byte(`{"id":"x"}`)
		must(t, s.CompleteIdempotencyKey(ctx, rec))
		prev, _ = s.ClaimIdempotencyKey(ctx, &storage.IdempotencyRecord{Owner: "tok", Key: "k", RequestHash: "h1", CreatedAt: t0.Add(time.Hour)})
		if prev == nil || prev.Status != 201 || string(prev.Body) != `{"id":"x"}` {
			t.Fatalf("replay: %+v", prev)
		}
		// A day later the key is forgotten.
		prev, _ = s.ClaimIdempotencyKey(ctx, &storage.IdempotencyRecord{Owner: "tok", Key: "k", RequestHash: "h2", CreatedAt: t0.Add(25 * time.Hour)})
		if prev != nil {
			t.Fatalf("expired key replayed: %+v", prev)
		}

		// A first request that ran past the takeover completes after a
		// retry took its claim over: the retry's answer is the one kept.
		slow := &storage.IdempotencyRecord{Owner: "tok", Key: "k2", RequestHash: "h", CreatedAt: t0}
		if prev, err := s.ClaimIdempotencyKey(ctx, slow); err != nil || prev != nil {
			t.Fatalf("claim: %v %v", prev, err)
		}
		retry := &storage.IdempotencyRecord{Owner: "tok", Key: "k2", RequestHash: "h", CreatedAt: t0.Add(2 * time.Minute)}
		if prev, err := s.ClaimIdempotencyKey(ctx, retry); err != nil || prev != nil {
			t.Fatalf("takeover: %v %v", prev, err)
		}
		retry.Status, retry.Body = 201, []byte(`{"id":"retry"}`)
		must(t, s.CompleteIdempotencyKey(ctx, retry))
		slow.Status, slow.Body = 201, []byte(`{"id":"first"}`)
		must(t, s.CompleteIdempotencyKey(ctx, slow))
		prev, _ = s.ClaimIdempotencyKey(ctx, &storage.IdempotencyRecord{Owner: "tok", Key: "k2", RequestHash: "h", CreatedAt: t0.Add(3 * time.Minute)})
		if prev == nil || string(prev.Body) != `{"id":"retry"}` {
			t.Fatalf("after a late completion the replay is %+v, want the retry's answer", prev)
		}
	})
}
