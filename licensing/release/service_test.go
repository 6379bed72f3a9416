package release_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

type fixture struct {
	svc   *release.Service
	blobs *blob.Local
	clock *licensingtest.Clock
	key   ed25519.PrivateKey
	prod  string
	lic   *licensing.Services
}

func newFixture(t *testing.T, st *storage.Store) *fixture {
	c := licensingtest.NewClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	lic := licensing.NewServices(storage.Stores(st), licensing.Deps{Clock: c.Now, Issuer: "test"})
	local, err := blob.NewLocal(t.TempDir(), "", bytes.Repeat([]byte{9}, 32), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(local.Handler())
	t.Cleanup(srv.Close)
	local.SetBaseURL(srv.URL)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	svc, err := release.NewService(release.Config{Store: st.Releases(), Blobs: local, Leasing: lic.Leasing, Catalog: lic.Catalog,
		MetadataKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32)), ReleaseKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)},
		Clock: c.Now, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p, err := lic.Catalog.CreateProduct(context.Background(), licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, blobs: local, clock: c, key: key, prod: p.ID, lic: lic}
}

func (f *fixture) artifact(version, platform string, data []byte) release.ArtifactInput {
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	in := release.ArtifactInput{Platform: platform, Arch: "amd64", Filename: "app", Size: int64(len(data)),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}
	in.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(f.key,
		verifier.ArtifactStatement(f.prod, version, platform, "amd64", "app", in.Size, in.SHA256, in.SHA512)))
	return in
}

func put(t *testing.T, u string, data []byte) {
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()
}

func putStatus(t *testing.T, u string, data []byte) int {
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func wantCode(t *testing.T, err error, code licensing.Code) {
	t.Helper()
	if licensing.ErrorCode(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// The rules of the release life cycle, on SQLite and PostgreSQL.
func TestReleaseRules(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		for _, in := range []release.ReleaseInput{
			{ProductID: f.prod, Version: "1.0"},
			{ProductID: f.prod, Version: "1.0.0", Channel: "nightly"},
			{ProductID: "0190a1b2-0000-7000-8000-00000000dead", Version: "1.0.0"},
			{ProductID: f.prod, Version: "1.0.0", Entitlement: "no-such-thing"},
		} {
			_, err := f.svc.CreateRelease(ctx, in)
			wantCode(t, err, licensing.EInvalid)
		}
		r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "v1.0.0", Channel: "beta"})
		if err != nil || r.Version != "1.0.0" {
			t.Fatalf("create: %+v %v", r, err)
		}
		_, err = f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "1.0.0"})
		wantCode(t, err, licensing.EConflict)
		_, err = f.svc.Publish(ctx, r.ID)
		wantCode(t, err, licensing.EConflict) // no artifact
		data := []byte("build")
		bad := f.artifact("1.0.0", "linux", data)
		bad.SHA256 = "zz"
		_, err = f.svc.AddArtifact(ctx, r.ID, bad)
		wantCode(t, err, licensing.EInvalid)
		up, err := f.svc.AddArtifact(ctx, r.ID, f.artifact("1.0.0", "linux", data))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.AddArtifact(ctx, r.ID, f.artifact("1.0.0", "linux", data))
		wantCode(t, err, licensing.EConflict)
		_, err = f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{})
		wantCode(t, err, licensing.EConflict) // nothing uploaded yet
		put(t, up.URL, data)
		if a, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{}); err != nil || a.Status != release.ArtifactReady {
			t.Fatalf("finalize: %+v %v", a, err)
		}
		if r, err = f.svc.Publish(ctx, r.ID); err != nil || r.Status != release.StatusPublished {
			t.Fatalf("publish: %+v %v", r, err)
		}
		_, err = f.svc.AddArtifact(ctx, r.ID, f.artifact("1.0.0", "darwin", data))
		wantCode(t, err, licensing.EConflict) // published releases are immutable
		_, err = f.svc.Publish(ctx, r.ID)
		wantCode(t, err, licensing.EConflict)
		if r, err = f.svc.Yank(ctx, r.ID, "bad build"); err != nil || r.Status != release.StatusYanked || r.YankReason != "bad build" {
			t.Fatalf("yank: %+v %v", r, err)
		}
		hist, err := f.svc.Releases(ctx, release.Filter{ProductID: f.prod, Channel: "beta"}, licensing.Page{})
		if err != nil || len(hist) != 1 || len(hist[0].Artifacts) != 1 {
			t.Fatalf("history: %+v %v", hist, err)
		}
		_, err = f.svc.Releases(ctx, release.Filter{Status: "gone"}, licensing.Page{})
		wantCode(t, err, licensing.EInvalid)
	})
}

