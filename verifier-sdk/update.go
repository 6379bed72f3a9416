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
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// UpdaterConfig configures an Updater. The keys are pinned in the app: the
// network is only transport, and what it delivers is believed only when
// these keys signed it.
type UpdaterConfig struct {
	Client *Client // the server (required for Check and Download)
	// MetadataKeys verify the server's release metadata (GET
	// /v1/client/releases/keys gives them; ship them with the app). Required.
	MetadataKeys []ed25519.PublicKey
	// ReleaseKeys verify the artifacts (`narcidi release keygen` prints
	// them). Required.
	ReleaseKeys []ed25519.PublicKey
	Product     string // the product id (required)
	Channel     string // stable (default), beta, alpha or dev
	Platform    string // default runtime.GOOS
	Arch        string // default runtime.GOARCH
	// StateFile keeps, across runs, the highest metadata version and the
	// newest release accepted, so neither can be rolled back. Empty: kept in
	// memory only (tests, or apps that persist elsewhere).
	StateFile string
	// DownloadClient fetches artifacts (default: no overall timeout; bound
	// it with the context).
	DownloadClient *http.Client
	Clock          func() time.Time
	// HasEntitlement, when set, says whether the license holds an
	// entitlement code (e.g. from the lease's claims). Check then passes
	// over releases gated behind an entitlement it lacks, as the server's
	// "latest" does, instead of offering one whose download would be
	// refused (403 not_entitled). Nil: every release is offered and the
	// server decides at download.
	HasEntitlement func(code string) bool
}

// Credentials prove the license to the server: a license key, or a lease
// with the fingerprint it is bound to.
type Credentials struct {
	LicenseKey  string
	Lease       string
	Fingerprint string
}

// Update is a release newer than the one running, for this platform.
type Update struct {
	Version  string
	Channel  string
	Artifact ReleaseArtifact
	Metadata *ReleaseMetadata
}

// Updater checks for, downloads and verifies updates. Safe for concurrent use.
type Updater struct {
	cfg          UpdaterConfig
	metadataKeys map[string]ed25519.PublicKey
	releaseKeys  map[string]ed25519.PublicKey
	mu           sync.Mutex
	state        updateState
}

type updateState struct {
	MetadataVersion int64  `json:"metadata_version"`
	NewestVersion   string `json:"newest_version,omitempty"`
}

// NewUpdater checks cfg and loads the state file. An empty key list is an
// error: checking signatures cannot be turned off.
func NewUpdater(cfg UpdaterConfig) (*Updater, error) {
	if cfg.Product == "" {
		return nil, errors.New("verifier: UpdaterConfig.Product is required")
	}
	if cfg.Channel == "" {
		cfg.Channel = "stable"
	}
	if !slices.Contains(ReleaseChannels, cfg.Channel) {
		return nil, fmt.Errorf("verifier: unknown channel %q", cfg.Channel)
	}
	if cfg.Platform == "" {
		cfg.Platform = runtime.GOOS
	}
	if cfg.Arch == "" {
		cfg.Arch = runtime.GOARCH
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	u := &Updater{cfg: cfg}
	var err error
	if u.metadataKeys, err = keyMap("MetadataKeys", cfg.MetadataKeys); err != nil {
		return nil, err
	}
	if u.releaseKeys, err = keyMap("ReleaseKeys", cfg.ReleaseKeys); err != nil {
		return nil, err
	}
	if cfg.StateFile != "" {
		b, err := os.ReadFile(cfg.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, updateFail(UpdateState, cfg.StateFile, err)
		default:
			if err := json.Unmarshal(b, &u.state); err != nil {
				// A damaged state must not silently reset the rollback floor.
				return nil, updateFail(UpdateState, "the state file is damaged: "+cfg.StateFile, err)
			}
		}
	}
	return u, nil
}

func keyMap(name string, keys []ed25519.PublicKey) (map[string]ed25519.PublicKey, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("verifier: UpdaterConfig.%s is required (signature checks cannot be disabled)", name)
	}
	m := map[string]ed25519.PublicKey{}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier: UpdaterConfig.%s holds a key of %d bytes, want %d", name, len(k), ed25519.PublicKeySize)
		}
		m[ReleaseKeyID(k)] = k
	}
	return m, nil
}

// NewestSeen returns the newest release version accepted so far ("" if none).
func (u *Updater) NewestSeen() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state.NewestVersion
}

// maxMetadata bounds a metadata document.
const maxMetadata = 4 << 20

