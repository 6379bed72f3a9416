package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func seededKey(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

var (
	testMetaKey    = seededKey(1)
	testReleaseKey = seededKey(2)
	testOtherKey   = seededKey(3)
	updateNow      = time.Unix(1_800_000_000, 0)
)

const updateProduct = "0190a1b2-0000-7000-8000-000000000001"

// release builds a metadata entry for data, signed by key.
func updateRelease(version string, data []byte, key ed25519.PrivateKey) ReleaseEntry {
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	a := ReleaseArtifact{Platform: "linux", Arch: "amd64", Filename: "app", Length: int64(len(data)),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}
	a.KeyID = ReleaseKeyID(key.Public().(ed25519.PublicKey))
	a.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, ArtifactStatement(updateProduct, version, a.Platform, a.Arch, a.Filename, a.Length, a.SHA256, a.SHA512)))
	return ReleaseEntry{Version: version, Channel: "stable", Artifacts: []ReleaseArtifact{a}}
}

// signMetadata signs a metadata document as the server does.
func signMetadata(t testing.TB, key ed25519.PrivateKey, version int64, expires time.Time, rels ...ReleaseEntry) []byte {
	md := ReleaseMetadata{Type: ReleaseMetadataType, SpecVersion: 1, ProductID: updateProduct, Channel: "stable",
		Version: version, IssuedAt: updateNow.Unix(), Expires: expires.Unix(), Releases: rels}
	payload, _ := json.Marshal(md)
	doc, _ := json.Marshal(SignedMetadata{Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []MetadataSignature{{
		KeyID: ReleaseKeyID(key.Public().(ed25519.PublicKey)), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, MetadataSigningInput(payload))),
	}}})
	return doc
}

// fakeReleaseServer plays the client release routes and the blob store.
type fakeReleaseServer struct {
	mu    sync.Mutex
	doc   []byte
	bytes []byte // what the store serves
	*httptest.Server
}

