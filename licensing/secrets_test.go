package licensing_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Keys pasted from an email come back to the canonical generated form;
// supplied keys are only trimmed (issue 11 item 20).
func TestNormalizeKey(t *testing.T) {
	t.Parallel()
	const canon = "NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ7"
	cases := map[string]string{
		canon:                                      canon,
		strings.ToLower(canon):                     canon,
		"NZLABCDEFGHIJK2LMNOP3QRSTU4VWXYZ7":        canon,
		"nzl abcdef ghijk2 lmnop3 qrstu4 vwxyz7":   canon,
		canon + "\n":                               canon,
		"\t  " + canon + " \r\n":                   canon,
		"NZL-ABC-DEFGHI-JK2LMN-OP3QRS-TU4VWX-YZ7":  canon, // dashes misplaced
		"Nzl-abcdef-GHIJK2 lmnop3-qrstu4-vwxyz7\n": canon,
		"NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ":    "NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ", // 29: not the format
		"NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ78":  "NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ78",
		"nzl-abcdef-ghijk1-lmnop3-qrstu4-vwxyz7":   "nzl-abcdef-ghijk1-lmnop3-qrstu4-vwxyz7", // 1 is not base32
		"XYZ-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ7":   "XYZ-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ7",
		"  my-own-key 0123456789 \n":               "my-own-key 0123456789", // custom: trimmed only
		"My-Own-Key-0123456789":                    "My-Own-Key-0123456789",
		"":                                         "",
		" \n":                                      "",
	}
	for in, want := range cases {
		if got := licensing.NormalizeKey(in); got != want {
			t.Errorf("NormalizeKey(%q) = %q, want %q", in, got, want)
		}
	}
	for range 20 {
		if k := licensing.NewLicenseKey(); licensing.NormalizeKey(k) != k {
			t.Errorf("a generated key %q is not canonical", k)
		}
	}
}

// A supplied key must be hard to guess (issue 11 item 16): the rule is
// stated in the error, which names the field.
func TestSuppliedKeyStrength(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite", licensing.PolicyInput{})
	ctx := context.Background()
	weak := map[string]string{
		"sixteen a":           strings.Repeat("a", 16),
		"short":               "short",
		"fifteen":             "abcdefghijklmno",
		"two letters":         "abababababababababab",
		"repeated pattern":    "abcdefghabcdefghabcd",
		"repeated dashed":     "abcd-efgh-abcd-efgh-abcd-efgh",
		"seven distinct":      "abcdefg-gfedcba-abcdefg",
		"dashes and spaces":   "a-b-c-d- - - - - - - - - - -",
		"control character":   "abcdefgh\x00ijklmnop",
		"generated format aa": "NZL-AAAAAA-AAAAAA-AAAAAA-AAAAAA-AAAAAA",
		"too long":            strings.Repeat("abcdefghijk", 24),
		"blank":               "                    ",
	}
	for name, key := range weak {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.cust.ID, Key: key})
			wantCode(t, err, licensing.EInvalid)
			if msg := licensing.ErrorMessage(err); !strings.HasPrefix(msg, "key: ") || !strings.Contains(msg, "8 distinct characters") {
				t.Errorf("message %q does not name key or state the rule", msg)
			}
		})
	}
	strong := map[string]string{
		"custom":         "MY-OWN-KEY-0123456789",
		"padded":         "  Acme 2026 site licence #42\n",
		"pasted nzl":     "nzl abcdef ghijk2 lmnop3 qrstu4 vwxyz7",
		"eight distinct": "abcdefgh-hgfedcba",
	}
	for name, key := range strong {
		t.Run(name, func(t *testing.T) {
			l := f.license(t, licensing.LicenseInput{Key: key})
			if l.Key != licensing.NormalizeKey(key) {
				t.Errorf("created key %q, want %q", l.Key, licensing.NormalizeKey(key))
			}
			if _, err := f.svc.Leasing.Validate(ctx, key, ""); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.cust.ID, Key: key})
			wantCode(t, err, licensing.EConflict)
		})
	}
	if v, _ := f.svc.Leasing.Validate(ctx, "NZL-ABCDEF-GHIJK2-LMNOP3-QRSTU4-VWXYZ7", ""); v == nil || !v.Valid {
		t.Errorf("the pasted generated-format key was not stored canonical: %+v", v)
	}
}