// VerifyMetadata checks a signed metadata document, in this order: shape,
// signature by a pinned key, type, product and channel, expiry, and that its
// version is not older than one already accepted. An accepted document
// raises the remembered version (persisted in StateFile).
func (u *Updater) VerifyMetadata(doc []byte) (*ReleaseMetadata, error) {
	if len(doc) > maxMetadata {
		return nil, updateFail(UpdateMalformed, "the document is too large", nil)
	}
	var sm SignedMetadata
	if err := json.Unmarshal(doc, &sm); err != nil {
		return nil, updateFail(UpdateMalformed, "not a signed metadata document", err)
	}
	payload, err := base64.StdEncoding.DecodeString(sm.Payload)
	if err != nil || len(payload) == 0 {
		return nil, updateFail(UpdateMalformed, "bad payload encoding", err)
	}
	signed := false
	for _, s := range sm.Signatures {
		key, ok := u.metadataKeys[s.KeyID]
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if ok && err == nil && ed25519.Verify(key, MetadataSigningInput(payload), sig) {
			signed = true
			break
		}
	}
	if !signed {
		return nil, updateFail(UpdateBadSignature, "no pinned metadata key signed the document", nil)
	}
	var md ReleaseMetadata
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&md); err != nil {
		return nil, updateFail(UpdateMalformed, "bad payload", err)
	}
	if md.Type != ReleaseMetadataType || md.SpecVersion != 1 {
		return nil, updateFail(UpdateMalformed, fmt.Sprintf("type %q version %d", md.Type, md.SpecVersion), nil)
	}
	if md.ProductID != u.cfg.Product || md.Channel != u.cfg.Channel {
		return nil, updateFail(UpdateMalformed, fmt.Sprintf("the document is for product %q channel %q", md.ProductID, md.Channel), nil)
	}
	if now := u.cfg.Clock(); now.Unix() >= md.Expires {
		return nil, updateFail(UpdateExpired, "expired at "+formatTime(md.Expires), nil)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if md.Version < u.state.MetadataVersion {
		return nil, updateFail(UpdateReplayed, fmt.Sprintf("version %d, but version %d was already accepted", md.Version, u.state.MetadataVersion), nil)
	}
	if md.Version > u.state.MetadataVersion {
		next := u.state
		next.MetadataVersion = md.Version
		if err := u.saveLocked(next); err != nil {
			return nil, err
		}
	}
	return &md, nil
}

// saveLocked persists next atomically (temp file + rename) and adopts it.
func (u *Updater) saveLocked(next updateState) error {
	if u.cfg.StateFile != "" {
		b, _ := json.Marshal(next)
		tmp := u.cfg.StateFile + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return updateFail(UpdateState, u.cfg.StateFile, err)
		}
		if err := os.Rename(tmp, u.cfg.StateFile); err != nil {
			return updateFail(UpdateState, u.cfg.StateFile, err)
		}
	}
	u.state = next
	return nil
}

// Check fetches and verifies the channel's metadata and returns the newest
// release for this platform that is newer than current, or nil when there is
// none. Releases needing an entitlement that UpdaterConfig.HasEntitlement
// says the license lacks are passed over.
//
// When the newest offered is older than one already accepted, Check answers
// nil (no update): that is what a yank of the newest release looks like, and
// an old list replayed by someone in between is already refused by the
// metadata version (UpdateReplayed). Download still refuses to install a
// version older than one accepted (UpdateRollback).
func (u *Updater) Check(ctx context.Context, cred Credentials, current string) (*Update, error) {
	if u.cfg.Client == nil {
		return nil, errors.New("verifier: UpdaterConfig.Client is required to check for updates")
	}
	var raw json.RawMessage
	req := ReleaseCheckRequest{LicenseKey: cred.LicenseKey, Lease: cred.Lease, Fingerprint: cred.Fingerprint, ProductID: u.cfg.Product, Channel: u.cfg.Channel}
	if err := u.cfg.Client.post(ctx, "/v1/client/releases/metadata", req, &raw); err != nil {
		return nil, err
	}
	md, err := u.VerifyMetadata(raw)
	if err != nil {
		return nil, err
	}
	return u.latest(md, current)
}

func (u *Updater) latest(md *ReleaseMetadata, current string) (*Update, error) {
	for _, r := range md.Releases {
		i := slices.IndexFunc(r.Artifacts, func(a ReleaseArtifact) bool { return a.Platform == u.cfg.Platform && a.Arch == u.cfg.Arch })
		if i < 0 {
			continue
		}
		if r.Entitlement != "" && u.cfg.HasEntitlement != nil && !u.cfg.HasEntitlement(r.Entitlement) {
			continue
		}
		if seen := u.NewestSeen(); seen != "" && CompareVersions(r.Version, seen) < 0 {
			return nil, nil // the newest was yanked: nothing to install
		}
		if current != "" && CompareVersions(r.Version, current) <= 0 {
			return nil, nil
		}
		return &Update{Version: r.Version, Channel: r.Channel, Artifact: r.Artifacts[i], Metadata: md}, nil
	}
	return nil, nil
}