func newFakeReleaseServer(t *testing.T) *fakeReleaseServer {
	f := &fakeReleaseServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/client/releases/metadata", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.doc)
	})
	mux.HandleFunc("POST /v1/client/releases/download", func(w http.ResponseWriter, r *http.Request) {
		var req ReleaseDownloadRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.LicenseKey != "NZL-GOOD" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(403)
			w.Write([]byte(`{"status":403,"code":"forbidden"}`))
			return
		}
		w.Header().Set("Location", "/blob/app")
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("GET /blob/app", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Write(f.bytes)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeReleaseServer) serve(doc, data []byte) {
	f.mu.Lock()
	f.doc, f.bytes = doc, data
	f.mu.Unlock()
}

func newTestUpdater(t *testing.T, base, state string) *Updater {
	u, err := NewUpdater(UpdaterConfig{
		Client: &Client{BaseURL: base}, MetadataKeys: []ed25519.PublicKey{testMetaKey.Public().(ed25519.PublicKey)},
		ReleaseKeys: []ed25519.PublicKey{testReleaseKey.Public().(ed25519.PublicKey)}, Product: updateProduct,
		Platform: "linux", Arch: "amd64", StateFile: state, Clock: func() time.Time { return updateNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var goodCreds = Credentials{LicenseKey: "NZL-GOOD"}

func TestUpdateCheckAndDownload(t *testing.T) {
	f := newFakeReleaseServer(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "update-state.json")
	u := newTestUpdater(t, f.URL, state)
	v2 := []byte("version 1.1.0 of the app")
	f.serve(signMetadata(t, testMetaKey, 5, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey), updateRelease("1.0.0", []byte("old"), testReleaseKey)), v2)
	ctx := context.Background()

	if upd, err := u.Check(ctx, goodCreds, "1.1.0"); err != nil || upd != nil {
		t.Fatalf("up to date: %v %v", upd, err)
	}
	upd, err := u.Check(ctx, goodCreds, "1.0.0")
	if err != nil || upd == nil || upd.Version != "1.1.0" {
		t.Fatalf("Check = %+v, %v", upd, err)
	}
	dst := filepath.Join(dir, "app.new")
	if err := u.Download(ctx, goodCreds, upd, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, v2) {
		t.Fatalf("downloaded %q", b)
	}
	if u.NewestSeen() != "1.1.0" {
		t.Errorf("newest seen %q", u.NewestSeen())
	}
	// An unlicensed download is the server's typed refusal.
	var apiErr *APIError
	if err := u.Download(ctx, Credentials{LicenseKey: "NZL-BAD"}, upd, dst); !errors.As(err, &apiErr) || apiErr.Code() != "forbidden" {
		t.Errorf("unlicensed: %v", err)
	}

	// The state survives a restart: an older metadata version and an older
	// newest release are both refused by a new Updater.
	u2 := newTestUpdater(t, f.URL, state)
	f.serve(signMetadata(t, testMetaKey, 4, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey)), v2)
	if _, err := u2.Check(ctx, goodCreds, "1.0.0"); !errors.Is(err, ErrUpdateReplayed) {
		t.Errorf("replayed older metadata: %v, want %v", err, ErrUpdateReplayed)
	}
	f.serve(signMetadata(t, testMetaKey, 6, updateNow.Add(time.Hour), updateRelease("1.0.0", []byte("old"), testReleaseKey)), []byte("old"))
	// 1.1.0 yanked: the newest offered is below the newest accepted. That
	// is no update (not an error), and installing it is still refused.
	if upd, err := u2.Check(ctx, goodCreds, "1.0.0"); err != nil || upd != nil {
		t.Errorf("after a yank of the newest: %+v %v, want no update", upd, err)
	}
	if err := u2.Download(ctx, goodCreds, &Update{Version: "1.0.0", Artifact: upd.Artifact}, dst+"2"); !errors.Is(err, ErrUpdateRollback) {
		t.Errorf("download of an older version: %v", err)
	}
}

func TestUpdateRefusals(t *testing.T) {
	v2 := []byte("version 1.1.0 of the app")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		doc  []byte
		data []byte
		want error
	}{
		"tampered artifact": {signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey)), bytes.ToUpper(v2), ErrUpdateHashMismatch},
		"longer artifact":   {signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey)), append(bytes.Clone(v2), '!'), ErrUpdateLengthMismatch},
		"shorter artifact":  {signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey)), v2[1:], ErrUpdateLengthMismatch},
		"wrong signature":   {signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testOtherKey)), v2, ErrUpdateArtifactSignature},
		"metadata forged":   {signMetadata(t, testOtherKey, 1, updateNow.Add(time.Hour), updateRelease("1.1.0", v2, testReleaseKey)), v2, ErrUpdateBadSignature},
		"metadata expired":  {signMetadata(t, testMetaKey, 1, updateNow.Add(-time.Second), updateRelease("1.1.0", v2, testReleaseKey)), v2, ErrUpdateExpired},
		"not metadata":      {[]byte(`{"payload":"e30=","signatures":[]}`), v2, ErrUpdateBadSignature},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeReleaseServer(t)
			f.serve(tc.doc, tc.data)
			u := newTestUpdater(t, f.URL, "")
			dst := filepath.Join(t.TempDir(), "app.new")
			upd, err := u.Check(ctx, goodCreds, "1.0.0")
			if err == nil {
				err = u.Download(ctx, goodCreds, upd, dst)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ue *UpdateError
			if !errors.As(err, &ue) || ue.Code != tc.want.(*UpdateError).Code {
				t.Errorf("not a typed error: %#v", err)
			}
			if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused file was left at the destination")
			}
			if u.NewestSeen() != "" {
				t.Errorf("a refused release became the newest seen")
			}
		})
	}
}

