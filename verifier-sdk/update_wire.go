package verifier

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The release update contract: the bodies of the client release routes, the
// signed release metadata document and the exact bytes each signature covers.
// They live here, like the lease claims, because the server produces them and
// apps check them; both sides must agree byte for byte.

// ReleaseMetadataType is the "type" of a signed release metadata payload, so
// that no other signed document can be passed off as one.
const ReleaseMetadataType = "narcidi-release-metadata"

// ReleaseChannels lists the channels from the most to the least stable. A
// client on a channel also sees every more stable one (a beta tester gets the
// stable releases too).
var ReleaseChannels = []string{"stable", "beta", "alpha", "dev"}

// SignedMetadata is the document the server publishes per product and
// channel: the payload is the JSON of a ReleaseMetadata, base64 (standard,
// padded), and each signature covers MetadataSigningInput(payload bytes).
// Carrying the payload as bytes avoids any canonical-JSON question: the
// signature is checked over exactly what is then parsed.
type SignedMetadata struct {
	Payload    string              `json:"payload"`
	Signatures []MetadataSignature `json:"signatures"`
}

// MetadataSignature is one Ed25519 signature of the payload.
type MetadataSignature struct {
	KeyID string `json:"keyid"` // ReleaseKeyID of the signing key
	Sig   string `json:"sig"`   // base64 (standard, padded)
}

// ReleaseMetadata is the signed list of the published releases a channel
// offers. Version grows by one each time the server re-signs it, so a client
// that remembers the highest Version it accepted can refuse a replayed older
// document; Expires bounds how long a frozen (withheld) list is believed.
type ReleaseMetadata struct {
	Type        string         `json:"type"`
	SpecVersion int            `json:"spec_version"`
	ProductID   string         `json:"product_id"`
	Channel     string         `json:"channel"`
	Version     int64          `json:"version"`
	IssuedAt    int64          `json:"issued_at"` // Unix seconds
	Expires     int64          `json:"expires"`   // Unix seconds
	Releases    []ReleaseEntry `json:"releases"`  // newest first
}

// ReleaseEntry is one published release in the metadata.
type ReleaseEntry struct {
	Version     string            `json:"version"` // semver, without a leading v
	Channel     string            `json:"channel"`
	Entitlement string            `json:"entitlement,omitempty"`
	PublishedAt int64             `json:"published_at"`
	Artifacts   []ReleaseArtifact `json:"artifacts"`
}

// ReleaseArtifact is one downloadable file of a release, for one platform.
type ReleaseArtifact struct {
	Platform  string `json:"platform"` // GOOS-style: linux, darwin, windows
	Arch      string `json:"arch"`     // GOARCH-style: amd64, arm64
	Filename  string `json:"filename"`
	Length    int64  `json:"length"`
	SHA256    string `json:"sha256"`    // hex
	SHA512    string `json:"sha512"`    // hex
	Signature string `json:"signature"` // base64 Ed25519 over ArtifactStatement, by a release key
	KeyID     string `json:"keyid"`     // ReleaseKeyID of that key
}

// ReleaseCheckRequest asks for the signed metadata of a channel. The caller
// proves a license with its key or with a lease it holds.
type ReleaseCheckRequest struct {
	LicenseKey  string `json:"license_key,omitempty"`
	Lease       string `json:"lease,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ProductID   string `json:"product_id,omitempty"` // when set, the license must be for this product
	Channel     string `json:"channel,omitempty"`    // default stable
}

// ReleaseDownloadRequest starts alike ReleaseCheckRequest (the license's
// proof, product, channel): kept apart rather than embedded, so that apps'
// composite literals of either keep compiling.
//
// ReleaseDownloadRequest asks for one artifact; the server answers 303 with a
// short-lived URL of the bytes.
type ReleaseDownloadRequest struct {
	LicenseKey  string `json:"license_key,omitempty"`
	Lease       string `json:"lease,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ProductID   string `json:"product_id,omitempty"` // when set, the license must be for this product
	Channel     string `json:"channel,omitempty"`    // default stable
	Version     string `json:"version,omitempty"`    // default latest
	Platform    string `json:"platform"`
	Arch        string `json:"arch"`
}

// MetadataSigningInput is what a metadata signature covers: a fixed context
// string, then the payload bytes (domain separation from every other thing
// the same key could sign).
func MetadataSigningInput(payload []byte) []byte {
	return append([]byte("narcidi-release-metadata-v1\n"), payload...)
}

// ArtifactStatement is what a release key signs for one artifact. It binds
// the bytes (length and both hashes) to the product, the version and the
// platform, so a genuine old binary cannot be passed off as a newer version
// or another product's.
func ArtifactStatement(productID, version, platform, arch, filename string, length int64, sha256Hex, sha512Hex string) []byte {
	return []byte(strings.Join([]string{"narcidi-release-artifact-v1", productID, version, platform, arch, filename,
		strconv.FormatInt(length, 10), strings.ToLower(sha256Hex), strings.ToLower(sha512Hex)}, "\n"))
}

// ReleaseKeyID names an Ed25519 public key: the first 16 bytes of its
// SHA-256, hex.
func ReleaseKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// SemVer is a parsed semantic version (semver.org 2.0.0).
type SemVer struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers; empty for a release
	Build               string
}

// ParseVersion parses "1.2.3", "1.2.3-beta.1" or "1.2.3+build" (no leading v).
func ParseVersion(s string) (SemVer, error) {
	var v SemVer
	if len(s) == 0 || len(s) > 128 {
		return v, fmt.Errorf("version %q: not semver (MAJOR.MINOR.PATCH)", s)
	}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		rest, v.Build = rest[:i], rest[i+1:]
		if !validIdents(v.Build, false) {
			return v, fmt.Errorf("version %q: bad build metadata", s)
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if !validIdents(pre, true) {
			return v, fmt.Errorf("version %q: bad pre-release", s)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q: not semver (MAJOR.MINOR.PATCH)", s)
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !numeric(p) || (len(p) > 1 && p[0] == '0') {
			return v, fmt.Errorf("version %q: not semver (MAJOR.MINOR.PATCH)", s)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, fmt.Errorf("version %q: %w", s, err)
		}
		*nums[i] = n
	}
	return v, nil
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validIdents(s string, noLeadingZero bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if noLeadingZero && numeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// Compare orders versions by semver precedence: -1, 0 or +1. Build metadata
// does not count.
func (v SemVer) Compare(w SemVer) int {
	for _, d := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		if a == b {
			continue
		}
		an, bn := numeric(a), numeric(b)
		switch {
		case an && bn:
			x, _ := strconv.ParseUint(a, 10, 64)
			y, _ := strconv.ParseUint(b, 10, 64)
			if x < y {
				return -1
			}
			return 1
		case an:
			return -1
		case bn:
			return 1
		case a < b:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// CompareVersions compares two version strings; an unparsable one sorts
// before every valid one.
func CompareVersions(a, b string) int {
	va, ea := ParseVersion(a)
	vb, eb := ParseVersion(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return va.Compare(vb)
}

// ChannelIncludes reports whether a client on channel sees releases of
// release channel rc (a channel includes every more stable one).
func ChannelIncludes(channel, rc string) bool {
	ci, ri := channelRank(channel), channelRank(rc)
	return ci >= 0 && ri >= 0 && ri <= ci
}

func channelRank(c string) int {
	for i, x := range ReleaseChannels {
		if x == c {
			return i
		}
	}
	return -1
}
