package licensing

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"
)

// Passwords: the console's users (licensing/users) and the portal's
// customers (licensing/portal) keep them the same way and by the same rule.

// MinPasswordLength follows NIST SP 800-63B (at least 8; we ask 12).
const MinPasswordLength = 12

// CheckPassword is the rule a new password must meet: EInvalid otherwise.
func CheckPassword(p string) error {
	if len([]rune(p)) < MinPasswordLength {
		return FieldErrorf("password", "the password must have at least %d characters", MinPasswordLength)
	}
	if len(p) > 256 {
		return FieldErrorf("password", "the password must have at most 256 bytes")
	}
	return nil
}

// argon2id parameters: OWASP's first recommendation (19 MiB, 2 passes, 1
// lane), kept in each hash so they can be raised later.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// cheapHashes is set by UseCheapPasswordHashes, in test binaries only.
var cheapHashes atomic.Bool

// UseCheapPasswordHashes makes HashPassword use argon2id's smallest cost
// (1 pass over 8 KiB) for the rest of the process. Under the race detector
// one hash at the real cost takes about a second, and the console's and the
// end-to-end tests make hundreds of them; the cheap ones are still argon2id
// PHC strings that VerifyPassword checks by the parameters they record, so
// every rule around them runs as in production. It panics outside a test
// binary: no server can be made to use it.
func UseCheapPasswordHashes() {
	if !testing.Testing() {
		panic("licensing: UseCheapPasswordHashes called outside a test binary")
	}
	cheapHashes.Store(true)
}

// HashPassword returns the PHC string of an argon2id hash of p.
func HashPassword(p string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", Wrap(EInternal, err, "read random salt")
	}
	var t, mem uint32 = argonTime, argonMemory
	if cheapHashes.Load() {
		t, mem = 1, 8
	}
	key := idKey([]byte(p), salt, t, mem, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, mem, t, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks p against a PHC string made by HashPassword (with
// whatever parameters it records).
func VerifyPassword(phc, p string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &threads); err != nil || mem > 1<<20 || t > 16 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := idKey([]byte(p), salt, t, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// hashing bounds the argon2id computations running at once. Each takes
// its memory parameter (19 MiB) for its whole run, and sign-in forms are
// open to anyone: twenty wrong passwords at once held 380 MiB. One at a
// time keeps a password's memory to one block whatever the load (about
// 30 ms each on one core, so 30 sign-ins a second, far above what people
// type; the per-IP sign-in limits keep an attacker's queue short).
var hashing = make(chan struct{}, 1)

// hashesRunning and hashesPeak count the computations inside the bound
// (the test reads the peak).
var hashesRunning, hashesPeak atomic.Int32

func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	hashing <- struct{}{}
	for n, p := hashesRunning.Add(1), hashesPeak.Load(); n > p && !hashesPeak.CompareAndSwap(p, n); p = hashesPeak.Load() {
	}
	key := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	hashesRunning.Add(-1)
	// The block is garbage now. Left to the collector, the heap's goal
	// stays at twice the block and the process keeps it from the system
	// until the next collection, which an idle server runs every two
	// minutes only; a collection that returns it now costs a few
	// milliseconds beside the hash's tens. (A test binary's cheap hash
	// has no block worth a collection.)
	if memory >= argonMemory {
		debug.FreeOSMemory()
	}
	<-hashing
	return key
}
