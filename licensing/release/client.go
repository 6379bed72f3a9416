package release

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Credential is how a client proves its license: a license key, or a lease
// it holds (with the fingerprint the lease is bound to).
type Credential struct {
	LicenseKey  string
	Lease       string
	Fingerprint string
	ProductID   string // when set, the license must be for this product
	// LicenseID names the license of a signed-in customer (the portal): only
	// with a customer actor in the context, and only that customer's
	// licenses (another's answers ENotFound, as every customer read does).
	// The API's client routes never set it.
	LicenseID string
}

// entitlement is what a checked credential allows.
type entitlement struct {
	productID    string
	entitlements []string
	// updatesUntil bounds the publication time of the releases the
	// license may download (licensing.License.UpdatesUntil), nil: none.
	updatesUntil *time.Time
}

// authorize checks the credential against the license's state now. A lease
// is only a way to name the license: the license itself must still be
// usable, so a suspension stops downloads at once, not at lease expiry.
// EInvalid (no credential), EForbidden (unknown key, bad lease, machine not
// activated), ELicenseSuspended/Revoked/Expired, ENotEntitled (other product).
func (s *Service) authorize(ctx context.Context, c Credential) (*entitlement, error) {
	var ref licensing.LicenseRef
	owner := ""
	switch {
	case c.LicenseID != "":
		a := licensing.ActorFrom(ctx)
		if a.Role != licensing.RoleCustomer || a.CustomerID == "" || c.LicenseKey != "" || c.Lease != "" {
			return nil, licensing.Errorf(licensing.EForbidden, "a license id is a credential only in a customer's portal session")
		}
		ref.ID, owner = c.LicenseID, a.CustomerID
	case c.LicenseKey != "" && c.Lease != "":
		return nil, licensing.FieldErrorf("license_key", "give license_key or lease, not both")
	case c.LicenseKey != "":
		if len(c.LicenseKey) > 256 || len(c.Fingerprint) > 256 {
			return nil, licensing.FieldErrorf("license_key", "license_key is required (at most 256 characters)")
		}
		ref.Key = c.LicenseKey
	case c.Lease != "":
		lease, err := s.verifyLease(c.Lease, c.Fingerprint)
		if err != nil {
			return nil, err
		}
		ref.ID = lease.Claims.License
	default:
		return nil, licensing.FieldErrorf("license_key", "license_key or lease is required")
	}
	lic, pol, err := s.cfg.Leasing.Usable(ctx, ref, c.Fingerprint)
	if owner != "" && (lic == nil || lic.CustomerID != owner) {
		// Before any other answer: a suspended license of another customer
		// must not show through as "suspended".
		return nil, licensing.Errorf(licensing.ENotFound, "license not found")
	}
	switch licensing.ErrorCode(err) {
	case "":
	case licensing.ENotFound:
		if ref.Key != "" {
			return nil, licensing.Errorf(licensing.EForbidden, "no license has this key")
		}
		return nil, licensing.Errorf(licensing.EForbidden, "the lease's license no longer exists")
	case licensing.ENotActivated, licensing.EMachineBlocked:
		if ref.Key != "" {
			return nil, licensing.Errorf(licensing.EForbidden, "%s", licensing.ErrorMessage(err))
		}
		return nil, licensing.Errorf(licensing.EForbidden, "this machine holds no seat on the license")
	default:
		return nil, err
	}
	if c.ProductID != "" && c.ProductID != lic.ProductID {
		return nil, licensing.Errorf(licensing.ENotEntitled, "the license is for another product")
	}
	return &entitlement{productID: lic.ProductID, entitlements: licensing.EffectiveEntitlements(pol, lic), updatesUntil: lic.UpdatesUntil(pol)}, nil
}

// verifyLease checks a lease's signature, times, product and fingerprint
// with the server's own lease keys. The product is read from the lease first
// (unverified) only to choose the audience the verifier then insists on.
func (s *Service) verifyLease(token, fingerprint string) (*verifier.Lease, error) {
	if s.cfg.LeaseKeys == nil {
		return nil, licensing.FieldErrorf("lease", "leases are not accepted here: use license_key")
	}
	if fingerprint == "" {
		return nil, licensing.FieldErrorf("fingerprint", "fingerprint is required with a lease")
	}
	bad := licensing.Errorf(licensing.EForbidden, "the lease is not valid")
	parts := strings.Split(token, ".")
	if len(token) > 8192 || len(parts) != 3 {
		return nil, bad
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, bad
	}
	var peek struct {
		Aud string `json:"aud"`
	}
	if json.Unmarshal(payload, &peek) != nil || peek.Aud == "" {
		return nil, bad
	}
	keys, err := s.cfg.LeaseKeys()
	if err != nil {
		return nil, licensing.Wrap(licensing.EInternal, err, "the lease keys are unavailable")
	}
	lease, err := verifier.Verify(token, verifier.Config{Keys: keys, Product: peek.Aud, Fingerprint: fingerprint, Clock: s.cfg.Clock})
	if err != nil {
		return nil, licensing.Wrap(licensing.EForbidden, err, "the lease is not valid: "+string(verifierCode(err)))
	}
	return lease, nil
}

