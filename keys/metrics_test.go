package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// TestCollector: the keyring's series read at scrape time, before and
// after a rotation, with a root certificate inside and past its window.
func TestCollector(t *testing.T) {
	root, roots := newRoot(t)
	kr, err := Open(t.TempDir(), master(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	clock := now
	c := NewCollector(kr, func() time.Time { return clock })
	series := func(active, retired, rootInUse, certified int, expiry *time.Time) string {
		s := fmt.Sprintf(`# HELP narcidi_signing_keys Lease signing keys by status (active, retired).
# TYPE narcidi_signing_keys gauge
narcidi_signing_keys{status="active"} %d
narcidi_signing_keys{status="retired"} %d
# HELP narcidi_signing_root_in_use 1 if any signing key has a root certificate attached (apps may pin the root), else 0.
# TYPE narcidi_signing_root_in_use gauge
narcidi_signing_root_in_use %d
# HELP narcidi_signing_active_key_certified 1 if the active signing key has a root certificate valid now, else 0.
# TYPE narcidi_signing_active_key_certified gauge
narcidi_signing_active_key_certified %d
`, active, retired, rootInUse, certified)
		if expiry != nil {
			s += fmt.Sprintf(`# HELP narcidi_signing_active_key_certificate_expiry_timestamp_seconds Unix time at which the active key's root certificate ends (absent without one).
# TYPE narcidi_signing_active_key_certificate_expiry_timestamp_seconds gauge
narcidi_signing_active_key_certificate_expiry_timestamp_seconds %d
`, expiry.Unix())
		}
		return s
	}
	check := func(step, want string) {
		t.Helper()
		if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
			t.Errorf("%s: %v", step, err)
		}
	}

	check("no key", series(0, 0, 0, 0, nil))
	first, err := kr.Generate()
	if err != nil {
		t.Fatal(err)
	}
	check("one key", series(1, 0, 0, 0, nil))
	cert, err := root.Certify(kr.PublicKeys()[first], now.Add(-time.Minute), now.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AttachCertificate(cert, roots); err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Hour)
	check("certified", series(1, 0, 1, 1, &exp))
	clock = now.Add(2 * time.Hour)
	check("certificate past its window", series(1, 0, 1, 0, &exp))
	if _, err := kr.Generate(); err != nil {
		t.Fatal(err)
	}
	// The new active key has no certificate; the retired one still pins
	// the root.
	check("rotated", series(1, 1, 1, 0, nil))
}

// newRoot makes an offline root key and the key set apps pin it with.
func newRoot(t *testing.T) (*RootKey, *verifier.KeySet) {
	t.Helper()
	offline := t.TempDir()
	if _, err := GenerateRoot(offline); err != nil {
		t.Fatal(err)
	}
	root, err := LoadRootKey(filepath.Join(offline, RootPrivateFile))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := verifier.NewKeySet(map[string]ed25519.PublicKey{root.KID: root.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return root, roots
}

type fakeSigner struct{ err error }

func (f fakeSigner) SignLease(context.Context, verifier.LeaseClaims) (string, error) {
	time.Sleep(time.Millisecond)
	return "token", f.err
}

// TestTimedSigner: every signature is observed, failed ones too, and the
// signer's answer passes through; a second registration is refused.
func TestTimedSigner(t *testing.T) {
	reg := prometheus.NewRegistry()
	boom := errors.New("boom")
	s, err := NewTimedSigner(reg, fakeSigner{})
	if err != nil {
		t.Fatal(err)
	}
	failing, err := NewTimedSigner(prometheus.NewRegistry(), fakeSigner{err: boom})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if tok, err := s.SignLease(context.Background(), verifier.LeaseClaims{}); tok != "token" || err != nil {
			t.Fatalf("SignLease = %q, %v", tok, err)
		}
	}
	if _, err := failing.SignLease(context.Background(), verifier.LeaseClaims{}); !errors.Is(err, boom) {
		t.Fatalf("failing SignLease: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "narcidi_lease_signing_duration_seconds" {
		t.Fatalf("gathered %v", mfs)
	}
	h := mfs[0].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 0.003 {
		t.Errorf("histogram: %d samples, %v s in all; want 3 of at least 1 ms each", h.GetSampleCount(), h.GetSampleSum())
	}
	if _, err := NewTimedSigner(reg, fakeSigner{}); err == nil {
		t.Error("the histogram was registered twice on one registry")
	}
}