// Every client path finds a license by its key as pasted from an email
// (issue 11 item 20).
func TestPastedKeyVariants(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 3, Floating: true, HeartbeatWindowSeconds: 600})
			lic := f.license(t, licensing.LicenseInput{})
			key := lic.Key
			variants := map[string]string{
				"lower case":       strings.ToLower(key),
				"no dashes":        strings.ReplaceAll(key, "-", ""),
				"spaces":           strings.ReplaceAll(key, "-", " "),
				"trailing newline": key + "\n",
				"surrounded":       " \t" + strings.ToLower(strings.ReplaceAll(key, "-", "")) + "\r\n",
			}
			for name, v := range variants {
				t.Run(name, func(t *testing.T) {
					r := req(v, "fingerprint-"+strings.ReplaceAll(name, " ", "-"))
					if val, err := f.svc.Leasing.Validate(ctx, v, ""); err != nil || !val.Valid {
						t.Fatalf("validate: %+v %v", val, err)
					}
					if _, err := f.svc.Leasing.Activate(ctx, r); err != nil {
						t.Fatalf("activate: %v", err)
					}
					if _, err := f.svc.Leasing.Renew(ctx, r); err != nil {
						t.Fatalf("renew: %v", err)
					}
					if _, _, err := f.svc.Leasing.Heartbeat(ctx, r); err != nil {
						t.Fatalf("heartbeat: %v", err)
					}
					if _, _, err := f.svc.Leasing.Usable(ctx, licensing.LicenseRef{Key: v}, r.Fingerprint); err != nil {
						t.Fatalf("usable (release downloads): %v", err)
					}
					if val, err := f.svc.Leasing.Validate(ctx, v, r.Fingerprint); err != nil || !val.Valid {
						t.Fatalf("validate with fingerprint: %+v %v", val, err)
					}
					if err := f.svc.Leasing.Deactivate(ctx, r); err != nil {
						t.Fatalf("deactivate: %v", err)
					}
					off := licensing.OfflineActivation{Request: req(v, "offline-"+r.Fingerprint), Product: lic.ProductID}
					if _, err := f.svc.Leasing.ActivateOffline(ctx, off); err != nil {
						t.Fatalf("offline activation: %v", err)
					}
					// An offline machine's seat frees once its lease has
					// ended (issue 22), not on a request naming its key
					// and fingerprint.
					if err := f.svc.Leasing.Deactivate(ctx, off.Request); licensing.ErrorCode(err) != licensing.EConflict {
						t.Fatalf("deactivate offline before its lease ended: %v, want conflict", err)
					}
					f.clock.Add(licensing.MaxLeaseTTL + time.Second)
					if err := f.svc.Leasing.Deactivate(ctx, off.Request); err != nil {
						t.Fatalf("deactivate offline: %v", err)
					}
				})
			}
			// A supplied key is trimmed, but its case and inner characters count.
			custom := f.license(t, licensing.LicenseInput{Key: "My-Own-Key-0123456789"})
			if val, err := f.svc.Leasing.Validate(ctx, custom.Key+"\n", ""); err != nil || !val.Valid {
				t.Errorf("custom key with a newline: %+v %v", val, err)
			}
			for _, v := range []string{"my-own-key-0123456789", "MyOwnKey0123456789"} {
				if val, err := f.svc.Leasing.Validate(ctx, v, ""); err != nil || val.Valid {
					t.Errorf("custom key variant %q: %+v %v", v, val, err)
				}
			}
		})
	}
}

func keyHashOf(t *testing.T, st *storage.Store, licenseID string) string {
	t.Helper()
	var h string
	if err := st.DB().Raw("SELECT key_hash FROM licenses WHERE id = ?", licenseID).Scan(&h).Error; err != nil {
		t.Fatal(err)
	}
	return h
}

func tokenHashOf(t *testing.T, st *storage.Store, id string) string {
	t.Helper()
	var h string
	if err := st.DB().Raw("SELECT hash FROM api_tokens WHERE id = ?", id).Scan(&h).Error; err != nil {
		t.Fatal(err)
	}
	return h
}

