package console_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/blob/blobtest"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// A release made from the console on each blob store: the new-release
// form makes a draft, "Add a file" (as the page's script sends it) answers
// a presigned URL, the bytes go there as a browser sends them, finalize
// checks them; the draft then publishes. A wrong hash is refused at
// finalize, and the form sent without script gets the upload page.
func TestReleaseUploadFromTheConsole(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"local", "s3"} {
		t.Run(store, func(t *testing.T) {
			st := storagetest.Open(t, "sqlite")
			var blobs release.BlobStore
			if store == "s3" {
				s3, err := blob.NewS3(context.Background(), blobtest.S3(t))
				must(t, err)
				blobs = s3
			}
			e := newEnvOn(t, st, nil, blobs)
			admin := e.signedIn(licensing.RoleAdmin)
			prod := e.license.ProductID
			resp, body := admin.do("GET", "/console/releases/new?product="+prod, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `selected>Studio</option>`) {
				t.Fatalf("new release form: %d %s", resp.StatusCode, body)
			}
			csrf := csrfField.FindStringSubmatch(body)[1]
			if resp, body := admin.do("POST", "/console/releases", url.Values{"csrf": {csrf}, "product_id": {prod}, "version": {"two"}, "channel": {"stable"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="version" name="version" value="two"`) {
				t.Fatalf("a bad version: %d %s", resp.StatusCode, body)
			}
			resp, _ = admin.do("POST", "/console/releases", url.Values{"csrf": {csrf}, "product_id": {prod}, "version": {"2.4.1"}, "channel": {"stable"}, "notes": {"first"}})
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/releases/") {
				t.Fatalf("create: %d to %q", resp.StatusCode, loc)
			}
			relID := strings.TrimPrefix(strings.Split(loc, "?")[0], "/console/releases/")
			resp, body = admin.do("GET", "/console/releases/"+relID, nil)
			origin, err := e.ops.releases.UploadOrigin(context.Background())
			must(t, err)
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; connect-src 'self' "+origin) {
				t.Errorf("the draft's page may not send to the blob store: %s", csp)
			}
			if !strings.Contains(body, `id="artifact-form"`) || !strings.Contains(body, `src="/console/static/upload.js"`) {
				t.Fatalf("no add-a-file form on the draft: %s", body)
			}

			data := bytes.Repeat([]byte("studio build 2.4.1\n"), 1000)
			add := func(data []byte, arch string) url.Values {
				s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
				f := url.Values{"csrf": {csrf}, "platform": {"linux"}, "arch": {arch}, "filename": {"studio"}, "size": {strconv.Itoa(len(data))},
					"sha256": {hex.EncodeToString(s256[:])}, "sha512": {hex.EncodeToString(s512[:])}}
				f.Set("signature", base64.StdEncoding.EncodeToString(ed25519.Sign(e.ops.key,
					verifier.ArtifactStatement(prod, "2.4.1", "linux", arch, "studio", int64(len(data)), f.Get("sha256"), f.Get("sha512")))))
				return f
			}
			admin.accept = "application/json"
			resp, body = admin.do("POST", "/console/releases/"+relID+"/artifacts", add(data, "amd64"))
			var up struct {
				ArtifactID, URL, Finalize, Error string
			}
			must(t, json.Unmarshal([]byte(body), &up))
			if resp.StatusCode != http.StatusCreated || up.URL == "" || !strings.HasPrefix(up.URL, origin+"/") {
				t.Fatalf("add artifact: %d %s", resp.StatusCode, body)
			}
			// A second arch whose bytes differ from the declared ones.
			_, body = admin.do("POST", "/console/releases/"+relID+"/artifacts", add(data, "arm64"))
			var bad struct{ ArtifactID, URL, Finalize string }
			must(t, json.Unmarshal([]byte(body), &bad))
			for _, u := range []struct {
				url  string
				data []byte
			}{{up.URL, data}, {bad.URL, bytes.ToUpper(data)}} {
				// As the script sends it: a PUT without Content-Type.
				req, _ := http.NewRequest("PUT", u.url, bytes.NewReader(u.data))
				presp, err := http.DefaultClient.Do(req)
				must(t, err)
				out, _ := io.ReadAll(presp.Body)
				presp.Body.Close()
				if presp.StatusCode != http.StatusOK {
					t.Fatalf("PUT to the presigned URL: %d %s", presp.StatusCode, out)
				}
			}
			if resp, body := admin.do("POST", bad.Finalize, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "SHA-256") {
				t.Errorf("finalize of other bytes: %d %s", resp.StatusCode, body)
			}
			if resp, body := admin.do("POST", up.Finalize, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
				t.Fatalf("finalize: %d %s", resp.StatusCode, body)
			}
			admin.accept = ""
			// Without script: the form's answer is the upload page.
			resp, body = admin.do("POST", "/console/releases/"+relID+"/artifacts", add([]byte("windows build"), "386"))
			if resp.StatusCode != http.StatusCreated || !strings.Contains(body, `id="upload-command">curl -fsS -T studio '`+origin) || !strings.Contains(body, `id="finalize-form"`) {
				t.Fatalf("the upload page: %d %s", resp.StatusCode, body)
			}
			r, err := e.ops.releases.Release(context.Background(), relID)
			must(t, err)
			var ready int
			for _, a := range r.Artifacts {
				if a.Status == release.ArtifactReady {
					ready++
					if a.Arch != "amd64" || a.Size != int64(len(data)) {
						t.Errorf("ready artifact: %+v", a)
					}
				}
			}
			if ready != 1 || len(r.Artifacts) != 2 { // amd64 ready, 386 pending, arm64 removed
				t.Fatalf("artifacts: %+v", r.Artifacts)
			}
		})
	}
}