// Download fetches the update's artifact into path (through the server's
// short-lived URL) and accepts it only if its length, SHA-256, SHA-512 and
// release signature match the verified metadata; otherwise nothing is left
// at path. On success the version becomes the newest seen.
func (u *Updater) Download(ctx context.Context, cred Credentials, upd *Update, path string) error {
	if u.cfg.Client == nil {
		return errors.New("verifier: UpdaterConfig.Client is required to download")
	}
	if seen := u.NewestSeen(); seen != "" && CompareVersions(upd.Version, seen) < 0 {
		return updateFail(UpdateRollback, fmt.Sprintf("%s is older than %s, already accepted", upd.Version, seen), nil)
	}
	loc, err := u.downloadURL(ctx, cred, upd)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".narcidi-update-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := u.fetch(ctx, loc, upd.Artifact.Length, tmp); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := u.Verify(upd, tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return u.Accept(upd.Version)
}

// Accept records version as the newest accepted (for apps that install by
// other means than Download).
func (u *Updater) Accept(version string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state.NewestVersion != "" && CompareVersions(version, u.state.NewestVersion) <= 0 {
		return nil
	}
	next := u.state
	next.NewestVersion = version
	return u.saveLocked(next)
}

// Verify checks bytes against the update's verified metadata entry: length,
// SHA-256, SHA-512, then the release signature over the artifact statement.
func (u *Updater) Verify(upd *Update, r io.Reader) error {
	a := upd.Artifact
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), io.LimitReader(r, a.Length+1))
	if err != nil {
		return err
	}
	if n != a.Length {
		return updateFail(UpdateLengthMismatch, fmt.Sprintf("got %d bytes (or more), want %d", n, a.Length), nil)
	}
	if !sumIs(h256, a.SHA256) || !sumIs(h512, a.SHA512) {
		return updateFail(UpdateHashMismatch, a.Filename, nil)
	}
	key, ok := u.releaseKeys[a.KeyID]
	sig, err := base64.StdEncoding.DecodeString(a.Signature)
	stmt := ArtifactStatement(u.cfg.Product, upd.Version, a.Platform, a.Arch, a.Filename, a.Length, a.SHA256, a.SHA512)
	if !ok || err != nil || !ed25519.Verify(key, stmt, sig) {
		return updateFail(UpdateArtifactSignature, fmt.Sprintf("key %q", a.KeyID), err)
	}
	return nil
}

func sumIs(h hash.Hash, want string) bool {
	got := hex.EncodeToString(h.Sum(nil))
	return len(want) == len(got) && got == want
}

// downloadURL asks the server for the artifact and returns the Location of
// its 303 answer, without following it (the bytes come from the store).
func (u *Updater) downloadURL(ctx context.Context, cred Credentials, upd *Update) (string, error) {
	c := u.cfg.Client
	body, _ := json.Marshal(ReleaseDownloadRequest{LicenseKey: cred.LicenseKey, Lease: cred.Lease, Fingerprint: cred.Fingerprint,
		ProductID: u.cfg.Product, Channel: u.cfg.Channel, Version: upd.Version, Platform: upd.Artifact.Platform, Arch: upd.Artifact.Arch})
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/client/releases/download"), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, application/problem+json")
	base := c.HTTPClient
	if base == nil {
		base = defaultHTTPClient
	}
	hc := *base
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(r)
	if err != nil {
		return "", fmt.Errorf("narcidi: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") != "" {
		// A relative Location is relative to the request (RFC 9110).
		loc, err := r.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return "", fmt.Errorf("narcidi: bad download location: %w", err)
		}
		return loc.String(), nil
	}
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(answer, &e.Problem) != nil || e.Problem.Code == "" {
		e.Problem = synthesizedProblem(resp.StatusCode)
	}
	if e.Problem.Code == string(UpdateLicenseExpired) {
		return "", updateFail(UpdateLicenseExpired, "version "+upd.Version+" was published after the license expired; renew the license to update", e)
	}
	return "", e
}

// fetch streams the URL into w, reading at most length+1 bytes so an
// endless answer cannot fill the disk.
func (u *Updater) fetch(ctx context.Context, loc string, length int64, w io.Writer) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return err
	}
	hc := u.cfg.DownloadClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(r)
	if err != nil {
		return fmt.Errorf("narcidi: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &APIError{Status: resp.StatusCode, Problem: synthesizedProblem(resp.StatusCode)}
	}
	_, err = io.Copy(w, io.LimitReader(resp.Body, length+1))
	return err
}

// ReplaceExecutable atomically puts the file at newPath in place of target
// (typically os.Executable()), keeping target's permissions. Both must be on
// the same file system; the old file is kept as target+".old" until the next
// replace, since on some systems a running executable cannot be deleted.
func ReplaceExecutable(newPath, target string) error {
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	if err := os.Chmod(newPath, fi.Mode().Perm()); err != nil {
		return err
	}
	old := target + ".old"
	_ = os.Remove(old)
	if err := os.Link(target, old); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if runtime.GOOS == "windows" {
		// Windows cannot rename over a running executable, but can move it away.
		if err := os.Rename(target, old); err != nil {
			return err
		}
	}
	return os.Rename(newPath, target)
}