// Keys and tokens are stored keyed (HMAC under the server secret): not the
// bare SHA-256, and services with another secret find nothing.
func TestSecretsHashedWithServerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", licensing.PolicyInput{})
	lic := f.license(t, licensing.LicenseInput{})
	tok, err := f.svc.Access.CreateToken(ctx, licensing.TokenInput{Name: "ci", Role: licensing.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if h := keyHashOf(t, f.store, lic.ID); h == licensing.SecretHash(lic.Key) || len(h) != 64 {
		t.Errorf("license key stored as %q: unkeyed SHA-256 or not hex", h)
	}
	if h := tokenHashOf(t, f.store, tok.Token.ID); h == licensing.SecretHash(tok.Secret) || len(h) != 64 {
		t.Errorf("token stored as %q: unkeyed SHA-256 or not hex", h)
	}
	k := make([]byte, 32)
	k[0] = 1
	other, err := licensing.NewSecretHasher(k)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := licensing.NewServices(storage.Stores(f.store), licensing.Deps{Secrets: other})
	if v, err := elsewhere.Leasing.Validate(ctx, lic.Key, ""); err != nil || v.Valid || v.Code != "not_found" {
		t.Errorf("another server secret found the license: %+v %v", v, err)
	}
	_, err = elsewhere.Access.Authenticate(ctx, tok.Secret)
	wantCode(t, err, licensing.EUnauthorized)
	if _, err := licensing.NewSecretHasher(k[:31]); err == nil {
		t.Error("a 31-byte hashing key was accepted")
	}
}

// Rows from before keyed hashing hold the bare SHA-256: the key still
// works, and its first use rewrites the row to the keyed hash, once even
// under concurrent first uses (issue 11 item 16).
func TestLegacyHashesMigrateOnFirstUse(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{})
			lics := []*licensing.CreatedLicense{f.license(t, licensing.LicenseInput{}), f.license(t, licensing.LicenseInput{Key: "Legacy-Custom-Key-42"})}
			keyed := map[string]string{}
			for _, l := range lics {
				keyed[l.ID] = keyHashOf(t, f.store, l.ID)
				if err := f.store.DB().Exec("UPDATE licenses SET key_hash = ? WHERE id = ?", licensing.SecretHash(l.Key), l.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
			// A generated key, pasted in lower case, activates (in the
			// locking transaction) and migrates.
			if _, err := f.svc.Leasing.Activate(ctx, req(strings.ToLower(lics[0].Key), "fingerprint-a")); err != nil {
				t.Fatal(err)
			}
			if got := keyHashOf(t, f.store, lics[0].ID); got != keyed[lics[0].ID] {
				t.Errorf("after use the row holds %q, want the keyed hash %q", got, keyed[lics[0].ID])
			}
			// Concurrent first uses of the other all succeed.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					v, err := f.svc.Leasing.Validate(ctx, lics[1].Key, "")
					if err == nil && !v.Valid {
						err = licensing.Errorf(licensing.EInternal, "not valid: %s", v.Detail)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := keyHashOf(t, f.store, lics[1].ID); got != keyed[lics[1].ID] {
				t.Errorf("after concurrent use the row holds %q, want %q", got, keyed[lics[1].ID])
			}
			// A supplied key cannot be given again while its row is legacy.
			l3 := f.license(t, licensing.LicenseInput{Key: "Another-Legacy-Key-7"})
			if err := f.store.DB().Exec("UPDATE licenses SET key_hash = ? WHERE id = ?", licensing.SecretHash(l3.Key), l3.ID).Error; err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.cust.ID, Key: l3.Key})
			wantCode(t, err, licensing.EConflict)

			// API tokens likewise.
			tok, err := f.svc.Access.CreateToken(ctx, licensing.TokenInput{Name: "ci", Role: licensing.RoleReadOnly})
			if err != nil {
				t.Fatal(err)
			}
			want := tokenHashOf(t, f.store, tok.Token.ID)
			if err := f.store.DB().Exec("UPDATE api_tokens SET hash = ? WHERE id = ?", licensing.SecretHash(tok.Secret), tok.Token.ID).Error; err != nil {
				t.Fatal(err)
			}
			for range 2 {
				a, err := f.svc.Access.Authenticate(ctx, tok.Secret)
				if err != nil || a.TokenID != tok.Token.ID {
					t.Fatalf("legacy token: %+v %v", a, err)
				}
			}
			if got := tokenHashOf(t, f.store, tok.Token.ID); got != want {
				t.Errorf("token row holds %q after use, want %q", got, want)
			}
		})
	}
}

