package storage

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Releases implements release.Store on the same database as Store.
//
// Alike the other repositories (Users, Portal, Subscriptions): the same
// three lines of a view over Store, one per domain store interface.
type Releases struct {
	s *Store
}

var _ release.Store = (*Releases)(nil)

// Releases returns the release repository of the store.
func (s *Store) Releases() *Releases { return &Releases{s: s} }

// InTx runs fn in one transaction.
func (r *Releases) InTx(ctx context.Context, fn func(tx release.Repo) error) error {
	return r.s.InTx(ctx, func(tx *Store) error { return fn(&Releases{s: tx}) })
}

func (r *Releases) AppendEvent(ctx context.Context, e *licensing.Event) error {
	return r.s.AppendEvent(ctx, e)
}

func (r *Releases) CreateRelease(ctx context.Context, rel *release.Release) error {
	setID(&rel.ID)
	return r.s.create(ctx, releaseToRow(rel))
}

// withArtifacts loads the artifacts of the releases (one query).
func (r *Releases) withArtifacts(ctx context.Context, rows []releaseRow) ([]release.Release, error) {
	out := make([]release.Release, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var arts []artifactRow
	if err := r.s.q(ctx).Where("release_id IN ?", ids).Order("platform, arch").Find(&arts).Error; err != nil {
		return nil, translate(err)
	}
	byRelease := map[string][]release.Artifact{}
	for i := range arts {
		byRelease[arts[i].ReleaseID] = append(byRelease[arts[i].ReleaseID], *artifactFromRow(&arts[i]))
	}
	for i := range rows {
		out[i] = *releaseFromRow(&rows[i])
		out[i].Artifacts = nonNil(byRelease[rows[i].ID])
	}
	return out, nil
}

func (r *Releases) GetRelease(ctx context.Context, id string) (*release.Release, error) {
	var row releaseRow
	if err := r.s.get(ctx, &row, id); err != nil {
		return nil, notFound(err, "release")
	}
	out, err := r.withArtifacts(ctx, []releaseRow{row})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

func (r *Releases) LockRelease(ctx context.Context, id string) (*release.Release, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, errorf(licensing.ENotFound, "release not found")
	}
	q := r.s.q(ctx)
	if r.s.postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row releaseRow
	if err := q.Take(&row, "id = ?", id).Error; err != nil {
		return nil, notFound(translate(err), "release")
	}
	out, err := r.withArtifacts(ctx, []releaseRow{row})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

func (r *Releases) ListReleases(ctx context.Context, f release.Filter, page licensing.Page) ([]release.Release, error) {
	q := whereEqual(r.s.q(ctx).Model(&releaseRow{}),
		colValue{"product_id", f.ProductID}, colValue{"channel", f.Channel}, colValue{"status", string(f.Status)}, colValue{"version", f.Version})
	var rows []releaseRow
	if err := paged(q, page).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return r.withArtifacts(ctx, rows)
}

func (r *Releases) PublishedReleases(ctx context.Context, productID string) ([]release.Release, error) {
	var rows []releaseRow
	if err := r.s.q(ctx).Where("product_id = ? AND status = ?", productID, string(release.StatusPublished)).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return r.withArtifacts(ctx, rows)
}

func (r *Releases) UpdateRelease(ctx context.Context, rel *release.Release) error {
	return r.s.save(ctx, releaseToRow(rel), "status", "notes", "yank_reason", "published_at", "updated_at")
}

func (r *Releases) CreateArtifact(ctx context.Context, a *release.Artifact) error {
	setID(&a.ID)
	return r.s.create(ctx, artifactToRow(a))
}

func (r *Releases) GetArtifact(ctx context.Context, id string) (*release.Artifact, error) {
	return getRow(r.s, ctx, id, "artifact", artifactFromRow)
}

func (r *Releases) UpdateArtifact(ctx context.Context, a *release.Artifact) error {
	return r.s.save(ctx, artifactToRow(a), "status", "upload_id", "object_key", "updated_at")
}

func (r *Releases) DeleteArtifact(ctx context.Context, id string) error {
	res := r.s.q(ctx).Delete(&artifactRow{}, "id = ?", id)
	return affected(res, errorf(licensing.ENotFound, "artifact not found"))
}

func (r *Releases) DeleteRelease(ctx context.Context, id string) error {
	if err := r.s.q(ctx).Delete(&artifactRow{}, "release_id = ?", id).Error; err != nil {
		return translate(err)
	}
	res := r.s.q(ctx).Delete(&releaseRow{}, "id = ?", id)
	return affected(res, licensing.Errorf(licensing.ENotFound, "release not found"))
}

func (r *Releases) PendingArtifacts(ctx context.Context, before time.Time, limit int) ([]release.Artifact, error) {
	var rows []artifactRow
	err := r.s.q(ctx).Where("status = ? AND created_at < ?", string(release.ArtifactPending), before.UTC()).Order("created_at").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]release.Artifact, len(rows))
	for i := range rows {
		out[i] = *artifactFromRow(&rows[i])
	}
	return out, nil
}