// A metadata document signed with one payload cannot carry another: the
// signature covers the exact bytes.
func TestUpdateMetadataPayloadSwap(t *testing.T) {
	a := signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour))
	b := signMetadata(t, testMetaKey, 9, updateNow.Add(time.Hour))
	var sa, sb SignedMetadata
	_ = json.Unmarshal(a, &sa)
	_ = json.Unmarshal(b, &sb)
	sa.Payload = sb.Payload
	swapped, _ := json.Marshal(sa)
	u := newTestUpdater(t, "http://unused", "")
	if _, err := u.VerifyMetadata(swapped); !errors.Is(err, ErrUpdateBadSignature) {
		t.Fatalf("swapped payload: %v", err)
	}
}

// Signature checking cannot be switched off by leaving keys out.
func TestUpdaterNeedsKeys(t *testing.T) {
	pub := testMetaKey.Public().(ed25519.PublicKey)
	for name, cfg := range map[string]UpdaterConfig{
		"no metadata key": {Product: updateProduct, ReleaseKeys: []ed25519.PublicKey{pub}},
		"no release key":  {Product: updateProduct, MetadataKeys: []ed25519.PublicKey{pub}},
		"empty key":       {Product: updateProduct, MetadataKeys: []ed25519.PublicKey{{}}, ReleaseKeys: []ed25519.PublicKey{pub}},
		"nil key":         {Product: updateProduct, MetadataKeys: []ed25519.PublicKey{nil}, ReleaseKeys: []ed25519.PublicKey{pub}},
	} {
		if _, err := NewUpdater(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReplaceExecutable(t *testing.T) {
	dir := t.TempDir()
	target, next := filepath.Join(dir, "app"), filepath.Join(dir, "app.new")
	os.WriteFile(target, []byte("v1"), 0o755)
	os.WriteFile(next, []byte("v2"), 0o600)
	if err := ReplaceExecutable(next, target); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(target)
	fi, _ := os.Stat(target)
	if string(b) != "v2" || fi.Mode().Perm() != 0o755 {
		t.Fatalf("target = %q %v", b, fi.Mode())
	}
	if old, _ := os.ReadFile(target + ".old"); string(old) != "v1" {
		t.Errorf("old = %q", old)
	}
}

func TestCompareVersions(t *testing.T) {
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareVersions(order[i], order[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	for _, bad := range []string{"", "1", "1.2", "01.2.3", "1.2.3-", "1.2.3-01", "v1.2.3", "1.2.3+", "1.2.3-a..b"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

// With HasEntitlement set, Check passes over releases gated behind an
// entitlement the license lacks.
func TestUpdateSkipsUnentitled(t *testing.T) {
	f := newFakeReleaseServer(t)
	u, err := NewUpdater(UpdaterConfig{
		Client: &Client{BaseURL: f.URL}, MetadataKeys: []ed25519.PublicKey{testMetaKey.Public().(ed25519.PublicKey)},
		ReleaseKeys: []ed25519.PublicKey{testReleaseKey.Public().(ed25519.PublicKey)}, Product: updateProduct,
		Platform: "linux", Arch: "amd64", Clock: func() time.Time { return updateNow },
		HasEntitlement: func(code string) bool { return code == "basic" },
	})
	if err != nil {
		t.Fatal(err)
	}
	pro := updateRelease("2.0.0", []byte("pro"), testReleaseKey)
	pro.Entitlement = "pro-builds"
	basic := updateRelease("1.5.0", []byte("basic"), testReleaseKey)
	basic.Entitlement = "basic"
	f.serve(signMetadata(t, testMetaKey, 1, updateNow.Add(time.Hour), pro, basic, updateRelease("1.0.0", []byte("old"), testReleaseKey)), nil)
	upd, err := u.Check(context.Background(), goodCreds, "1.0.0")
	if err != nil || upd == nil || upd.Version != "1.5.0" {
		t.Fatalf("Check = %+v %v, want 1.5.0", upd, err)
	}
}
