package release

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Config is what the release service needs.
type Config struct {
	Store Store
	Blobs BlobStore
	// Leasing checks that a license may download (Leasing.Usable); Catalog
	// checks the products and entitlements releases refer to.
	Leasing *licensing.Leasing
	Catalog *licensing.Catalog
	// LeaseKeys returns the public keys that verify leases (a lease is the
	// other way, beside a license key, to prove a license for a download).
	LeaseKeys func() (*verifier.KeySet, error)
	// MetadataKey signs the release metadata. It lives on the server.
	MetadataKey ed25519.PrivateKey
	// ReleaseKeys, when not empty, are the release public keys the server
	// accepts artifact signatures from: a bad signature is refused when the
	// artifact is added instead of by every client later.
	ReleaseKeys []ed25519.PublicKey
	Clock       licensing.Clock
	MetadataTTL time.Duration // how long a signed metadata document is valid (default 7 days)
	DownloadTTL time.Duration // lifetime of a download URL (default 5 minutes)
	UploadTTL   time.Duration // lifetime of upload URLs (default 1 hour)
	PartSize    int64         // multipart part size (default 64 MiB, at least 5 MiB)
}

// Service runs the release use cases. It is safe for concurrent use.
type Service struct {
	cfg         Config
	releaseKeys PublicKeys
	metaKeyID   string
}

// NewService checks cfg and builds a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.Leasing == nil || cfg.Catalog == nil {
		return nil, fmt.Errorf("release: Store, Blobs, Leasing and Catalog are required")
	}
	if len(cfg.MetadataKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("release: a metadata signing key is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MetadataTTL <= 0 {
		cfg.MetadataTTL = defaultMetadataTTL
	}
	if cfg.DownloadTTL <= 0 {
		cfg.DownloadTTL = defaultDownloadTTL
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = defaultUploadTTL
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("release: the part size must be at least %d bytes", minPartSize)
	}
	s := &Service{cfg: cfg, releaseKeys: PublicKeys{}}
	for _, k := range cfg.ReleaseKeys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("release: a release public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		s.releaseKeys[verifier.ReleaseKeyID(k)] = k
	}
	s.metaKeyID = verifier.ReleaseKeyID(cfg.MetadataKey.Public().(ed25519.PublicKey))
	return s, nil
}

// UploadOrigin is the scheme and host upload URLs point to (the S3
// endpoint, or the local store's URL server): a page whose script sends an
// artifact's bytes there names it in its Content-Security-Policy. It
// presigns, for one second, a URL that is never handed out, of a key no
// artifact uses.
func (s *Service) UploadOrigin(ctx context.Context) (string, error) {
	raw, err := s.cfg.Blobs.PresignPut(ctx, "releases/origin-probe/probe", 1, time.Second)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", licensing.Errorf(licensing.EInternal, "the blob store's upload URLs have no origin")
	}
	return u.Scheme + "://" + u.Host, nil
}