func verifierCode(err error) verifier.Code {
	if e, ok := err.(*verifier.Error); ok {
		return e.Code
	}
	return verifier.CodeMalformed
}

func checkChannel(ch string) (string, error) {
	if ch == "" {
		return "stable", nil
	}
	if !slices.Contains(verifier.ReleaseChannels, ch) {
		return "", licensing.FieldErrorf("channel", "channel must be one of %v", verifier.ReleaseChannels)
	}
	return ch, nil
}

// Metadata returns the signed release metadata of the licensed product on a
// channel (a JSON verifier.SignedMetadata). It is re-signed with a higher
// version when half its lifetime has passed, so clients always get a
// document that stays valid for a while.
func (s *Service) Metadata(ctx context.Context, c Credential, channel string) ([]byte, error) {
	channel, err := checkChannel(channel)
	if err != nil {
		return nil, err
	}
	ent, err := s.authorize(ctx, c)
	if err != nil {
		return nil, err
	}
	rec, err := s.cfg.Store.GetMetadata(ctx, ent.productID, channel)
	if err == nil && rec.ExpiresAt.Sub(s.now()) > s.cfg.MetadataTTL/2 {
		return rec.Document, nil
	} else if err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
		return nil, err
	}
	var doc []byte
	err = s.cfg.Store.InTx(ctx, func(tx Repo) error {
		rec, err := s.resign(ctx, tx, ent.productID, channel)
		if err == nil {
			doc = rec.Document
		}
		return err
	})
	if licensing.ErrorCode(err) == licensing.EConflict {
		// Another instance re-signed it meanwhile: serve that one.
		rec, err := s.cfg.Store.GetMetadata(ctx, ent.productID, channel)
		if err != nil {
			return nil, err
		}
		return rec.Document, nil
	}
	return doc, err
}

