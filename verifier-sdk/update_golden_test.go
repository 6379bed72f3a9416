package verifier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Golden vectors of the release wire formats (testdata/update/): what a
// server signs with the fixed test keys, byte for byte. They are checked
// forever: a change that breaks them breaks every app in the field.
// Regenerate (only for a deliberate new format) with NARCIDI_UPDATE_GOLDEN=1.

func goldenMetadata(t *testing.T) []byte {
	rel := updateRelease("1.2.3", []byte("golden artifact bytes\n"), testReleaseKey)
	return signMetadata(t, testMetaKey, 7, time.Unix(1_900_000_000, 0), rel)
}

func TestUpdateGoldenVectors(t *testing.T) {
	dir := filepath.Join("testdata", "update")
	stmt := ArtifactStatement(updateProduct, "1.2.3", "linux", "amd64", "app", 22,
		"ab", "cd")
	doc := goldenMetadata(t)
	var sm SignedMetadata
	_ = json.Unmarshal(doc, &sm)
	payload, _ := base64.StdEncoding.DecodeString(sm.Payload)
	payload[len(payload)-2] ^= 1 // one bit of the payload flipped
	sm.Payload = base64.StdEncoding.EncodeToString(payload)
	tampered, _ := json.Marshal(sm)
	files := map[string][]byte{"artifact-statement.txt": stmt, "metadata.json": doc, "metadata-tampered.json": tampered}
	if os.Getenv("NARCIDI_UPDATE_GOLDEN") == "1" {
		_ = os.MkdirAll(dir, 0o755)
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the wire format changed:\n got  %s\n want %s", name, want, got)
		}
	}
	u := newTestUpdater(t, "http://unused", "")
	u.cfg.Clock = func() time.Time { return time.Unix(1_899_999_999, 0) }
	stored, _ := os.ReadFile(filepath.Join(dir, "metadata.json"))
	md, err := u.VerifyMetadata(stored)
	if err != nil || md.Version != 7 || md.Releases[0].Version != "1.2.3" {
		t.Fatalf("golden metadata: %+v %v", md, err)
	}
	bad, _ := os.ReadFile(filepath.Join(dir, "metadata-tampered.json"))
	if _, err := u.VerifyMetadata(bad); !errors.Is(err, ErrUpdateBadSignature) {
		t.Fatalf("tampered golden metadata: %v", err)
	}
	u.cfg.Clock = func() time.Time { return time.Unix(1_900_000_000, 0) }
	if _, err := u.VerifyMetadata(stored); !errors.Is(err, ErrUpdateExpired) {
		t.Fatalf("golden metadata at its expiry: %v", err)
	}
}
