package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/blob/blobtest"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func TestReleaseDraftResumeLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testReleaseDraftResume(t, map[string]string{"NARCIDI_BLOB_DIR": dir}, func(key string) bool {
		_, err := os.Stat(filepath.Join(dir, "objects", filepath.FromSlash(key)))
		return err == nil
	})
}

func TestReleaseDraftResumeS3(t *testing.T) {
	t.Parallel()
	s3 := blobtest.Start(t)
	st, err := blob.NewS3(context.Background(), s3.Config)
	if err != nil {
		t.Fatal(err)
	}
	testReleaseDraftResume(t, map[string]string{
		"NARCIDI_DATABASE_URL": storagetest.MigratedPostgresURL(t), "NARCIDI_MASTER_KEY": testMasterKey,
		"NARCIDI_BLOB_BACKEND": "s3", "NARCIDI_S3_BUCKET": s3.Config.Bucket, "NARCIDI_S3_ENDPOINT": s3.Config.Endpoint,
		"NARCIDI_S3_PATH_STYLE": "true", "NARCIDI_S3_ACCESS_KEY": s3.Config.AccessKey, "NARCIDI_S3_SECRET_KEY": s3.Config.SecretKey,
	}, func(key string) bool {
		_, err := st.Stat(context.Background(), key)
		if err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatal(err)
		}
		return err == nil
	})
}

// A publish the server refuses (a signature from an untrusted key) leaves a
// draft; publishing again through the CLI resumes it; a draft that differs
// is replaced (deleted with its stored bytes, audited); a published version
// is never deleted nor replaced.
func testReleaseDraftResume(t *testing.T, env map[string]string, stored func(key string) bool) {
	ctx := context.Background()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	for _, d := range []string{"good", "bad"} {
		if code := run(ctx, []string{"release", "keygen", "-out", filepath.Join(dir, d)}, func(string) string { return "" }, &out, &errOut); code != 0 {
			t.Fatalf("keygen: %s", errOut.String())
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "good", "release.pub"))
	env["NARCIDI_RELEASE_PUBLIC_KEYS"] = strings.TrimSpace(string(pub))
	app := startAppWith(t, env)
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 3)
	f1, f2 := filepath.Join(dir, "app-v1"), filepath.Join(dir, "app-v2")
	os.WriteFile(f1, []byte("build one"), 0o644)
	os.WriteFile(f2, []byte("build two, different"), 0o644)
	cliEnv := map[string]string{"NARCIDI_URL": app.URL(), "NARCIDI_TOKEN": adminToken}
	publish := func(key, version string, args ...string) (int, string) {
		out.Reset()
		errOut.Reset()
		a := append([]string{"release", "publish", "-product", cat.productID, "-version", version, "-key", filepath.Join(dir, key, "release.key")}, args...)
		code := run(ctx, a, func(k string) string { return cliEnv[k] }, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	find := func(version string) []release.Release {
		var l struct{ Data []release.Release }
		if st, b := admin.call("GET", "/v1/releases?product_id="+cat.productID+"&version="+version, nil, &l); st != 200 {
			t.Fatalf("list: %d %s", st, b)
		}
		return l.Data
	}

	// 1. The server refuses the signature: a draft without artifacts is left.
	if code, o := publish("bad", "1.0.0", "linux/amd64="+f1); code == 0 || !strings.Contains(o, "signature") {
		t.Fatalf("publish with an untrusted key: %d %s", code, o)
	}
	left := find("1.0.0")
	if len(left) != 1 || left[0].Status != release.StatusDraft || len(left[0].Artifacts) != 0 {
		t.Fatalf("after the refused publish: %+v", left)
	}
	// 2. Publishing again resumes that draft (-draft: stop before publishing).
	if code, o := publish("good", "1.0.0", "-draft", "linux/amd64="+f1); code != 0 || !strings.Contains(o, "resuming") {
		t.Fatalf("publish again: %d %s", code, o)
	}
	// 3. And again: the finalized artifact is not sent twice; it publishes.
	if code, o := publish("good", "1.0.0", "linux/amd64="+f1); code != 0 || !strings.Contains(o, "already uploaded") || !strings.Contains(o, "published") {
		t.Fatalf("publish the resumed draft: %d %s", code, o)
	}
	got := find("1.0.0")
	if len(got) != 1 || got[0].ID != left[0].ID || got[0].Status != release.StatusPublished || len(got[0].Artifacts) != 1 {
		t.Fatalf("resumed release: %+v", got)
	}
	// 4. A published version is neither replaced nor deleted.
	if code, o := publish("good", "1.0.0", "linux/amd64="+f2); code == 0 || !strings.Contains(o, "already published") {
		t.Fatalf("publish over a published version: %d %s", code, o)
	}
	if st, b := admin.call("DELETE", "/v1/releases/"+got[0].ID, nil, nil); st != 409 {
		t.Fatalf("delete a published release: %d %s", st, b)
	}
	if st, _ := admin.call("DELETE", "/v1/releases/"+noSuchRelease, nil, nil); st != 404 {
		t.Fatalf("delete a missing release: %d", st)
	}
	// 5. A draft with another file is replaced: deleted with its bytes, made again.
	if code, o := publish("good", "1.1.0", "-draft", "linux/amd64="+f1); code != 0 {
		t.Fatalf("draft 1.1.0: %d %s", code, o)
	}
	old := find("1.1.0")[0]
	oldKey := "releases/ready/" + old.ID + "/" + old.Artifacts[0].ID + "/app-v1"
	if !stored(oldKey) {
		t.Fatalf("the finalized object %s is not where expected", oldKey)
	}
	if code, o := publish("good", "1.1.0", "linux/amd64="+f2); code != 0 || !strings.Contains(o, "deleted the draft") {
		t.Fatalf("publish over a different draft: %d %s", code, o)
	}
	now := find("1.1.0")
	if len(now) != 1 || now[0].ID == old.ID || now[0].Status != release.StatusPublished || now[0].Artifacts[0].Filename != "app-v2" {
		t.Fatalf("replaced release: %+v", now)
	}
	if stored(oldKey) {
		t.Error("the deleted draft's object is still stored")
	}
	if st, _ := admin.call("GET", "/v1/releases/"+old.ID, nil, nil); st != 404 {
		t.Errorf("the deleted draft: GET = %d", st)
	}
	// 6. The API delete of a draft: 204, audited with the draft as it was.
	var d release.Release
	admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": "2.0.0"}, &d)
	if st, b := admin.call("DELETE", "/v1/releases/"+d.ID, nil, nil); st != 204 {
		t.Fatalf("delete a draft: %d %s", st, b)
	}
	var ev struct{ Data []licensing.Event }
	admin.call("GET", "/v1/events?action=release.deleted", nil, &ev)
	ids := map[string]bool{}
	for _, e := range ev.Data {
		ids[e.TargetID] = e.Before != nil
	}
	if !ids[d.ID] || !ids[old.ID] {
		t.Errorf("release.deleted events: %+v", ev.Data)
	}
	admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": "2.0.0"}, &d)
}