// resign builds and signs the next version of a channel's metadata from the
// published releases and stores it in tx.
func (s *Service) resign(ctx context.Context, tx Repo, productID, channel string) (*MetadataRecord, error) {
	var prev int64
	old, err := tx.GetMetadata(ctx, productID, channel)
	if err == nil {
		prev = old.Version
	} else if licensing.ErrorCode(err) != licensing.ENotFound {
		return nil, err
	}
	rels, err := tx.PublishedReleases(ctx, productID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	md := verifier.ReleaseMetadata{
		Type: verifier.ReleaseMetadataType, SpecVersion: 1, ProductID: productID, Channel: channel,
		Version: prev + 1, IssuedAt: now.Unix(), Expires: now.Add(s.cfg.MetadataTTL).Unix(), Releases: []verifier.ReleaseEntry{},
	}
	for _, r := range sortNewestFirst(rels) {
		if !verifier.ChannelIncludes(channel, r.Channel) {
			continue
		}
		e := verifier.ReleaseEntry{Version: r.Version, Channel: r.Channel, Entitlement: r.Entitlement, Artifacts: []verifier.ReleaseArtifact{}}
		if r.PublishedAt != nil {
			e.PublishedAt = r.PublishedAt.Unix()
		}
		for _, a := range r.Artifacts {
			if a.Status != ArtifactReady {
				continue // never list bytes that were not checked
			}
			e.Artifacts = append(e.Artifacts, verifier.ReleaseArtifact{Platform: a.Platform, Arch: a.Arch, Filename: a.Filename,
				Length: a.Size, SHA256: a.SHA256, SHA512: a.SHA512, Signature: a.Signature, KeyID: a.KeyID})
		}
		md.Releases = append(md.Releases, e)
	}
	payload, err := json.Marshal(md)
	if err != nil {
		return nil, licensing.Wrap(licensing.EInternal, err, "could not encode the release metadata")
	}
	sig := ed25519.Sign(s.cfg.MetadataKey, verifier.MetadataSigningInput(payload))
	doc, err := json.Marshal(verifier.SignedMetadata{
		Payload:    base64.StdEncoding.EncodeToString(payload),
		Signatures: []verifier.MetadataSignature{{KeyID: s.metaKeyID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, licensing.Wrap(licensing.EInternal, err, "could not encode the release metadata")
	}
	rec := &MetadataRecord{ProductID: productID, Channel: channel, Version: md.Version, Document: doc,
		ExpiresAt: time.Unix(md.Expires, 0).UTC(), UpdatedAt: now}
	return rec, tx.SaveMetadata(ctx, rec, prev)
}

func sortNewestFirst(rels []Release) []Release {
	out := slices.Clone(rels)
	slices.SortStableFunc(out, func(a, b Release) int { return verifier.CompareVersions(b.Version, a.Version) })
	return out
}

// DownloadRequest names what a client wants.
type DownloadRequest struct {
	Credential
	Channel  string
	Version  string // "" or "latest": the newest on the channel
	Platform string
	Arch     string
}

// Entitled lists the published releases a credential's license may
// download, newest first: of its product, with the entitlement they need
// (if any), and only their ready artifacts. authorize's codes.
func (s *Service) Entitled(ctx context.Context, c Credential) ([]Release, error) {
	ent, err := s.authorize(ctx, c)
	if err != nil {
		return nil, err
	}
	rels, err := s.cfg.Store.PublishedReleases(ctx, ent.productID)
	if err != nil {
		return nil, err
	}
	out := []Release{}
	for _, r := range sortNewestFirst(rels) {
		if r.Entitlement != "" && !slices.Contains(ent.entitlements, r.Entitlement) {
			continue
		}
		ready := r.Artifacts[:0:0]
		for _, a := range r.Artifacts {
			if a.Status == ArtifactReady {
				ready = append(ready, a)
			}
		}
		if len(ready) > 0 {
			r.Artifacts = ready
			out = append(out, r)
		}
	}
	return out, nil
}

// Download checks the license and returns a short-lived URL of the artifact.
// Before presigning it asks the store for the object, so a store that is
// down answers EUnavailable (503) instead of a URL that would fail.
// For "latest", releases needing an entitlement the license lacks are
// skipped; an explicitly requested version answers ENotEntitled instead.
// ENotFound (no such release or platform), ENotEntitled (missing
// entitlement, other product), and authorize's codes.
func (s *Service) Download(ctx context.Context, req DownloadRequest) (string, error) {
	channel, err := checkChannel(req.Channel)
	if err != nil {
		return "", err
	}
	if !platformPattern.MatchString(req.Platform) || !platformPattern.MatchString(req.Arch) {
		return "", licensing.FieldErrorf("platform", "platform and arch are required (e.g. linux, amd64)")
	}
	version := strings.TrimPrefix(req.Version, "v")
	if version != "" && version != "latest" {
		if _, err := verifier.ParseVersion(version); err != nil {
			return "", licensing.FieldErrorf("version", "version must be semver or latest")
		}
	}
	ent, err := s.authorize(ctx, req.Credential)
	if err != nil {
		return "", err
	}
	rels, err := s.cfg.Store.PublishedReleases(ctx, ent.productID)
	if err != nil {
		return "", err
	}
	var art *Artifact
	for _, r := range sortNewestFirst(rels) {
		if !verifier.ChannelIncludes(channel, r.Channel) || (version != "" && version != "latest" && r.Version != version) {
			continue
		}
		i := slices.IndexFunc(r.Artifacts, func(a Artifact) bool {
			return a.Platform == req.Platform && a.Arch == req.Arch && a.Status == ArtifactReady
		})
		if i < 0 {
			if version != "" && version != "latest" {
				return "", licensing.Errorf(licensing.ENotFound, "version %s has no artifact for %s/%s", version, req.Platform, req.Arch)
			}
			continue
		}
		if r.Entitlement != "" && !slices.Contains(ent.entitlements, r.Entitlement) {
			if version == "" || version == "latest" {
				// "latest" is the newest this license may have: a release
				// gated behind an entitlement it lacks is passed over.
				continue
			}
			return "", licensing.Errorf(licensing.ENotEntitled, "version %s needs the %q entitlement", r.Version, r.Entitlement)
		}
		if u := ent.updatesUntil; u != nil && r.PublishedAt != nil && r.PublishedAt.After(*u) {
			if version == "" || version == "latest" {
				continue // the newest release this license still may have
			}
			return "", licensing.Errorf(licensing.EUpdatesExpired, "version %s was published after the license expired (%s): renew the license to update",
				r.Version, u.Format(time.RFC3339))
		}
		art = &r.Artifacts[i]
		break
	}
	if art == nil {
		return "", licensing.Errorf(licensing.ENotFound, "no published release matches on channel %s for %s/%s", channel, req.Platform, req.Arch)
	}
	if _, err := s.cfg.Blobs.Stat(ctx, art.ObjectKey); err != nil {
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return "", licensing.Wrap(licensing.EUnavailable, err, "the release file is missing from storage")
		}
		return "", err
	}
	return s.cfg.Blobs.PresignGet(ctx, art.ObjectKey, art.Filename, s.cfg.DownloadTTL)
}
