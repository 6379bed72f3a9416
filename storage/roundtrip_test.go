package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The round trips write a value with every field set, read it back and
// compare the whole struct, for every Create and Update of the stores on
// both databases: a column missing from an insert, an update's column list
// or a row conversion fails here. Fixtures are written by hand, and
// mustFill refuses one with a zero field, so a field added to a domain type
// fails these tests until its fixture (and so its storage) covers it.

// rtTime is a time both databases keep exactly (microseconds, UTC).
func rtTime(n int) time.Time {
	return time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC).Add(time.Duration(n) * time.Hour)
}

func rtPtr(n int) *time.Time { t := rtTime(n); return &t }

// mustFill fails the test if a field of *v is zero, but for the fields
// named in unstored (with why they are not stored by the method tested).
func mustFill(t *testing.T, v any, unstored ...string) {
	t.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if f := rv.Type().Field(i); f.Anonymous && f.Type.Kind() == reflect.Struct {
			// An embedded part (licensing.BrowserSession): each of its
			// fields must be filled, not just one.
			mustFill(t, rv.Field(i).Addr().Interface(), unstored...)
			continue
		}
		if rv.Field(i).IsZero() && !slices.Contains(unstored, name) {
			t.Fatalf("%T fixture leaves %s zero: fill it (and store it)", v, name)
		}
	}
}

// mustChange fails the test if changed keeps the value of orig in a field
// that is not immutable: an update must exercise every column it writes.
func mustChange(t *testing.T, orig, changed any, immutable ...string) {
	t.Helper()
	o, c := reflect.ValueOf(orig).Elem(), reflect.ValueOf(changed).Elem()
	for i := range o.NumField() {
		name := o.Type().Field(i).Name
		if slices.Contains(immutable, name) {
			continue
		}
		if reflect.DeepEqual(o.Field(i).Interface(), c.Field(i).Interface()) {
			t.Fatalf("%T update fixture keeps %s: change it, or list it as immutable", orig, name)
		}
	}
}

// keep returns changed with the immutable fields of orig: what an update
// must leave.
func keep[T any](orig, changed *T, immutable ...string) *T {
	want := *changed
	w, o := reflect.ValueOf(&want).Elem(), reflect.ValueOf(orig).Elem()
	for _, f := range immutable {
		w.FieldByName(f).Set(o.FieldByName(f))
	}
	return &want
}

func sameStruct(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
		for i := range g.NumField() {
			if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
				t.Errorf("%s: %s = %+v, want %+v", what, g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
			}
		}
	}
}

// roundTrip creates v, reads it back and compares; then, when update is
// set, writes changed over it and compares again with immutable fields kept.
func roundTrip[T any](t *testing.T, name string, v *T, create func(*T) error, get func() (*T, error),
	update func(*T) error, changed func(*T) *T, immutable ...string) {
	t.Helper()
	if err := create(v); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	got, err := get()
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	sameStruct(t, "create "+name, got, v)
	if update == nil {
		return
	}
	ch := changed(v)
	mustChange(t, v, ch, immutable...)
	if err := update(ch); err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	got, err = get()
	if err != nil {
		t.Fatalf("get %s after update: %v", name, err)
	}
	sameStruct(t, "update "+name, got, keep(v, ch, immutable...))
}