func (r *Releases) GetMetadata(ctx context.Context, productID, channel string) (*release.MetadataRecord, error) {
	var row releaseMetadataRow
	if err := r.s.q(ctx).Take(&row, "product_id = ? AND channel = ?", productID, channel).Error; err != nil {
		return nil, notFound(translate(err), "release metadata")
	}
	return &release.MetadataRecord{ProductID: row.ProductID, Channel: row.Channel, Version: row.Version,
		Document: row.Document, ExpiresAt: utc(row.ExpiresAt), UpdatedAt: utc(row.UpdatedAt)}, nil
}

// SaveMetadata is a compare-and-set on the version, so two instances
// re-signing at once cannot both win and the version never goes back.
func (r *Releases) SaveMetadata(ctx context.Context, m *release.MetadataRecord, prev int64) error {
	row := releaseMetadataRow{ProductID: m.ProductID, Channel: m.Channel, Version: m.Version, Document: m.Document,
		ExpiresAt: m.ExpiresAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
	if prev == 0 {
		return r.s.create(ctx, &row)
	}
	res := r.s.q(ctx).Model(&releaseMetadataRow{}).Where("product_id = ? AND channel = ? AND version = ?", m.ProductID, m.Channel, prev).
		Updates(map[string]any{"version": row.Version, "document": row.Document, "expires_at": row.ExpiresAt, "updated_at": row.UpdatedAt})
	return affected(res, errorf(licensing.EConflict, "the release metadata changed meanwhile"))
}

// Rows of the release tables.

type releaseRow struct {
	ID          string `gorm:"primaryKey"`
	ProductID   string
	Version     string
	Channel     string
	Notes       string
	Status      string
	Entitlement string
	YankReason  string
	PublishedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (releaseRow) TableName() string { return "releases" }

type artifactRow struct {
	ID        string `gorm:"primaryKey"`
	ReleaseID string
	Platform  string
	Arch      string
	Filename  string
	Size      int64
	SHA256    string `gorm:"column:sha256"`
	SHA512    string `gorm:"column:sha512"`
	Signature string
	KeyID     string
	Status    string
	ObjectKey string
	UploadID  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (artifactRow) TableName() string { return "release_artifacts" }

type releaseMetadataRow struct {
	ProductID string `gorm:"primaryKey"`
	Channel   string `gorm:"primaryKey"`
	Version   int64
	Document  []byte
	ExpiresAt time.Time
	UpdatedAt time.Time
}

func (releaseMetadataRow) TableName() string { return "release_metadata" }

func releaseFromRow(r *releaseRow) *release.Release {
	return &release.Release{ID: r.ID, ProductID: r.ProductID, Version: r.Version, Channel: r.Channel, Notes: r.Notes,
		Status: release.Status(r.Status), Entitlement: r.Entitlement, YankReason: r.YankReason, PublishedAt: utcPtr(r.PublishedAt),
		Artifacts: []release.Artifact{}, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func releaseToRow(r *release.Release) *releaseRow {
	return &releaseRow{ID: r.ID, ProductID: r.ProductID, Version: r.Version, Channel: r.Channel, Notes: r.Notes,
		Status: string(r.Status), Entitlement: r.Entitlement, YankReason: r.YankReason, PublishedAt: utcPtr(r.PublishedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func artifactFromRow(r *artifactRow) *release.Artifact {
	return &release.Artifact{ID: r.ID, ReleaseID: r.ReleaseID, Platform: r.Platform, Arch: r.Arch, Filename: r.Filename,
		Size: r.Size, SHA256: r.SHA256, SHA512: r.SHA512, Signature: r.Signature, KeyID: r.KeyID,
		Status: release.ArtifactStatus(r.Status), ObjectKey: r.ObjectKey, UploadID: r.UploadID,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func artifactToRow(a *release.Artifact) *artifactRow {
	return &artifactRow{ID: a.ID, ReleaseID: a.ReleaseID, Platform: a.Platform, Arch: a.Arch, Filename: a.Filename,
		Size: a.Size, SHA256: a.SHA256, SHA512: a.SHA512, Signature: a.Signature, KeyID: a.KeyID,
		Status: string(a.Status), ObjectKey: a.ObjectKey, UploadID: a.UploadID, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// migrateReleases creates the release tables (issue 5).
func migrateReleases(tx *gorm.DB) error {
	type release struct {
		ID          string     `gorm:"primaryKey;size:36"`
		ProductID   string     `gorm:"size:36;not null;uniqueIndex:releases_product_version,priority:1;index:releases_product_status,priority:1"`
		Version     string     `gorm:"size:128;not null;uniqueIndex:releases_product_version,priority:2"`
		Channel     string     `gorm:"size:16;not null"`
		Notes       string     `gorm:"type:text;not null"`
		Status      string     `gorm:"size:16;not null;index:releases_product_status,priority:2"`
		Entitlement string     `gorm:"size:64;not null"`
		YankReason  string     `gorm:"size:500;not null"`
		PublishedAt *time.Time ``
		CreatedAt   time.Time  `gorm:"not null"`
		UpdatedAt   time.Time  `gorm:"not null"`
	}
	type releaseArtifact struct {
		ID        string    `gorm:"primaryKey;size:36"`
		ReleaseID string    `gorm:"size:36;not null;uniqueIndex:release_artifacts_platform,priority:1"`
		Release   *release  `gorm:"foreignKey:ReleaseID;constraint:OnDelete:RESTRICT"`
		Platform  string    `gorm:"size:32;not null;uniqueIndex:release_artifacts_platform,priority:2"`
		Arch      string    `gorm:"size:32;not null;uniqueIndex:release_artifacts_platform,priority:3"`
		Filename  string    `gorm:"size:200;not null"`
		Size      int64     `gorm:"not null"`
		SHA256    string    `gorm:"column:sha256;size:64;not null"`
		SHA512    string    `gorm:"column:sha512;size:128;not null"`
		Signature string    `gorm:"size:100;not null"`
		KeyID     string    `gorm:"size:64;not null"`
		Status    string    `gorm:"size:16;not null;index:release_artifacts_pending,priority:1"`
		ObjectKey string    `gorm:"size:1024;not null"`
		UploadID  string    `gorm:"size:1024;not null"`
		CreatedAt time.Time `gorm:"not null;index:release_artifacts_pending,priority:2"`
		UpdatedAt time.Time `gorm:"not null"`
	}
	type releaseMetadata struct {
		ProductID string    `gorm:"primaryKey;size:36"`
		Channel   string    `gorm:"primaryKey;size:16"`
		Version   int64     `gorm:"not null"`
		Document  []byte    `gorm:"not null"`
		ExpiresAt time.Time `gorm:"not null"`
		UpdatedAt time.Time `gorm:"not null"`
	}
	if err := tx.Table("releases").Migrator().CreateTable(&release{}); err != nil {
		return err
	}
	if err := tx.Table("release_artifacts").Migrator().CreateTable(&releaseArtifact{}); err != nil {
		return err
	}
	return tx.Table("release_metadata").Migrator().CreateTable(&releaseMetadata{})
}
