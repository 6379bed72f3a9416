package release

import (
	"context"
	"crypto/ed25519"
	"io"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Status is where a release is in its life.
type Status string

const (
	// StatusDraft: being assembled; artifacts may be added; nobody can download it.
	StatusDraft Status = "draft"
	// StatusPublished: in the signed metadata and downloadable.
	StatusPublished Status = "published"
	// StatusYanked: withdrawn (a bad build): gone from the metadata and from downloads.
	StatusYanked Status = "yanked"
)

// ArtifactStatus says whether an artifact's bytes are in storage and checked.
type ArtifactStatus string

const (
	ArtifactPending ArtifactStatus = "pending" // upload URLs handed out, not finalized
	ArtifactReady   ArtifactStatus = "ready"   // the stored object's size and SHA-256 were checked
)

// Release is one version of a product.
type Release struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	Version   string `json:"version"` // semver, no leading v
	Channel   string `json:"channel"` // stable, beta, alpha or dev
	Notes     string `json:"notes,omitempty"`
	Status    Status `json:"status"`
	// Entitlement, when set, is the feature code a license must hold to get this release.
	Entitlement string     `json:"entitlement,omitempty"`
	YankReason  string     `json:"yank_reason,omitempty"`
	Artifacts   []Artifact `json:"artifacts"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Artifact is the file of a release for one platform and architecture.
type Artifact struct {
	ID        string         `json:"id"`
	ReleaseID string         `json:"release_id"`
	Platform  string         `json:"platform"`
	Arch      string         `json:"arch"`
	Filename  string         `json:"filename"`
	Size      int64          `json:"size"`
	SHA256    string         `json:"sha256"`    // hex
	SHA512    string         `json:"sha512"`    // hex
	Signature string         `json:"signature"` // base64 Ed25519 over verifier.ArtifactStatement
	KeyID     string         `json:"key_id"`
	Status    ArtifactStatus `json:"status"`
	ObjectKey string         `json:"-"` // where the bytes are in blob storage (the final key once ready)
	UploadID  string         `json:"-"` // the multipart upload in progress, if any
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Filter narrows a release listing (the version history).
type Filter struct {
	ProductID string
	Channel   string
	Status    Status
	Version   string // exact version (no leading v)
}

// MetadataRecord is the current signed metadata document of a product and
// channel, kept so every server instance serves the same bytes and the
// version number only grows.
type MetadataRecord struct {
	ProductID string
	Channel   string
	Version   int64
	Document  []byte // JSON of a verifier.SignedMetadata
	ExpiresAt time.Time
	UpdatedAt time.Time
}

// Repo is the persistence the release domain needs. Methods take ctx first
// and return the licensing error vocabulary: ENotFound for a missing row,
// EConflict for a broken unique rule, EUnavailable when the database is down.
// Implementations are safe for concurrent use.
type Repo interface {
	CreateRelease(ctx context.Context, r *Release) error // EConflict: the product already has this version
	// GetRelease loads a release with its artifacts.
	GetRelease(ctx context.Context, id string) (*Release, error)
	// ListReleases lists releases with their artifacts, in creation order.
	ListReleases(ctx context.Context, f Filter, page licensing.Page) ([]Release, error)
	// PublishedReleases lists every published release of a product, with artifacts.
	PublishedReleases(ctx context.Context, productID string) ([]Release, error)
	// LockRelease loads a release with its artifacts inside a transaction and
	// locks its row until the transaction ends (SELECT ... FOR UPDATE on
	// PostgreSQL; SQLite serializes writers anyway).
	LockRelease(ctx context.Context, id string) (*Release, error)
	// UpdateRelease saves status, notes, yank reason and times.
	UpdateRelease(ctx context.Context, r *Release) error
	CreateArtifact(ctx context.Context, a *Artifact) error // EConflict: the release has this platform/arch
	GetArtifact(ctx context.Context, id string) (*Artifact, error)
	// UpdateArtifact saves status, upload id and object key.
	UpdateArtifact(ctx context.Context, a *Artifact) error
	DeleteArtifact(ctx context.Context, id string) error
	// DeleteRelease removes a release row and its artifact rows (ENotFound).
	DeleteRelease(ctx context.Context, id string) error
	// PendingArtifacts lists artifacts still pending that were created before t.
	PendingArtifacts(ctx context.Context, before time.Time, limit int) ([]Artifact, error)
	GetMetadata(ctx context.Context, productID, channel string) (*MetadataRecord, error)
	// SaveMetadata stores m if the stored version is still prev (0: none
	// stored yet); EConflict when another writer got there first.
	SaveMetadata(ctx context.Context, m *MetadataRecord, prev int64) error
	AppendEvent(ctx context.Context, e *licensing.Event) error
}

// Store is a Repo that runs a function in one transaction.
type Store interface {
	Repo
	InTx(ctx context.Context, fn func(tx Repo) error) error
}

// UploadPart is one uploaded part of a multipart upload, as the store
// acknowledged it.
type UploadPart struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
}

// BlobStore keeps the artifacts' bytes. The API server hands out presigned
// URLs so bytes go straight between clients and the store. Errors use the
// licensing vocabulary: ENotFound for a missing object, EUnavailable when
// the store cannot be reached. Implementations are safe for concurrent use.
type BlobStore interface {
	// PresignPut returns a URL that accepts one PUT of the whole object,
	// exactly size bytes, until ttl (a larger or shorter body is refused).
	PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error)
	CreateMultipart(ctx context.Context, key string) (uploadID string, err error)
	// PresignPart returns a URL that accepts one PUT of part number
	// (1-based), exactly size bytes.
	PresignPart(ctx context.Context, key, uploadID string, number int, size int64, ttl time.Duration) (string, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []UploadPart) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// PresignGet returns a URL that serves the object (as filename) until ttl.
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error)
	// Stat returns the object's size (ENotFound when missing).
	Stat(ctx context.Context, key string) (int64, error)
	// Open streams the object.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Move renames the object src to dst (replacing dst) and removes src;
	// ENotFound when src is missing. dst is a key no upload URL was made for.
	// Where the store can, upload URLs of src stop working.
	Move(ctx context.Context, src, dst string) error
	// Delete removes the object; a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// Event actions of the release domain: declared in licensing, whose
// registry (licensing.Actions) webhooks subscribe from.
const (
	ActionReleaseCreated          = licensing.ActionReleaseCreated
	ActionReleasePublished        = licensing.ActionReleasePublished
	ActionReleaseYanked           = licensing.ActionReleaseYanked
	ActionReleaseDeleted          = licensing.ActionReleaseDeleted // a draft removed with its artifacts
	ActionArtifactAdded           = licensing.ActionArtifactAdded
	ActionArtifactFinalized       = licensing.ActionArtifactFinalized
	ActionArtifactAbandoned       = licensing.ActionArtifactAbandoned
	ActionArtifactRejected        = licensing.ActionArtifactRejected
	defaultMetadataTTL            = 7 * 24 * time.Hour
	defaultDownloadTTL            = 5 * time.Minute
	defaultUploadTTL              = time.Hour
	defaultPartSize               = 64 << 20
	minPartSize                   = 5 << 20 // S3's minimum for every part but the last
	maxParts                      = 10000   // S3's maximum
	maxSinglePut                  = 5 << 30 // S3's maximum single PUT
	MaxArtifactSize         int64 = 50 << 30
)

// KeyID is the id of a release or metadata public key.
type KeyID = string

// PublicKeys maps key ids to Ed25519 public keys.
type PublicKeys map[KeyID]ed25519.PublicKey
