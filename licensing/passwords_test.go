package licensing

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
)

// TestPasswordHashesOneAtATime: wrong passwords sent at once (a sign-in
// form is open to anyone) are checked one after the other, so their
// argon2id blocks (19 MiB each) are never held together.
func TestPasswordHashesOneAtATime(t *testing.T) {
	phc, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	hashesPeak.Store(0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if VerifyPassword(phc, "wrong password here") {
				t.Error("a wrong password verified")
			}
		}()
	}
	wg.Wait()
	if !VerifyPassword(phc, "correct horse battery") {
		t.Error("the right password did not verify")
	}
	if p := hashesPeak.Load(); p != 1 {
		t.Errorf("%d password hashes ran at once, want 1", p)
	}
}

// New hashes carry OWASP's cost unless a test binary asked for cheap ones
// (UseCheapPasswordHashes, which this package never calls), and a cheap
// hash still verifies by the parameters it records.
func TestPasswordHashCost(t *testing.T) {
	t.Parallel()
	phc, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(phc, "$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not record the production cost", phc)
	}
	cheap := "$argon2id$v=19$m=8,t=1,p=1$" + strings.Join(strings.Split(phc, "$")[4:5], "")
	key := idKey([]byte("correct horse battery"), mustB64(t, strings.Split(phc, "$")[4]), 1, 8, 1, 32)
	cheap += "$" + base64.RawStdEncoding.EncodeToString(key)
	if !VerifyPassword(cheap, "correct horse battery") || VerifyPassword(cheap, "wrong horse battery") {
		t.Error("a cheap hash does not verify by its own parameters")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