func TestStoreRoundTripsWholeStructs(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()

		prod := &licensing.Product{ID: "01950000-0000-7000-8000-000000000001", Code: "studio", Name: "Studio",
			Metadata: map[string]string{"tier": "pro"}, CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, prod)
		roundTrip(t, "product", prod, func(v *licensing.Product) error { return s.CreateProduct(ctx, v) },
			func() (*licensing.Product, error) { return s.GetProduct(ctx, prod.ID) },
			func(v *licensing.Product) error { return s.UpdateProduct(ctx, v) },
			func(o *licensing.Product) *licensing.Product {
				return &licensing.Product{ID: o.ID, Code: "other", Name: "Studio 2", Metadata: map[string]string{"tier": "max", "x": "y"},
					CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "Code", "CreatedAt")

		pol := &licensing.Policy{ID: "01950000-0000-7000-8000-000000000002", ProductID: prod.ID, Name: "Pro", DurationSeconds: 86400,
			MaxMachines: 3, Floating: true, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, GraceSeconds: 7200,
			ExpiryAction: licensing.ExpiryRestrict, ExpiryNoticeDays: []int{30, 7}, OfflineReleaseSeconds: 1200,
			Entitlements: []string{"export"}, Metadata: map[string]string{"a": "b"}, CreatedAt: rtTime(1), UpdatedAt: rtTime(2),
			Rules: licensing.PolicyRules{Matching: licensing.MatchMost, Uniqueness: licensing.UniquePerProduct, OverageFactor: 1.5,
				ActivationLimits: licensing.ActivationLimits{MaxActivations: 10, MaxDeactivations: 3, LimitPeriodSeconds: 3600, MinSeatHoldSeconds: 60}}}
		mustFill(t, pol)
		roundTrip(t, "policy", pol, func(v *licensing.Policy) error { return s.CreatePolicy(ctx, v) },
			func() (*licensing.Policy, error) { return s.GetPolicy(ctx, pol.ID) },
			func(v *licensing.Policy) error { return s.UpdatePolicy(ctx, v) },
			func(o *licensing.Policy) *licensing.Policy {
				return &licensing.Policy{ID: o.ID, ProductID: "01950000-0000-7000-8000-0000000000ff", Name: "Pro 2", DurationSeconds: 172800,
					MaxMachines: 5, Floating: false, LeaseTTLSeconds: 7200, HeartbeatWindowSeconds: 900, GraceSeconds: 60,
					ExpiryAction: licensing.ExpiryAllow, ExpiryNoticeDays: []int{14, 3, 1}, OfflineReleaseSeconds: 2400,
					Entitlements: []string{"export", "sync"}, Metadata: map[string]string{"c": "d"}, CreatedAt: rtTime(3), UpdatedAt: rtTime(4),
					Rules: licensing.PolicyRules{Matching: licensing.MatchAll, OverageSeats: 2}}
			}, "ID", "ProductID", "CreatedAt")

		cus := &licensing.Customer{ID: "01950000-0000-7000-8000-000000000003", Name: "Acme", Email: "ops@acme.test",
			Status: licensing.CustomerActive, Contacts: []licensing.Contact{{Name: "Ann", Email: "ann@acme.test", Role: "billing"}},
			Permissions: []licensing.Permission{licensing.ReadLicenses}, Metadata: map[string]string{"crm": "7"},
			Language: "pt-PT", TimeZone: "Africa/Luanda", CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, cus)
		roundTrip(t, "customer", cus, func(v *licensing.Customer) error { return s.CreateCustomer(ctx, v) },
			func() (*licensing.Customer, error) { return s.GetCustomer(ctx, cus.ID) },
			func(v *licensing.Customer) error { return s.UpdateCustomer(ctx, v) },
			func(o *licensing.Customer) *licensing.Customer {
				return &licensing.Customer{ID: o.ID, Name: "Acme Ltd", Email: "it@acme.test", Status: licensing.CustomerDisabled,
					Contacts:    []licensing.Contact{{Name: "Bob", Email: "bob@acme.test", Role: "technical"}},
					Permissions: []licensing.Permission{licensing.ReadLicenses, licensing.ReadMachines}, Metadata: map[string]string{"crm": "8"},
					Language: "pt-BR", TimeZone: "America/Sao_Paulo", CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "CreatedAt")

		// A second policy and customer for the license to move to.
		pol2 := &licensing.Policy{ProductID: prod.ID, Name: "Other", MaxMachines: 1, ExpiryAction: licensing.ExpiryRestrict, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, s.CreatePolicy(ctx, pol2))
		cus2 := &licensing.Customer{Name: "Other", Email: "o@x.test", Status: licensing.CustomerActive, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, s.CreateCustomer(ctx, cus2))

		lic := &licensing.License{ID: "01950000-0000-7000-8000-000000000004", KeyHash: licensing.SecretHash("rt-key"), KeyHint: "WXYZ",
			ProductID: prod.ID, PolicyID: pol.ID, CustomerID: cus.ID, Name: "Seat pack", Status: licensing.LicenseActive,
			StatusReason: "granted", ExpiresAt: rtPtr(100), Entitlements: []string{"beta"}, Metadata: map[string]string{"order": "42"},
			SeatsOverride: ptrTo(4), CreatedAt: rtTime(1), UpdatedAt: rtTime(2),
			Overrides: licensing.LicenseOverrides{GraceSeconds: ptrTo[int64](60), ExpiryAction: ptrTo(licensing.ExpiryAllow), MaxActivations: ptrTo(2)}}
		// MaxMachines and Effective: the seat limit and policy in force,
		// computed on reads by the service, never stored.
		mustFill(t, lic, "MaxMachines", "Effective")
		roundTrip(t, "license", lic, func(v *licensing.License) error { return s.CreateLicense(ctx, v) },
			func() (*licensing.License, error) { return s.GetLicense(ctx, lic.ID) },
			func(v *licensing.License) error { return s.UpdateLicense(ctx, v) },
			func(o *licensing.License) *licensing.License {
				return &licensing.License{ID: o.ID, KeyHash: licensing.SecretHash("other"), KeyHint: "ABCD", ProductID: "01950000-0000-7000-8000-0000000000ff",
					PolicyID: pol2.ID, CustomerID: cus2.ID, Name: "Renamed", Status: licensing.LicenseSuspended, StatusReason: "unpaid",
					ExpiresAt: rtPtr(200), Entitlements: []string{"beta", "gamma"}, Metadata: map[string]string{"order": "43"},
					SeatsOverride: ptrTo(9), CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "KeyHash", "KeyHint", "ProductID", "CreatedAt", "MaxMachines", "SeatsOverride", "Overrides", "Effective")
		// Overrides change only through SetLicenseOverrides (with the seats):
		// set, then cleared.
		for _, o := range []licensing.LicenseOverrides{{LeaseTTLSeconds: ptrTo[int64](600), MinSeatHoldSeconds: ptrTo[int64](0)}, {}} {
			must(t, s.SetLicenseOverrides(ctx, lic.ID, o.MaxActivations, o))
			got, err := s.LockLicense(ctx, lic.ID)
			must(t, err)
			if !reflect.DeepEqual(got.Overrides, o) || got.SeatsOverride != nil {
				t.Fatalf("overrides %+v (seats %v), want %+v", got.Overrides, got.SeatsOverride, o)
			}
		}
		// A license's own seats change only through SetLicenseSeats: set,
		// then cleared back to the policy's (NULL, not kept).
		for _, seats := range []*int{ptrTo(9), nil} {
			must(t, s.SetLicenseSeats(ctx, lic.ID, seats))
			got, err := s.LockLicense(ctx, lic.ID)
			must(t, err)
			if !licensing.SameSeats(got.SeatsOverride, seats) {
				t.Fatalf("seats override %v, want %v", got.SeatsOverride, seats)
			}
		}
		if err := s.SetLicenseSeats(ctx, "01950000-0000-7000-8000-0000000000aa", nil); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("seats of a missing license: %v", err)
		}

		mach := &licensing.Machine{ID: "01950000-0000-7000-8000-000000000005", LicenseID: lic.ID, Fingerprint: "fp-0123456789",
			Name: "build box", Hostname: "build-1", Platform: "linux/amd64", IP: "203.0.113.7", Status: licensing.MachineActive,
			LastHeartbeat: rtPtr(5), LastLeaseAt: rtPtr(6), StatusReason: "activated", OfflineUntil: rtPtr(7), CreatedAt: rtTime(1), UpdatedAt: rtTime(2),
			Components: []string{"board-1", "disk-2"}}
		mustFill(t, mach)
		roundTrip(t, "machine", mach, func(v *licensing.Machine) error { return s.CreateMachine(ctx, v) },
			func() (*licensing.Machine, error) { return s.GetMachine(ctx, mach.ID) }, nil, nil)

		ent := &licensing.Entitlement{ID: "01950000-0000-7000-8000-000000000006", Code: "export", Name: "Export",
			Description: "export to PDF", CreatedAt: rtTime(1)}
		mustFill(t, ent, "RetiredAt") // RetireEntitlement sets it: TestMetersRoundTrip
		roundTrip(t, "entitlement", ent, func(v *licensing.Entitlement) error { return s.CreateEntitlement(ctx, v) },
			func() (*licensing.Entitlement, error) { return s.GetEntitlement(ctx, ent.ID) }, nil, nil)

		tok := &licensing.APIToken{ID: "01950000-0000-7000-8000-000000000007", Name: "ci", Role: licensing.RoleCustomer,
			CustomerID: cus.ID, Hash: licensing.SecretHash("rt-token"), Bootstrap: true, ExpiresAt: rtPtr(50), RevokedAt: rtPtr(10), CreatedAt: rtTime(1), LastUsedAt: rtPtr(5)}
		mustFill(t, tok)
		roundTrip(t, "API token", tok, func(v *licensing.APIToken) error { return s.CreateAPIToken(ctx, v) },
			func() (*licensing.APIToken, error) { return s.GetAPIToken(ctx, tok.ID) }, nil, nil)

		ev := &licensing.Event{ID: "01950000-0000-7000-8000-000000000008", Time: rtTime(1), Action: licensing.ActionMachineActivated,
			TargetType: "machine", TargetID: mach.ID, Actor: "token:1", ActorName: "ci", Reason: "test",
			Before: []byte(`{"a":1}`), After: []byte(`{"a":2}`), RequestID: "req-1"}
		mustFill(t, ev)
		roundTrip(t, "event", ev, func(v *licensing.Event) error { return s.AppendEvent(ctx, v) },
			func() (*licensing.Event, error) { return s.GetEvent(ctx, ev.ID) }, nil, nil)

		wh := &licensing.WebhookEndpoint{ID: "01950000-0000-7000-8000-000000000009", URL: "https://hooks.example.com/a",
			Description: "ops", EventTypes: []string{"license.created"}, Enabled: true, DisabledReason: "was off once",
			ConsecutiveFailures: 2, SealedSecret: []byte{1, 2, 3}, CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, wh)
		roundTrip(t, "webhook", wh, func(v *licensing.WebhookEndpoint) error { return s.CreateWebhook(ctx, v) },
			func() (*licensing.WebhookEndpoint, error) { return s.GetWebhook(ctx, wh.ID) },
			func(v *licensing.WebhookEndpoint) error { return s.UpdateWebhook(ctx, v) },
			func(o *licensing.WebhookEndpoint) *licensing.WebhookEndpoint {
				return &licensing.WebhookEndpoint{ID: o.ID, URL: "https://hooks.example.com/b", Description: "sales",
					EventTypes: []string{"*"}, Enabled: false, DisabledReason: "by admin", ConsecutiveFailures: 5,
					SealedSecret: []byte{9}, CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "SealedSecret", "CreatedAt")

		ev2 := &licensing.Event{Time: rtTime(2), Action: licensing.ActionMachineActivated, TargetType: "machine", TargetID: mach.ID}
		must(t, s.AppendEvent(ctx, ev2))
		wh2 := &licensing.WebhookEndpoint{URL: "https://hooks.example.com/c", EventTypes: []string{"*"}, SealedSecret: []byte{1}, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, s.CreateWebhook(ctx, wh2))
		del := &licensing.Delivery{ID: "01950000-0000-7000-8000-00000000000a", EventID: ev.ID, Action: ev.Action,
			Channel: licensing.ChannelWebhook, EndpointID: wh.ID, Status: licensing.DeliveryPending, Attempts: 1, AttemptLimit: 8,
			Generation: 1, LastStatusCode: 502, LastError: "bad gateway", EnqueuedAt: rtPtr(3), DeliveredAt: rtPtr(4),
			CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, del, "Log") // the attempts, stored by AppendAttempt and read by ListAttempts
		roundTrip(t, "delivery", del, func(v *licensing.Delivery) error { return s.CreateDelivery(ctx, v) },
			func() (*licensing.Delivery, error) { return s.GetDelivery(ctx, del.ID) },
			func(v *licensing.Delivery) error { return s.UpdateDelivery(ctx, v) },
			func(o *licensing.Delivery) *licensing.Delivery {
				return &licensing.Delivery{ID: o.ID, EventID: ev2.ID, Action: "license.created", Channel: licensing.DeliveryChannel("email"),
					EndpointID: wh2.ID, Status: licensing.DeliveryDelivered, Attempts: 2, AttemptLimit: 9, Generation: 2,
					LastStatusCode: 200, LastError: "none", EnqueuedAt: rtPtr(5), DeliveredAt: rtPtr(6), CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "CreatedAt", "Log")

		att := &licensing.DeliveryAttempt{ID: "01950000-0000-7000-8000-00000000000b", DeliveryID: del.ID, Number: 1, At: rtTime(3),
			StatusCode: 502, Error: "bad gateway", DurationMS: 120, RequestBody: `{"type":"license.created"}`, ResponseBody: "<h1>Bad gateway</h1>"}
		mustFill(t, att)
		roundTrip(t, "delivery attempt", att, func(v *licensing.DeliveryAttempt) error { return s.AppendAttempt(ctx, v) },
			func() (*licensing.DeliveryAttempt, error) {
				l, err := s.ListAttempts(ctx, del.ID)
				if err != nil || len(l) != 1 {
					return nil, fmt.Errorf("attempts = %v, %v", l, err)
				}
				return &l[0], nil
			}, nil, nil)

		r := s.Releases()
		rel := &release.Release{ID: "01950000-0000-7000-8000-00000000000c", ProductID: prod.ID, Version: "1.2.3", Channel: "beta",
			Notes: "fixes", Status: release.StatusDraft, Entitlement: "export", YankReason: "none yet", Artifacts: []release.Artifact{},
			PublishedAt: rtPtr(7), CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, rel, "Artifacts") // stored by CreateArtifact, checked with it below
		roundTrip(t, "release", rel, func(v *release.Release) error { return r.CreateRelease(ctx, v) },
			func() (*release.Release, error) { return r.GetRelease(ctx, rel.ID) },
			func(v *release.Release) error { return r.UpdateRelease(ctx, v) },
			func(o *release.Release) *release.Release {
				return &release.Release{ID: o.ID, ProductID: "01950000-0000-7000-8000-0000000000ff", Version: "9.9.9", Channel: "stable",
					Notes: "more fixes", Status: release.StatusYanked, Entitlement: "sync", YankReason: "broken", Artifacts: nil,
					PublishedAt: rtPtr(8), CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "ProductID", "Version", "Channel", "Entitlement", "CreatedAt", "Artifacts")

		art := &release.Artifact{ID: "01950000-0000-7000-8000-00000000000d", ReleaseID: rel.ID, Platform: "linux", Arch: "amd64",
			Filename: "studio.tar.gz", Size: 1234, SHA256: "ab12", SHA512: "cd34", Signature: "c2ln", KeyID: "key-1",
			Status: release.ArtifactPending, ObjectKey: "releases/x", UploadID: "up-1", CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, art)
		roundTrip(t, "artifact", art, func(v *release.Artifact) error { return r.CreateArtifact(ctx, v) },
			func() (*release.Artifact, error) { return r.GetArtifact(ctx, art.ID) },
			func(v *release.Artifact) error { return r.UpdateArtifact(ctx, v) },
			func(o *release.Artifact) *release.Artifact {
				return &release.Artifact{ID: o.ID, ReleaseID: "01950000-0000-7000-8000-0000000000ff", Platform: "darwin", Arch: "arm64",
					Filename: "other.zip", Size: 99, SHA256: "ef56", SHA512: "0789", Signature: "b3RoZXI=", KeyID: "key-2",
					Status: release.ArtifactReady, ObjectKey: "releases/y", UploadID: "up-2", CreatedAt: rtTime(3), UpdatedAt: rtTime(4)}
			}, "ID", "ReleaseID", "Platform", "Arch", "Filename", "Size", "SHA256", "SHA512", "Signature", "KeyID", "CreatedAt")
		got, err := r.GetRelease(ctx, rel.ID)
		must(t, err)
		wantArt, _ := r.GetArtifact(ctx, art.ID)
		if len(got.Artifacts) != 1 || !reflect.DeepEqual(got.Artifacts[0], *wantArt) {
			t.Errorf("release artifacts = %+v, want [%+v]", got.Artifacts, wantArt)
		}
	})
}

func TestConsoleUsersRoundTrip(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		r := s.Users()

		u := &users.User{ID: "01950000-0000-7000-8000-000000000101", Email: "ops@example.com", Role: licensing.RoleSupport,
			Status: users.StatusActive, PasswordHash: "$argon2id$x", TOTPSecret: []byte{1, 2, 3}, TOTPEnabled: true, TOTPRequired: true,
			TOTPLastStep: 7, RecoveryCodes: []string{"h1", "h2"}, LastSignInAt: rtPtr(5), Language: "pt-BR", TimeZone: "America/Sao_Paulo",
			CreatedAt: rtTime(1), UpdatedAt: rtTime(2)}
		mustFill(t, u)
		roundTrip(t, "user", u, func(v *users.User) error { return r.CreateUser(ctx, v) },
			func() (*users.User, error) { return r.GetUser(ctx, u.ID) },
			nil, nil) // updated column by column: users_test.go
		if byEmail, err := r.GetUserByEmail(ctx, u.Email); err != nil || byEmail.ID != u.ID {
			t.Fatalf("GetUserByEmail = %v, %v", byEmail, err)
		}
		if err := r.CreateUser(ctx, &users.User{Email: u.Email, Role: licensing.RoleAdmin, Status: users.StatusActive, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}); licensing.ErrorCode(err) != licensing.EConflict {
			t.Fatalf("a second user with the same email: %v, want conflict", err)
		}

		sess := &users.Session{UserID: u.ID, Stage: users.StagePending, BrowserSession: licensing.BrowserSession{ID: "01950000-0000-7000-8000-000000000102",
			TokenHash: "th1", CSRFToken: "c1", IP: "192.0.2.1", UserAgent: "test", CreatedAt: rtTime(1), LastSeenAt: rtTime(2), ExpiresAt: rtTime(9),
			RevokedAt: rtPtr(3)}}
		mustFill(t, sess)
		roundTrip(t, "session", sess, func(v *users.Session) error { return r.CreateSession(ctx, v) },
			func() (*users.Session, error) { return r.GetSessionByHash(ctx, "th1") },
			nil, nil)

		live := &users.Session{UserID: u.ID, Stage: users.StageFull, BrowserSession: licensing.BrowserSession{TokenHash: "th2", CSRFToken: "c", CreatedAt: rtTime(1), LastSeenAt: rtTime(1), ExpiresAt: rtTime(9)}}
		must(t, r.CreateSession(ctx, live))
		must(t, r.RevokeSessions(ctx, u.ID, rtTime(8)))
		got, err := r.GetSessionByHash(ctx, "th2")
		must(t, err)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(rtTime(8)) {
			t.Errorf("RevokeSessions left revoked_at = %v", got.RevokedAt)
		}
		if got, _ := r.GetSessionByHash(ctx, "th1"); !got.RevokedAt.Equal(rtTime(3)) {
			t.Errorf("RevokeSessions moved an ended session's revoked_at to %v", got.RevokedAt)
		}

		pt := &users.PasswordToken{UserID: u.ID, OneTimeLink: licensing.OneTimeLink{ID: "01950000-0000-7000-8000-000000000103", TokenHash: "ph", ExpiresAt: rtTime(9),
			UsedAt: rtPtr(2), CreatedAt: rtTime(1)}}
		mustFill(t, pt)
		roundTrip(t, "password token", pt, func(v *users.PasswordToken) error { return r.CreatePasswordToken(ctx, v) },
			func() (*users.PasswordToken, error) { return r.GetLinkByHash(ctx, "ph") }, nil, nil)
		fresh := &users.PasswordToken{UserID: u.ID, OneTimeLink: licensing.OneTimeLink{TokenHash: "ph2", ExpiresAt: rtTime(9), CreatedAt: rtTime(1)}}
		must(t, r.CreatePasswordToken(ctx, fresh))
		must(t, r.UseLink(ctx, fresh.ID, rtTime(3)))
		if err := r.UseLink(ctx, fresh.ID, rtTime(4)); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("a second use of a link: %v, want not found", err)
		}
		if n, err := r.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v; want 1", n, err)
		}
	})
}

// TestInsightsRoundTrips: the telemetry of issue 14 (storage/insights.go).
// A roll-up written twice holds the sums and the union of the sets.
func TestInsightsRoundTrips(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		in := s.Insights()
		day := &insights.Day{Day: "2026-03-04", LicenseID: "01950000-0000-7000-8000-000000000004", MachineID: "01950000-0000-7000-8000-000000000005",
			Activations: 1, Renewals: 2, Heartbeats: 3, Validations: 4, Networks: []string{"192.0.2.0/24"}, Platforms: []string{"linux/amd64"},
			AppVersions: []string{"2.0.0"}}
		mustFill(t, day)
		// The machine's stored row; the license's total (l[0]) is built
		// from it on read (insights.LicenseDays).
		get := func() (*insights.Day, error) {
			l, err := in.Days(ctx, day.LicenseID, day.Day, day.Day)
			if err != nil || len(l) != 2 || l[1].MachineID != day.MachineID {
				return nil, fmt.Errorf("days = %v, %v", l, err)
			}
			return &l[1], nil
		}
		roundTrip(t, "telemetry day", day, func(v *insights.Day) error { return in.AddDays(ctx, []insights.Day{*v}) }, get, nil, nil)
		more := *day
		more.Activations, more.Renewals, more.Heartbeats, more.Validations = 10, 20, 30, 40
		more.Networks, more.Platforms = []string{"2001:db8::/48", "192.0.2.0/24"}, []string{"darwin/arm64"}
		more.AppVersions = []string{"1.9.0"}
		must(t, in.AddDays(ctx, []insights.Day{more}))
		got, err := get()
		must(t, err)
		want := &insights.Day{Day: day.Day, LicenseID: day.LicenseID, MachineID: day.MachineID, Activations: 11, Renewals: 22, Heartbeats: 33,
			Validations: 44, Networks: []string{"192.0.2.0/24", "2001:db8::/48"}, Platforms: []string{"darwin/arm64", "linux/amd64"},
			AppVersions: []string{"1.9.0", "2.0.0"}}
		sameStruct(t, "telemetry day added", got, want)

		ref := &insights.RefusalEvent{ID: "01950000-0000-7000-8000-000000000006", At: rtTime(1), Kind: licensing.UseActivation,
			Code: licensing.ESeatLimit, LicenseID: day.LicenseID, MachineID: day.MachineID, Fingerprint: "fp-1234567890", Network: "192.0.2.0/24"}
		mustFill(t, ref)
		roundTrip(t, "telemetry refusal", ref, func(v *insights.RefusalEvent) error { return in.AddRefusals(ctx, []insights.RefusalEvent{*v}) },
			func() (*insights.RefusalEvent, error) {
				l, err := in.Refusals(ctx, ref.LicenseID, rtTime(0), rtTime(2))
				if err != nil || len(l) != 1 {
					return nil, fmt.Errorf("refusals = %v, %v", l, err)
				}
				return &l[0], nil
			}, nil, nil)
		// A retried batch whose first write landed keeps each event once.
		must(t, in.AddRefusals(ctx, []insights.RefusalEvent{*ref}))
		if l, err := in.Refusals(ctx, ref.LicenseID, rtTime(0), rtTime(2)); err != nil || len(l) != 1 {
			t.Fatalf("after a retried write: %d refusals, %v; want 1", len(l), err)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
