package keys

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Key statuses.
const (
	StatusActive  = "active"  // signs new leases; exactly one at a time
	StatusRetired = "retired" // only verifies what it signed before
)

// KeyInfo describes a key without any private material.
type KeyInfo struct {
	KID       string    `json:"kid"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Record is a key as kept, in a keys folder file (<kid>.json) or a
// database row: the public part, the private seed sealed under the master
// key with the kid as additional data, and the root's certificate. Folder
// and database hold the same sealed bytes, so a folder moves into the
// database as it is (ImportDir) and the database never sees a key in clear.
type Record struct {
	KID           string    `json:"kid"`
	Alg           string    `json:"alg"`
	Public        string    `json:"public"`
	SealedPrivate string    `json:"sealed_private"`
	Nonce         string    `json:"nonce"`
	CreatedAt     time.Time `json:"created_at"`
	Status        string    `json:"status"`
	Cert          string    `json:"-"` // a folder keeps it in <kid>.cert
}

// Store keeps the records in a database shared by every instance. It must
// be safe for several processes at once: AddSigningKey retires and adds in
// one transaction and fails with a licensing.EConflict error when the key
// to retire is no longer active or another key became active meanwhile;
// at most one key is ever active.
type Store interface {
	SigningKeys(ctx context.Context) ([]Record, error)
	AddSigningKey(ctx context.Context, k Record, retire string) error
	// ImportSigningKeys adds the keys not yet there, all retired but the
	// folder's active one, which becomes active only if no key is.
	ImportSigningKeys(ctx context.Context, ks []Record) (int, error)
	SetSigningKeyCert(ctx context.Context, kid, cert string) error
}

// privateKey hides key bytes from every fmt verb and from logs.
type privateKey struct{ k ed25519.PrivateKey }

func (privateKey) String() string               { return "[redacted]" }
func (privateKey) GoString() string             { return "[redacted]" }
func (privateKey) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte("[redacted]")) }
func (privateKey) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

type key struct {
	info   KeyInfo
	public ed25519.PublicKey
	priv   privateKey
	// header is the lease's protected JWS header in base64url followed by
	// ".": the same for every lease this key signs, so it is built once
	// (leaseHeader), when the key is loaded or its certificate attached.
	header string
	cert   string // the root's certificate of this key, if attached (cert.go)
}

// Keyring holds the signing keys of a database (OpenStore) or of one keys
// folder (Open). Safe for concurrent use.
type Keyring struct {
	dir   string
	store Store // when set, the keys live there and dir is unused
	aead  cipher.AEAD
	now   func() time.Time

	mu     sync.RWMutex
	keys   map[string]*key
	active string
}

// Format keeps the sealing key and private keys out of any fmt output.
func (kr *Keyring) Format(f fmt.State, _ rune) {
	if kr.store != nil {
		_, _ = fmt.Fprintf(f, "keys.Keyring{database, keys: %d}", len(kr.List()))
		return
	}
	_, _ = fmt.Fprintf(f, "keys.Keyring{dir: %q, keys: %d}", kr.dir, len(kr.List()))
}

// Open loads every key of dir (created 0700 if missing), decrypting private
// parts with master.
func Open(dir string, master []byte, now func() time.Time) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("the master key must be %d bytes", MasterKeySize)
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	aead, err := derivedGCM(master, purposeKeyFiles)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{dir: dir, aead: aead, now: now}
	if err := kr.Reload(); err != nil {
		return nil, err
	}
	return kr, nil
}

// storeTimeout bounds each database call of a keyring: its methods predate
// the database and take no context.
const storeTimeout = 30 * time.Second

// OpenStore loads every key of st, decrypting private parts with master.
// Any process with the same database and master key gets the same keys.
func OpenStore(st Store, master []byte, now func() time.Time) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("the master key must be %d bytes", MasterKeySize)
	}
	if now == nil {
		now = time.Now
	}
	aead, err := derivedGCM(master, purposeKeyFiles)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{store: st, aead: aead, now: now}
	if err := kr.Reload(); err != nil {
		return nil, err
	}
	return kr, nil
}

// ImportDir copies the keys of a keys folder (earlier versions kept them
// there) into the keyring's database, sealed as they are, and returns how
// many were new. Each key is opened with the master key first, so a folder
// sealed with another master key is refused rather than copied. A folder
// that does not exist imports nothing.
func (kr *Keyring) ImportDir(dir string) (int, error) {
	if kr.store == nil {
		return 0, errors.New("import a keys folder into a database keyring only")
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	recs, err := kr.readDir(dir)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n, err := kr.store.ImportSigningKeys(ctx, recs)
	if err != nil {
		return 0, fmt.Errorf("import keys folder %s: %w", dir, err)
	}
	return n, kr.Reload()
}

// Reload reads the keys folder again (after `narcidi keys generate` ran in
// another process, say). It holds a shared lock on the folder, so it never
// sees a rotation half done.
func (kr *Keyring) Reload() error {
	unlock, err := kr.lockDir(syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	return kr.reloadLocked()
}

// reloadLocked reads the keys again; the caller holds the folder lock.
func (kr *Keyring) reloadLocked() error {
	where := "keys folder " + kr.dir
	var recs []Record
	var err error
	if kr.store != nil {
		where = "the database"
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		recs, err = kr.store.SigningKeys(ctx)
		cancel()
	} else {
		recs, err = kr.readDir(kr.dir)
	}
	if err != nil {
		return err
	}
	keys := map[string]*key{}
	var active []string
	for _, r := range recs {
		k, err := kr.decode(r, where)
		if err != nil {
			return err
		}
		keys[k.info.KID] = k
		if k.info.Status == StatusActive {
			active = append(active, k.info.KID)
		}
	}
	if len(active) > 1 {
		return fmt.Errorf("%s has %d active keys; retire all but one", where, len(active))
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	kr.keys, kr.active = keys, ""
	if len(active) == 1 {
		kr.active = active[0]
	}
	return nil
}

// readDir reads and opens the key files of a folder, with their
// certificates.
func (kr *Keyring) readDir(dir string) ([]Record, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := readPrivateFile(path, "key file", 64<<10)
		if err != nil {
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("key file %s is not valid JSON", path)
		}
		// Opened here, before the name check, so that a key sealed for
		// another kid says so (the kid is the seal's additional data).
		if _, err := kr.decode(r, path); err != nil {
			return nil, err
		}
		if e.Name() != r.KID+".json" {
			return nil, fmt.Errorf("key file %s holds key %s: a key file must be named <kid>.json", path, r.KID)
		}
		if r.Cert, err = readCert(dir, r.KID); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// decode opens a record: checks its form, decrypts the private part and
// matches it to the public part and the kid. where names the record's
// place for errors.
func (kr *Keyring) decode(r Record, where string) (*key, error) {
	pub, err1 := base64.RawURLEncoding.DecodeString(r.Public)
	sealed, err2 := base64.RawURLEncoding.DecodeString(r.SealedPrivate)
	nonce, err3 := base64.RawURLEncoding.DecodeString(r.Nonce)
	if err := errors.Join(err1, err2, err3); err != nil || len(pub) != ed25519.PublicKeySize || len(nonce) != kr.aead.NonceSize() || r.Alg != "EdDSA" {
		return nil, fmt.Errorf("key %s in %s is malformed", r.KID, where)
	}
	seed, err := kr.aead.Open(nil, nonce, sealed, []byte(r.KID))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("cannot decrypt key %q (%s): wrong master key? (or the key was altered)", r.KID, where)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
		return nil, fmt.Errorf("key %s in %s: the private key does not match the public key", r.KID, where)
	}
	if kid, err := thumbprint(pub); err != nil || kid != r.KID {
		return nil, fmt.Errorf("key %s in %s: kid does not match the key", r.KID, where)
	}
	if r.Status != StatusActive && r.Status != StatusRetired {
		return nil, fmt.Errorf("key %s in %s: unknown status %q", r.KID, where, r.Status)
	}
	k, err := newKey(KeyInfo{KID: r.KID, Status: r.Status, CreatedAt: r.CreatedAt}, priv)
	if err != nil {
		return nil, err
	}
	if r.Cert != "" {
		if err := k.setCert(r.Cert); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func newKey(info KeyInfo, priv ed25519.PrivateKey) (*key, error) {
	header, err := leaseHeader(info.KID, "")
	if err != nil {
		return nil, fmt.Errorf("cannot build the lease header of key %s: %w", info.KID, err)
	}
	return &key{info: info, public: priv.Public().(ed25519.PublicKey), priv: privateKey{priv}, header: header}, nil
}

// leaseHeader returns the base64url protected header of the leases a key
// signs, followed by ".": alg EdDSA, the key's kid, typ verifier.LeaseType
// and, when the key has a certificate, verifier.CertHeader. The members are
// marshalled from a map, as go-jose does (encoding/json sorts map keys), so
// the header, and with the deterministic Ed25519 the whole token, is byte for
// byte what go-jose's signer produced before (TestSignLeaseMatchesGoJose).
func leaseHeader(kid, cert string) (string, error) {
	h := map[string]string{"alg": string(jose.EdDSA), "kid": kid, "typ": verifier.LeaseType}
	if cert != "" {
		h[verifier.CertHeader] = cert
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b) + ".", nil
}

func thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// Generate creates a key and makes it the active one; the previous active
// key is retired but kept, so what it signed still verifies.
func (kr *Keyring) Generate() (string, error) {
	unlock, err := kr.lockDir(syscall.LOCK_EX)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := kr.reloadLocked(); err != nil {
		return "", err
	}
	return kr.generateLocked()
}

// EnsureActive generates a key when there is no active one (first run).
// Several processes may call it at once: a lock file makes one of them
// generate and the others load its key.
func (kr *Keyring) EnsureActive() (kid string, created bool, err error) {
	if kid, ok := kr.Active(); ok {
		return kid, false, nil
	}
	unlock, err := kr.lockDir(syscall.LOCK_EX)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if err := kr.reloadLocked(); err != nil {
		return "", false, err
	}
	if kid, ok := kr.Active(); ok {
		return kid, false, nil
	}
	kid, err = kr.generateLocked()
	if err != nil && kr.store != nil {
		// Another process made the first key at the same moment (the
		// database keeps one active key at most): use that one.
		if kr.reloadLocked() == nil {
			if kid, ok := kr.Active(); ok {
				return kid, false, nil
			}
		}
	}
	return kid, err == nil, err
}

func (kr *Keyring) generateLocked() (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return "", err
	}
	info := KeyInfo{KID: kid, Status: StatusActive, CreatedAt: kr.now().UTC().Truncate(time.Second)}
	k, err := newKey(info, priv)
	if err != nil {
		return "", err
	}
	kr.mu.RLock()
	prev := kr.keys[kr.active]
	kr.mu.RUnlock()
	if kr.store != nil {
		retire := ""
		if prev != nil {
			retire = prev.info.KID
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := kr.store.AddSigningKey(ctx, kr.record(k), retire)
		cancel()
		if err != nil {
			return "", err
		}
		return kid, kr.reloadLocked()
	}
	// Retire the old key before writing the new one. Readers hold the shared
	// lock, so none sees the gap; a crash in between leaves no active key,
	// and the next EnsureActive (server start) makes one. The other order
	// would leave two active keys, which Reload refuses.
	if prev != nil {
		retired := *prev
		retired.info.Status = StatusRetired
		if err := kr.write(&retired); err != nil {
			return "", err
		}
	}
	if err := kr.write(k); err != nil {
		return "", err
	}
	return kid, kr.reloadLocked()
}

// record seals k for keeping (a fresh nonce each time).
func (kr *Keyring) record(k *key) Record {
	nonce := make([]byte, kr.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := kr.aead.Seal(nil, nonce, k.priv.k.Seed(), []byte(k.info.KID))
	return Record{
		KID: k.info.KID, Alg: "EdDSA", Public: base64.RawURLEncoding.EncodeToString(k.public),
		SealedPrivate: base64.RawURLEncoding.EncodeToString(sealed), Nonce: base64.RawURLEncoding.EncodeToString(nonce),
		CreatedAt: k.info.CreatedAt, Status: k.info.Status, Cert: k.cert,
	}
}

func (kr *Keyring) write(k *key) error {
	b, err := json.MarshalIndent(kr.record(k), "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(kr.dir, k.info.KID+".json"), b)
}

// writeFileAtomic writes through a temp file (0600), fsync and rename, then
// syncs the folder, so a reader never sees half a key and a crash never
// loses a written one.
func writeFileAtomic(path string, data []byte) error {
	return placeFile(path, data, os.Rename)
}

// placeFile writes data to a temp file (0600) beside path, syncs it, puts
// it at path with place (os.Rename replaces, os.Link refuses an existing
// path) and syncs the folder.
func placeFile(path string, data []byte, place func(tmp, path string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeSyncClose(tmp, data); err != nil {
		return err
	}
	if err := place(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeSyncClose makes f 0600, writes data, syncs and closes it.
func writeSyncClose(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// lockDir takes a lock on the keys folder across processes:
// syscall.LOCK_EX to change keys, syscall.LOCK_SH to read them. Each call
// opens the lock file anew (flock locks belong to an open file), so a
// process holding the lock must not take it again.
func (kr *Keyring) lockDir(how int) (func(), error) {
	if kr.store != nil {
		// The database keeps rotations whole (one transaction, one active
		// key at most): no folder to lock.
		return func() {}, nil
	}
	f, err := os.OpenFile(filepath.Join(kr.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if how == syscall.LOCK_SH && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
			// A read-only keys folder (a mounted volume, say): no process
			// can change it, so reading needs no lock.
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock keys folder %s: %w", kr.dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock keys folder %s: %w", kr.dir, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// Active returns the kid of the signing key.
func (kr *Keyring) Active() (string, bool) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active, kr.active != ""
}

// List describes every key: the active one first, then the newest first.
func (kr *Keyring) List() []KeyInfo {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	out := make([]KeyInfo, 0, len(kr.keys))
	for _, k := range kr.keys {
		out = append(out, k.info)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int {
		if (a.Status == StatusActive) != (b.Status == StatusActive) {
			if a.Status == StatusActive {
				return -1
			}
			return 1
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
	return out
}

// PublicKeys returns every public key by kid.
func (kr *Keyring) PublicKeys() map[string]ed25519.PublicKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	out := make(map[string]ed25519.PublicKey, len(kr.keys))
	for kid, k := range kr.keys {
		out[kid] = slices.Clone(k.public)
	}
	return out
}

// JWKS is the JSON Web Key Set of every public key (RFC 8037 OKP keys with
// kid, use "sig" and alg "EdDSA"), the active one first, then retired ones
// newest first. It never holds a private part.
func (kr *Keyring) JWKS() ([]byte, error) {
	pubs := kr.PublicKeys()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, info := range kr.List() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pubs[info.KID], KeyID: info.KID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return json.Marshal(set)
}

// ErrNoActiveKey is returned by SignLease before any key exists.
var ErrNoActiveKey = errors.New("no active signing key: run `narcidi keys generate`")

// SignLease signs claims with the active key: a JWS compact token with
// headers alg EdDSA, typ verifier.LeaseType and the key's kid (and its
// certificate, see cert.go).
//
// It builds the token by hand instead of through a go-jose Signer: the
// header is precomputed per key (leaseHeader), the claims are one
// json.Marshal, and the signing input header.payload is the token's own
// prefix, signed with crypto/ed25519 and the signature appended in place.
// The output is byte for byte what go-jose produced (Ed25519 signatures are
// deterministic); go-jose still parses and verifies everywhere. Nothing is
// shared but read-only key fields, so concurrent calls are safe.
func (kr *Keyring) SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	kr.mu.RLock()
	k := kr.keys[kr.active]
	kr.mu.RUnlock()
	if k == nil {
		return "", ErrNoActiveKey
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign lease with key %s: %w", k.info.KID, err)
	}
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(k.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(ed25519.SignatureSize))
	tok = append(tok, k.header...)
	tok = enc.AppendEncode(tok, payload)
	sig := ed25519.Sign(k.priv.k, tok)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok), nil
}
