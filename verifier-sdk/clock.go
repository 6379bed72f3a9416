package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultClockTolerance is how far the clock may run back before a
// ClockGuard calls it tampering: enough for NTP steps and daylight-saving
// mistakes, far less than a lease TTL.
const DefaultClockTolerance = 10 * time.Minute

// ClockGuard keeps a signed high-water mark of time: the newest lease's
// issue time and the latest local time seen. Setting the clock back to make
// an expired lease look valid is then caught, as long as the guard's file
// survives. Deleting the file only resets it to the next lease's iat, which
// already bounds the clock from below.
//
// The file is JSON, HMAC-SHA256 signed with the app's secret, written
// atomically (0600):
//
//	{"v":1,"max_iat":<unix s>,"max_seen":<unix s>,"mac":"<hex>"}
//
// A file whose MAC does not verify is reported as ErrClockTampered. Safe for
// concurrent use within a process.
type ClockGuard struct {
	Path      string           // the high-water-mark file (required)
	Secret    []byte           // the app's HMAC key (required); not a secret from a determined attacker who reads the binary, but it stops casual edits
	Tolerance time.Duration    // how far back the clock may go; 0: DefaultClockTolerance
	Clock     func() time.Time // nil: time.Now

	mu sync.Mutex
}

type clockFile struct {
	V       int    `json:"v"`
	MaxIat  int64  `json:"max_iat"`
	MaxSeen int64  `json:"max_seen"`
	MAC     string `json:"mac"`
}

func (g *ClockGuard) mac(maxIat, maxSeen int64) string {
	m := hmac.New(sha256.New, g.Secret)
	m.Write([]byte("narcidi-clock-v1|" + strconv.FormatInt(maxIat, 10) + "|" + strconv.FormatInt(maxSeen, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// Now returns the current time after checking it against the high-water
// mark, and records it. It fails with ErrClockTampered when the clock is
// behind the mark by more than the tolerance.
func (g *ClockGuard) Now() (time.Time, error) { return g.Observe(nil) }

// Observe is Now, also raising the mark to the lease's issue time (a lease
// the server issued proves that time has been reached).
func (g *ClockGuard) Observe(lease *Lease) (time.Time, error) {
	if g.Path == "" || len(g.Secret) == 0 {
		return time.Time{}, errors.New("verifier: ClockGuard needs a Path and a Secret")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.Clock != nil {
		now = g.Clock()
	}
	tol := g.Tolerance
	if tol <= 0 {
		tol = DefaultClockTolerance
	}
	maxIat, maxSeen, err := g.load()
	if err != nil {
		return now, err
	}
	if mark := max(maxIat, maxSeen); now.Add(tol).Before(time.Unix(mark, 0)) {
		return now, fail(CodeClockTampered, "the clock reads "+now.UTC().Format(time.RFC3339)+", behind "+formatTime(mark)+" already seen", nil)
	}
	newIat, newSeen := maxIat, max(maxSeen, now.Unix())
	if lease != nil {
		newIat = max(newIat, lease.Claims.IssuedAt)
	}
	if newIat != maxIat || newSeen != maxSeen {
		if err := g.store(newIat, newSeen); err != nil {
			return now, err
		}
	}
	return now, nil
}

func (g *ClockGuard) load() (maxIat, maxSeen int64, err error) {
	b, err := os.ReadFile(g.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	f, err := parseClockFile(b)
	if err != nil || !hmac.Equal([]byte(f.MAC), []byte(g.mac(f.MaxIat, f.MaxSeen))) {
		return 0, 0, fail(CodeClockTampered, "the time record "+g.Path+" was altered", nil)
	}
	return f.MaxIat, f.MaxSeen, nil
}

func parseClockFile(b []byte) (clockFile, error) {
	var f clockFile
	if len(b) > 4096 {
		return f, errors.New("too large")
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, err
	}
	if f.V != 1 || f.MaxIat < 0 || f.MaxSeen < 0 || f.MaxIat > maxNumericDate || f.MaxSeen > maxNumericDate {
		return f, errors.New("bad time record")
	}
	return f, nil
}

func (g *ClockGuard) store(maxIat, maxSeen int64) error {
	b, err := json.Marshal(clockFile{V: 1, MaxIat: maxIat, MaxSeen: maxSeen, MAC: g.mac(maxIat, maxSeen)})
	if err != nil {
		return err
	}
	return writeFileAtomic(g.Path, b)
}

// writeFileAtomic writes through a temp file (0600) in the same folder,
// fsync and rename: a reader never sees half a file, and a crash leaves the
// old one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(dirOf(path), ".narcidi-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			if i == 0 {
				return path[:1]
			}
			return path[:i]
		}
	}
	return "."
}
