package licensing

import (
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