// MetadataPublicKey is the key apps pin to check release metadata.
func (s *Service) MetadataPublicKey() ed25519.PublicKey {
	return s.cfg.MetadataKey.Public().(ed25519.PublicKey)
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

var (
	platformPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	filenamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$`)
	entitlementCode = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	hexPattern      = regexp.MustCompile(`^[0-9a-f]+$`)
)

// ReleaseInput is what an admin gives to create a release.
type ReleaseInput struct {
	ProductID   string `json:"product_id"`
	Version     string `json:"version"`
	Channel     string `json:"channel,omitempty"` // default stable
	Notes       string `json:"notes,omitempty"`
	Entitlement string `json:"entitlement,omitempty"`
}

// CreateRelease stores a new draft release. EInvalid, ENotFound (product),
// EConflict (the version exists for the product).
func (s *Service) CreateRelease(ctx context.Context, in ReleaseInput) (*Release, error) {
	in.Version = strings.TrimPrefix(strings.TrimSpace(in.Version), "v")
	if _, err := verifier.ParseVersion(in.Version); err != nil {
		return nil, licensing.FieldErrorf("version", "version must be semver (1.2.3, 1.2.3-beta.1): %v", err)
	}
	if in.Channel == "" {
		in.Channel = "stable"
	}
	if !slices.Contains(verifier.ReleaseChannels, in.Channel) {
		return nil, licensing.FieldErrorf("channel", "channel must be one of %v", verifier.ReleaseChannels)
	}
	if len(in.Notes) > 20000 {
		return nil, licensing.FieldErrorf("notes", "notes are at most 20000 characters")
	}
	if in.Entitlement != "" {
		if !entitlementCode.MatchString(in.Entitlement) {
			return nil, licensing.FieldErrorf("entitlement", "entitlement must be an entitlement code")
		}
		missing, err := s.cfg.Catalog.MissingEntitlements(ctx, []string{in.Entitlement})
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, licensing.FieldErrorf("entitlement", "unknown entitlement %q: create it first (POST /v1/entitlements)", in.Entitlement)
		}
	}
	if _, err := s.cfg.Catalog.Product(ctx, in.ProductID); err != nil {
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return nil, licensing.FieldErrorf("product_id", "product_id names no product")
		}
		return nil, err
	}
	now := s.now()
	r := &Release{ProductID: in.ProductID, Version: in.Version, Channel: in.Channel, Notes: in.Notes,
		Status: StatusDraft, Entitlement: in.Entitlement, Artifacts: []Artifact{}, CreatedAt: now, UpdatedAt: now}
	err := s.cfg.Store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateRelease(ctx, r); err != nil {
			if licensing.ErrorCode(err) == licensing.EConflict {
				return licensing.Errorf(licensing.EConflict, "the product already has version %s", r.Version).WithField("version")
			}
			return err
		}
		return s.record(ctx, tx, ActionReleaseCreated, "release", r.ID, "", nil, r)
	})
	return r, err
}

// Release returns one release with its artifacts. ENotFound.
func (s *Service) Release(ctx context.Context, id string) (*Release, error) {
	return s.cfg.Store.GetRelease(ctx, id)
}

// Releases lists the version history. EInvalid for a bad filter.
func (s *Service) Releases(ctx context.Context, f Filter, page licensing.Page) ([]Release, error) {
	if f.Channel != "" && !slices.Contains(verifier.ReleaseChannels, f.Channel) {
		return nil, licensing.FieldErrorf("channel", "channel must be one of %v", verifier.ReleaseChannels)
	}
	if f.Status != "" && !slices.Contains([]Status{StatusDraft, StatusPublished, StatusYanked}, f.Status) {
		return nil, licensing.FieldErrorf("status", "status must be draft, published or yanked")
	}
	if f.Version != "" {
		f.Version = strings.TrimPrefix(f.Version, "v")
		if _, err := verifier.ParseVersion(f.Version); err != nil {
			return nil, licensing.FieldErrorf("version", "version must be semver (1.2.3, 1.2.3-beta.1)")
		}
	}
	return s.cfg.Store.ListReleases(ctx, f, page)
}

// ArtifactInput describes a file the publisher hashed and signed.
type ArtifactInput struct {
	Platform  string `json:"platform"`
	Arch      string `json:"arch"`
	Filename  string `json:"filename"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	SHA512    string `json:"sha512"`
	Signature string `json:"signature"`
	KeyID     string `json:"key_id,omitempty"`
	// Multipart asks for a multipart upload even for a small file; a file
	// larger than the part size always gets one.
	Multipart bool `json:"multipart,omitempty"`
}

// Upload tells the publisher where to send an artifact's bytes.
type Upload struct {
	Artifact  Artifact  `json:"artifact"`
	ExpiresAt time.Time `json:"expires_at"`
	// URL takes one PUT of the whole file (single upload).
	URL string `json:"url,omitempty"`
	// Parts take one PUT each of PartSize bytes (the last one shorter), in a
	// multipart upload; their ETag answers go to finalize.
	PartSize int64     `json:"part_size,omitempty"`
	Parts    []PartURL `json:"parts,omitempty"`
}

// PartURL is the upload URL of one part.
type PartURL struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

func (in *ArtifactInput) validate() error {
	switch {
	case !platformPattern.MatchString(in.Platform) || !platformPattern.MatchString(in.Arch):
		return licensing.FieldErrorf("platform", "platform and arch are lowercase names like linux and amd64")
	case !filenamePattern.MatchString(in.Filename) || strings.Contains(in.Filename, ".."):
		return licensing.FieldErrorf("filename", "filename must be a plain file name (letters, digits, '.', '_', '+', '-')")
	case in.Size <= 0 || in.Size > MaxArtifactSize:
		return licensing.FieldErrorf("size", "size must be between 1 and %d bytes", MaxArtifactSize)
	case len(in.SHA256) != 64 || !hexPattern.MatchString(in.SHA256):
		return licensing.FieldErrorf("sha256", "sha256 must be 64 lowercase hex digits")
	case len(in.SHA512) != 128 || !hexPattern.MatchString(in.SHA512):
		return licensing.FieldErrorf("sha512", "sha512 must be 128 lowercase hex digits")
	case in.KeyID != "" && (len(in.KeyID) > 64 || !hexPattern.MatchString(in.KeyID)):
		// A key id is lowercase hex (verifier.ReleaseKeyID: 32 digits); the
		// column holds 64 at most.
		return licensing.FieldErrorf("key_id", "key_id must be 1 to 64 lowercase hex digits")
	}
	sig, err := base64.StdEncoding.DecodeString(in.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return licensing.FieldErrorf("signature", "signature must be a base64 Ed25519 signature")
	}
	return nil
}

var errNotDraft = licensing.Errorf(licensing.EConflict, "artifacts can only be added to a draft release")

// AddArtifact registers an artifact of a draft release and returns where to
// upload its bytes. EInvalid, ENotFound, EConflict (the release is not a
// draft, or already has this platform/arch).
func (s *Service) AddArtifact(ctx context.Context, releaseID string, in ArtifactInput) (*Upload, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	rel, err := s.cfg.Store.GetRelease(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	if rel.Status != StatusDraft {
		return nil, licensing.Errorf(licensing.EConflict, "artifacts can only be added to a draft release")
	}
	for _, a := range rel.Artifacts {
		if a.Platform == in.Platform && a.Arch == in.Arch {
			return nil, licensing.Errorf(licensing.EConflict, "the release already has an artifact for %s/%s", in.Platform, in.Arch).WithField("platform")
		}
	}
	stmt := verifier.ArtifactStatement(rel.ProductID, rel.Version, in.Platform, in.Arch, in.Filename, in.Size, in.SHA256, in.SHA512)
	if len(s.releaseKeys) > 0 {
		if in.KeyID == "" && len(s.releaseKeys) == 1 {
			for id := range s.releaseKeys {
				in.KeyID = id
			}
		}
		key, ok := s.releaseKeys[in.KeyID]
		sig, _ := base64.StdEncoding.DecodeString(in.Signature)
		if !ok || !ed25519.Verify(key, stmt, sig) {
			return nil, licensing.FieldErrorf("signature", "the signature does not verify with a trusted release key (key_id %q)", in.KeyID)
		}
	}
	now := s.now()
	a := &Artifact{ID: licensing.NewID(), ReleaseID: rel.ID, Platform: in.Platform, Arch: in.Arch, Filename: in.Filename,
		Size: in.Size, SHA256: in.SHA256, SHA512: in.SHA512, Signature: in.Signature, KeyID: in.KeyID,
		Status: ArtifactPending, CreatedAt: now, UpdatedAt: now}
	a.ObjectKey = path.Join("releases", rel.ProductID, rel.ID, a.ID, a.Filename)
	up := &Upload{ExpiresAt: now.Add(s.cfg.UploadTTL)}
	multipart := in.Multipart || in.Size > s.cfg.PartSize || in.Size > maxSinglePut
	if multipart {
		partSize := max(s.cfg.PartSize, (in.Size+maxParts-1)/maxParts)
		n := int((in.Size + partSize - 1) / partSize)
		if a.UploadID, err = s.cfg.Blobs.CreateMultipart(ctx, a.ObjectKey); err != nil {
			return nil, err
		}
		up.PartSize = partSize
		for i := 1; i <= n; i++ {
			// Each URL is bound to its part's exact length (the last part is
			// shorter): no PUT can store more than the declared size.
			size := min(partSize, in.Size-int64(i-1)*partSize)
			u, err := s.cfg.Blobs.PresignPart(ctx, a.ObjectKey, a.UploadID, i, size, s.cfg.UploadTTL)
			if err != nil {
				_ = s.cfg.Blobs.AbortMultipart(ctx, a.ObjectKey, a.UploadID)
				return nil, err
			}
			up.Parts = append(up.Parts, PartURL{Number: i, URL: u})
		}
	} else if up.URL, err = s.cfg.Blobs.PresignPut(ctx, a.ObjectKey, in.Size, s.cfg.UploadTTL); err != nil {
		return nil, err
	}
	err = s.cfg.Store.InTx(ctx, func(tx Repo) error {
		// Check the status again under a lock on the release row, in the
		// transaction that adds the artifact: a Publish running meanwhile
		// either sees this pending artifact (and refuses) or has already
		// published (and this refuses), never neither.
		cur, err := tx.LockRelease(ctx, rel.ID)
		if err != nil {
			return err
		}
		if cur.Status != StatusDraft {
			return errNotDraft
		}
		if err := tx.CreateArtifact(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionArtifactAdded, "release", rel.ID, "", nil, a)
	})
	if err != nil {
		if a.UploadID != "" {
			_ = s.cfg.Blobs.AbortMultipart(ctx, a.ObjectKey, a.UploadID)
		}
		if errors.Is(err, errNotDraft) {
			return nil, licensing.Errorf(licensing.EConflict, "artifacts can only be added to a draft release")
		}
		if licensing.ErrorCode(err) == licensing.EConflict {
			return nil, licensing.Errorf(licensing.EConflict, "the release already has an artifact for %s/%s", in.Platform, in.Arch).WithField("platform")
		}
		return nil, err
	}
	up.Artifact = *a
	return up, nil
}

// FinalizeInput completes an upload: the parts' ETags of a multipart upload.
type FinalizeInput struct {
	Parts []UploadPart `json:"parts,omitempty"`
}

// finalKey is where an artifact's bytes live once checked. No upload URL is
// ever presigned for it (uploads go to the key AddArtifact chose), so an
// upload URL still valid after finalize cannot change what is downloaded.
func finalKey(a *Artifact) string {
	return path.Join("releases", "ready", a.ReleaseID, a.ID, a.Filename)
}

// Finalize moves the uploaded object to its final key (that no upload URL
// can write), checks it there against the declared size and hashes
// (streaming it once, in constant memory) and marks the artifact ready. An
// object that does not match is deleted with its artifact (EInvalid), so the
// publisher adds it again; nothing half-checked is left behind. A retry after
// a failure part way (the upload completed, or the object moved, but the
// database not updated) picks up where the first call stopped.
func (s *Service) Finalize(ctx context.Context, releaseID, artifactID string, in FinalizeInput) (*Artifact, error) {
	a, err := s.cfg.Store.GetArtifact(ctx, artifactID)
	if err != nil {
		return nil, err
	}
	if a.ReleaseID != releaseID {
		return nil, licensing.Errorf(licensing.ENotFound, "the release has no such artifact")
	}
	if a.Status == ArtifactReady {
		return a, nil
	}
	final := finalKey(a)
	if a.UploadID != "" {
		if len(in.Parts) == 0 || len(in.Parts) > maxParts {
			return nil, licensing.FieldErrorf("parts", "a multipart upload needs the ETag of every part")
		}
		for i, p := range in.Parts {
			if p.Number != i+1 || p.ETag == "" || len(p.ETag) > 200 {
				return nil, licensing.FieldErrorf("parts", "parts must be numbered 1..n in order, each with its ETag")
			}
		}
		if err := s.cfg.Blobs.CompleteMultipart(ctx, a.ObjectKey, a.UploadID, in.Parts); err != nil {
			c := licensing.ErrorCode(err)
			if c != licensing.EInvalid && c != licensing.ENotFound {
				return nil, err
			}
			// The upload may be gone because an earlier call completed it
			// and then failed to record that: go on if its object exists.
			if !s.objectExists(ctx, a.ObjectKey) && !s.objectExists(ctx, final) {
				return nil, licensing.Wrap(licensing.EInvalid, err, "the store refused to complete the upload: check the parts and their ETags")
			}
		}
		a.UploadID = ""
		a.UpdatedAt = s.now()
		if err := s.cfg.Store.UpdateArtifact(ctx, a); err != nil {
			return nil, err
		}
	}
	if a.ObjectKey != final {
		err := s.cfg.Blobs.Move(ctx, a.ObjectKey, final)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			// Nothing at the upload key: an earlier call may have moved it.
			if !s.objectExists(ctx, final) {
				return nil, licensing.Errorf(licensing.EConflict, "nothing was uploaded yet for this artifact")
			}
		} else if err != nil {
			return nil, err
		}
		a.ObjectKey, a.UpdatedAt = final, s.now()
		if err := s.cfg.Store.UpdateArtifact(ctx, a); err != nil {
			return nil, err
		}
	}
	size, err := s.cfg.Blobs.Stat(ctx, a.ObjectKey)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return nil, licensing.Errorf(licensing.EConflict, "nothing was uploaded yet for this artifact")
	} else if err != nil {
		return nil, err
	}
	mismatch := ""
	if size != a.Size {
		mismatch = fmt.Sprintf("the stored object has %d bytes, %d were declared", size, a.Size)
	} else {
		sum256, sum512, n, err := s.hashObject(ctx, a.ObjectKey)
		if err != nil {
			return nil, err
		}
		switch {
		case n != a.Size:
			mismatch = fmt.Sprintf("the stored object has %d bytes, %d were declared", n, a.Size)
		case sum256 != a.SHA256:
			mismatch = "the stored object's SHA-256 is not the declared one"
		case sum512 != a.SHA512:
			mismatch = "the stored object's SHA-512 is not the declared one"
		}
	}
	if mismatch != "" {
		_ = s.cfg.Blobs.Delete(ctx, a.ObjectKey)
		err := s.cfg.Store.InTx(ctx, func(tx Repo) error {
			if err := tx.DeleteArtifact(ctx, a.ID); err != nil {
				return err
			}
			return s.record(ctx, tx, ActionArtifactRejected, "release", releaseID, mismatch, a, nil)
		})
		if err != nil {
			return nil, err
		}
		return nil, licensing.Errorf(licensing.EInvalid, "%s: the artifact was removed, add it again", mismatch)
	}
	before := *a
	a.Status, a.UpdatedAt = ArtifactReady, s.now()
	return a, s.cfg.Store.InTx(ctx, func(tx Repo) error {
		if err := tx.UpdateArtifact(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionArtifactFinalized, "release", releaseID, "", before, a)
	})
}