// Uploads never finalized are removed by the cleanup job, with their
// multipart uploads and partial objects; finalized ones and recent ones stay.
func TestCleanupAbandonedUploads(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "2.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("finished build")
		done, _ := f.svc.AddArtifact(ctx, r.ID, f.artifact("2.0.0", "linux", data))
		put(t, done.URL, data)
		ready, err := f.svc.Finalize(ctx, r.ID, done.Artifact.ID, release.FinalizeInput{})
		if err != nil {
			t.Fatal(err)
		}
		half, _ := f.svc.AddArtifact(ctx, r.ID, f.artifact("2.0.0", "darwin", data))
		put(t, half.URL, data) // uploaded, never finalized
		multi := f.artifact("2.0.0", "windows", data)
		multi.Multipart = true
		mp, err := f.svc.AddArtifact(ctx, r.ID, multi)
		if err != nil || len(mp.Parts) != 1 {
			t.Fatalf("multipart: %+v %v", mp, err)
		}
		if n, err := f.svc.CleanupAbandonedUploads(ctx, time.Minute); err != nil || n != 0 {
			t.Fatalf("cleanup of fresh uploads (URLs still valid) = %d, %v", n, err)
		}
		f.clock.Add(2 * time.Hour)
		recent, _ := f.svc.AddArtifact(ctx, r.ID, f.artifact("2.0.0", "freebsd", data))
		n, err := f.svc.CleanupAbandonedUploads(ctx, time.Hour)
		if err != nil || n != 2 {
			t.Fatalf("cleanup = %d, %v; want 2", n, err)
		}
		got, _ := f.svc.Release(ctx, r.ID)
		left := map[string]release.ArtifactStatus{}
		for _, a := range got.Artifacts {
			left[a.Platform] = a.Status
		}
		if len(left) != 2 || left["linux"] != release.ArtifactReady || left["freebsd"] != release.ArtifactPending {
			t.Errorf("left after cleanup: %v", left)
		}
		if _, err := f.blobs.Stat(ctx, half.Artifact.ObjectKey); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the abandoned object is still stored: %v", err)
		}
		if _, err := f.blobs.Stat(ctx, ready.ObjectKey); err != nil {
			t.Errorf("the finalized object is gone: %v", err)
		}
		if err := f.blobs.CompleteMultipart(ctx, mp.Artifact.ObjectKey, mp.Artifact.UploadID, nil); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the abandoned multipart upload still exists: %v", err)
		}
		_ = recent
		// Running it again (another instance) finds nothing more.
		if n, err := f.svc.CleanupAbandonedUploads(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("second cleanup = %d, %v", n, err)
		}
	})
}

// Metadata versions only grow, and every publish re-signs the channels that
// show the release.
func TestMetadataVersionsGrow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		repo := st.Releases()
		var last int64
		for i, v := range []string{"1.0.0", "1.1.0", "1.2.0-beta.1"} {
			ch := "stable"
			if i == 2 {
				ch = "beta"
			}
			r, _ := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: v, Channel: ch})
			data := []byte(v)
			up, _ := f.svc.AddArtifact(ctx, r.ID, f.artifact(v, "linux", data))
			put(t, up.URL, data)
			if _, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Publish(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			md, err := repo.GetMetadata(ctx, f.prod, "dev")
			if err != nil || md.Version <= last {
				t.Fatalf("dev metadata after %s: %+v %v", v, md, err)
			}
			last = md.Version
		}
		stable, _ := repo.GetMetadata(ctx, f.prod, "stable")
		if stable.Version != 2 {
			t.Errorf("stable metadata version %d, want 2 (the beta release does not touch it)", stable.Version)
		}
		err := repo.SaveMetadata(ctx, &release.MetadataRecord{ProductID: f.prod, Channel: "stable", Version: 2, Document: []byte("{}"), ExpiresAt: f.clock.Now(), UpdatedAt: f.clock.Now()}, 1)
		wantCode(t, err, licensing.EConflict)
	})
}