// A new NARCIDI_ADMIN_TOKEN replaces the bootstrap token: the old one is
// revoked in the same transaction, both changes audited, and the same
// secret again changes nothing (issue 11 item 15).
func TestBootstrapTokenReplaced(t *testing.T) {
	t.Parallel()
	const a, b = "bootstrap-secret-A-0123456789", "bootstrap-secret-B-0123456789"
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{})
			events := func(action string) []licensing.Event {
				t.Helper()
				es, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{Action: action}, licensing.Page{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				return es
			}
			other, err := f.svc.Access.CreateToken(ctx, licensing.TokenInput{Name: "bootstrap admin", Role: licensing.RoleAdmin})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{a, a} {
				if g, err := f.svc.Access.BootstrapAdminToken(ctx, s); err != nil || g != "" {
					t.Fatal(g, err)
				}
			}
			actA, err := f.svc.Access.Authenticate(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			// B, from two processes starting at once.
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					if _, err := f.svc.Access.BootstrapAdminToken(ctx, b); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			_, err = f.svc.Access.Authenticate(ctx, a)
			wantCode(t, err, licensing.EUnauthorized)
			actB, err := f.svc.Access.Authenticate(ctx, b)
			if err != nil || actB.Role != licensing.RoleAdmin {
				t.Fatalf("B: %+v %v", actB, err)
			}
			// A token an admin created, even named alike, is no bootstrap token.
			if _, err := f.svc.Access.Authenticate(ctx, other.Secret); err != nil {
				t.Errorf("an API-created token was revoked: %v", err)
			}
			created, revoked := events(licensing.ActionTokenCreated), events(licensing.ActionTokenRevoked)
			if len(created) != 3 || len(revoked) != 1 || revoked[0].TargetID != actA.TokenID || created[2].TargetID != actB.TokenID {
				t.Fatalf("audit: created %+v, revoked %+v", created, revoked)
			}
			if r := revoked[0]; r.ActorName != "bootstrap" || !strings.Contains(r.Reason, "NARCIDI_ADMIN_TOKEN") {
				t.Errorf("revocation audited as %q / %q", r.ActorName, r.Reason)
			}
			// B again: nothing changes.
			if _, err := f.svc.Access.BootstrapAdminToken(ctx, b); err != nil {
				t.Fatal(err)
			}
			n, err := f.store.CountAPITokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != 3 || len(events(licensing.ActionTokenCreated)) != 3 || len(events(licensing.ActionTokenRevoked)) != 1 {
				t.Errorf("restart with the same secret changed things: %d tokens", n)
			}
			if _, err := f.svc.Access.Authenticate(ctx, b); err != nil {
				t.Error(err)
			}
		})
	}
}

// A token's last use is recorded to the minute: the first request writes
// it, the next ones within TokenUseResolution write nothing, a later one
// moves it; listing and reading the token show it. Both databases.
func TestTokenLastUsed(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{})
			tok, err := f.svc.Access.CreateToken(ctx, licensing.TokenInput{Name: "ci", Role: licensing.RoleReadOnly})
			if err != nil {
				t.Fatal(err)
			}
			lastUsed := func() *time.Time {
				t.Helper()
				got, err := f.store.GetAPIToken(ctx, tok.Token.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got.LastUsedAt
			}
			if at := lastUsed(); at != nil {
				t.Fatalf("a new token was last used at %v", at)
			}
			auth := func() {
				t.Helper()
				if _, err := f.svc.Access.Authenticate(ctx, tok.Secret); err != nil {
					t.Fatal(err)
				}
			}
			first := f.clock.Now()
			auth()
			if at := lastUsed(); at == nil || !at.Equal(first) {
				t.Fatalf("after the first request: last used %v, want %v", at, first)
			}
			f.clock.Add(30 * time.Second)
			auth()
			if at := lastUsed(); !at.Equal(first) {
				t.Errorf("30 s later: last used %v, want it kept at %v (one write a minute)", at, first)
			}
			f.clock.Add(31 * time.Second)
			auth()
			if at := lastUsed(); !at.Equal(f.clock.Now()) {
				t.Errorf("61 s after the first: last used %v, want %v", at, f.clock.Now())
			}
			list, err := f.svc.Access.Tokens(ctx, licensing.Page{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range list {
				if x.ID == tok.Token.ID && (x.LastUsedAt == nil || !x.LastUsedAt.Equal(f.clock.Now())) {
					t.Errorf("the token list shows last used %v", x.LastUsedAt)
				}
			}
		})
	}
}