func (s *Service) objectExists(ctx context.Context, key string) bool {
	_, err := s.cfg.Blobs.Stat(ctx, key)
	return err == nil
}

// hashObject streams the object through both hashes with a fixed buffer.
func (s *Service) hashObject(ctx context.Context, key string) (sum256, sum512 string, n int64, err error) {
	rc, err := s.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return "", "", 0, err
	}
	defer rc.Close()
	h256, h512 := sha256.New(), sha512.New()
	n, err = io.CopyBuffer(io.MultiWriter(h256, h512), rc, make([]byte, 256<<10))
	if err != nil {
		return "", "", 0, licensing.Wrap(licensing.EUnavailable, err, "reading the stored object failed")
	}
	return hex.EncodeToString(h256.Sum(nil)), hex.EncodeToString(h512.Sum(nil)), n, nil
}

// Publish makes a draft release downloadable and re-signs the metadata of
// every channel that shows it. EConflict when it is not a draft or has no
// finalized artifact.
func (s *Service) Publish(ctx context.Context, id string) (*Release, error) {
	return s.transition(ctx, id, StatusDraft, StatusPublished, ActionReleasePublished, "", func(r *Release) error {
		if len(r.Artifacts) == 0 {
			return licensing.Errorf(licensing.EConflict, "the release has no artifact")
		}
		for _, a := range r.Artifacts {
			if a.Status != ArtifactReady {
				return licensing.Errorf(licensing.EConflict, "artifact %s/%s is not finalized", a.Platform, a.Arch)
			}
		}
		now := s.now()
		r.PublishedAt = &now
		return nil
	})
}