// A PUT through an upload URL after finalize does not change the checked
// bytes; a key id that is not hex is refused; a multipart finalize retried
// after the upload was completed (but not recorded) still succeeds.
func TestFinalizeHardening(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "3.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		bad := f.artifact("3.0.0", "linux", []byte("x"))
		bad.KeyID = strings.Repeat("a", 65)
		_, err = f.svc.AddArtifact(ctx, r.ID, bad)
		wantCode(t, err, licensing.EInvalid)
		bad.KeyID = "not-hex"
		_, err = f.svc.AddArtifact(ctx, r.ID, bad)
		wantCode(t, err, licensing.EInvalid)

		data := []byte("the checked build")
		up, err := f.svc.AddArtifact(ctx, r.ID, f.artifact("3.0.0", "linux", data))
		if err != nil {
			t.Fatal(err)
		}
		put(t, up.URL, data)
		a, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{})
		if err != nil {
			t.Fatal(err)
		}
		if a.ObjectKey == up.Artifact.ObjectKey {
			t.Fatalf("the checked object stays at its upload key %s", a.ObjectKey)
		}
		// The local store refuses the upload URL once finalize moved its
		// object (S3 cannot revoke it: see cmd/narcidi's TestReleasesS3).
		if st := putStatus(t, up.URL, []byte("a replaced build!")); st != 403 {
			t.Fatalf("PUT through the upload URL after finalize = %d, want 403", st)
		}
		rc, err := f.blobs.Open(ctx, a.ObjectKey)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("the final object is %q after a PUT through the old URL", got)
		}

		// Multipart: the store completed the upload, the database was not told.
		multi := f.artifact("3.0.0", "darwin", data)
		multi.Multipart = true
		mp, err := f.svc.AddArtifact(ctx, r.ID, multi)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", mp.Parts[0].URL, bytes.NewReader(data))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("PUT part: %v %v", resp, err)
		}
		resp.Body.Close()
		parts := []release.UploadPart{{Number: 1, ETag: resp.Header.Get("ETag")}}
		if err := f.blobs.CompleteMultipart(ctx, mp.Artifact.ObjectKey, mp.Artifact.UploadID, parts); err != nil {
			t.Fatal(err)
		}
		if a, err := f.svc.Finalize(ctx, r.ID, mp.Artifact.ID, release.FinalizeInput{Parts: parts}); err != nil || a.Status != release.ArtifactReady {
			t.Fatalf("retried multipart finalize: %+v %v", a, err)
		}
		// Published, a late artifact is refused.
		if _, err := f.svc.Publish(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.AddArtifact(ctx, r.ID, f.artifact("3.0.0", "freebsd", data))
		wantCode(t, err, licensing.EConflict)
	})
}

// An artifact added while the release is being published either lands
// before (and Publish refuses) or is refused: a published release never
// holds an unchecked artifact.
func TestAddArtifactRacesPublish(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		data := []byte("build")
		for i := range 8 {
			v := fmt.Sprintf("4.0.%d", i)
			r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: v})
			if err != nil {
				t.Fatal(err)
			}
			up, err := f.svc.AddArtifact(ctx, r.ID, f.artifact(v, "linux", data))
			if err != nil {
				t.Fatal(err)
			}
			put(t, up.URL, data)
			if _, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = f.svc.AddArtifact(ctx, r.ID, f.artifact(v, "darwin", data)) }()
			go func() { defer wg.Done(); _, _ = f.svc.Publish(ctx, r.ID) }()
			wg.Wait()
			got, err := f.svc.Release(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == release.StatusPublished {
				for _, a := range got.Artifacts {
					if a.Status != release.ArtifactReady {
						t.Fatalf("published release %s holds a %s artifact %s/%s", v, a.Status, a.Platform, a.Arch)
					}
				}
			}
		}
	})
}

// A draft is deleted with its artifacts, their stored bytes and multipart
// uploads, audited, and its version can be used again; a published release
// cannot be deleted.
func TestDeleteDraft(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "4.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("a draft build")
		up, _ := f.svc.AddArtifact(ctx, r.ID, f.artifact("4.0.0", "linux", data))
		put(t, up.URL, data)
		ready, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{})
		if err != nil {
			t.Fatal(err)
		}
		multi := f.artifact("4.0.0", "darwin", data)
		multi.Multipart = true
		mp, err := f.svc.AddArtifact(ctx, r.ID, multi)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteRelease(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Release(ctx, r.ID)
		wantCode(t, err, licensing.ENotFound)
		_, err = st.Releases().GetArtifact(ctx, ready.ID)
		wantCode(t, err, licensing.ENotFound)
		if _, err := f.blobs.Stat(ctx, ready.ObjectKey); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the finalized object is still stored: %v", err)
		}
		if err := f.blobs.CompleteMultipart(ctx, mp.Artifact.ObjectKey, mp.Artifact.UploadID, nil); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the multipart upload still exists: %v", err)
		}
		evs, err := st.ListEvents(ctx, licensing.EventFilter{Action: release.ActionReleaseDeleted}, licensing.Page{})
		if err != nil || len(evs) != 1 || evs[0].TargetID != r.ID || evs[0].Before == nil {
			t.Fatalf("release.deleted events: %+v %v", evs, err)
		}
		wantCode(t, f.svc.DeleteRelease(ctx, r.ID), licensing.ENotFound)
		// The version is free again; once published it cannot be deleted.
		r, err = f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: "4.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		up, _ = f.svc.AddArtifact(ctx, r.ID, f.artifact("4.0.0", "linux", data))
		put(t, up.URL, data)
		if _, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Publish(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.svc.DeleteRelease(ctx, r.ID), licensing.EConflict)
		if got, err := f.svc.Releases(ctx, release.Filter{ProductID: f.prod, Version: "v4.0.0"}, licensing.Page{}); err != nil || len(got) != 1 || got[0].ID != r.ID {
			t.Fatalf("filter by version: %+v %v", got, err)
		}
		_, err = f.svc.Releases(ctx, release.Filter{Version: "four"}, licensing.Page{})
		wantCode(t, err, licensing.EInvalid)
	})
}