// DeleteRelease removes a draft release with its artifacts and their stored
// bytes, so its version number can be used again (a publish that failed half
// way leaves such a draft). A published or yanked release cannot be deleted:
// apps may have seen it in signed metadata; yank it instead. EConflict,
// ENotFound.
//
// The rows go first, in one transaction with the audit event, and the bytes
// after: a failure in between leaves unreachable objects (nothing can
// download a draft's bytes, and no row points at them), never a release
// whose artifacts have lost their bytes.
func (s *Service) DeleteRelease(ctx context.Context, id string) error {
	var gone *Release
	err := s.cfg.Store.InTx(ctx, func(tx Repo) error {
		r, err := tx.LockRelease(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != StatusDraft {
			return licensing.Errorf(licensing.EConflict, "the release is %s: only a draft can be deleted (yank a published release)", r.Status)
		}
		if err := tx.DeleteRelease(ctx, r.ID); err != nil {
			return err
		}
		gone = r
		return s.record(ctx, tx, ActionReleaseDeleted, "release", r.ID, "", r, nil)
	})
	if err != nil {
		return err
	}
	var errs []error
	for i := range gone.Artifacts {
		a := &gone.Artifacts[i]
		if a.UploadID != "" {
			if err := s.cfg.Blobs.AbortMultipart(ctx, a.ObjectKey, a.UploadID); err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
				errs = append(errs, err)
			}
		}
		// Both keys: a finalize may have stopped between moving the object
		// and recording the move.
		for _, k := range []string{a.ObjectKey, finalKey(a)} {
			if err := s.cfg.Blobs.Delete(ctx, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return licensing.Wrap(licensing.EUnavailable, errors.Join(errs...), "the release was deleted, but removing its stored files failed")
	}
	return nil
}

// Yank withdraws a published release: out of the metadata, no downloads.
func (s *Service) Yank(ctx context.Context, id, reason string) (*Release, error) {
	if len(reason) > 500 {
		return nil, licensing.FieldErrorf("reason", "reason is at most 500 characters")
	}
	return s.transition(ctx, id, StatusPublished, StatusYanked, ActionReleaseYanked, reason, func(r *Release) error {
		r.YankReason = reason
		return nil
	})
}

func (s *Service) transition(ctx context.Context, id string, from, to Status, action, reason string, change func(*Release) error) (*Release, error) {
	var out *Release
	err := s.cfg.Store.InTx(ctx, func(tx Repo) error {
		r, err := tx.LockRelease(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != from {
			return licensing.Errorf(licensing.EConflict, "the release is %s, not %s", r.Status, from)
		}
		before := *r
		r.Status, r.UpdatedAt = to, s.now()
		if err := change(r); err != nil {
			return err
		}
		if err := tx.UpdateRelease(ctx, r); err != nil {
			return err
		}
		if err := s.record(ctx, tx, action, "release", r.ID, reason, before, r); err != nil {
			return err
		}
		// Every channel that shows the release gets a new signed document now,
		// in the same transaction, so the metadata never lags the status.
		for _, ch := range verifier.ReleaseChannels {
			if verifier.ChannelIncludes(ch, r.Channel) {
				if _, err := s.resign(ctx, tx, r.ProductID, ch); err != nil {
					return err
				}
			}
		}
		out = r
		return nil
	})
	return out, err
}

// record appends an audit event, as licensing does for its own changes.
func (s *Service) record(ctx context.Context, tx Repo, action, targetType, targetID, reason string, before, after any) error {
	a := licensing.ActorFrom(ctx)
	return tx.AppendEvent(ctx, &licensing.Event{
		Time: s.now(), Action: action, TargetType: targetType, TargetID: targetID, Actor: a.Label(), ActorName: a.Name,
		Reason: reason, Before: licensing.Snapshot(before), After: licensing.Snapshot(after), RequestID: a.RequestID,
	})
}

// CleanupAbandonedUploads removes artifacts that were added but never
// finalized within olderThan: their multipart uploads are aborted, their
// partial objects deleted and their rows removed. It is meant to run from a
// scheduled job; several instances running it at once is harmless (a row
// already gone is skipped). It returns how many artifacts it removed.
func (s *Service) CleanupAbandonedUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan < s.cfg.UploadTTL {
		// Never pull an upload whose URLs are still valid from under a publisher.
		olderThan = s.cfg.UploadTTL
	}
	removed := 0
	for {
		batch, err := s.cfg.Store.PendingArtifacts(ctx, s.now().Add(-olderThan), 100)
		if err != nil {
			return removed, err
		}
		for _, a := range batch {
			if a.UploadID != "" {
				if err := s.cfg.Blobs.AbortMultipart(ctx, a.ObjectKey, a.UploadID); err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
					return removed, err
				}
			}
			if err := s.cfg.Blobs.Delete(ctx, a.ObjectKey); err != nil {
				return removed, err
			}
			err := s.cfg.Store.InTx(ctx, func(tx Repo) error {
				if err := tx.DeleteArtifact(ctx, a.ID); err != nil {
					return err
				}
				return s.record(ctx, tx, ActionArtifactAbandoned, "release", a.ReleaseID, "upload not finalized in time", a, nil)
			})
			if err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
				return removed, err
			}
			if err == nil {
				removed++
			}
		}
		if len(batch) < 100 {
			return removed, nil
		}
	}
}
