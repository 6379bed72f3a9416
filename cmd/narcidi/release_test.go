package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage/blob/blobtest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// noSuchRelease is a well-formed id that names nothing (authorization matrix).
const noSuchRelease = "00000000-0000-7000-8000-000000000000"

// releaseKey is a publisher's release key pair.
type releaseKey struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newReleaseKey(t *testing.T) releaseKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return releaseKey{pub, priv}
}

// artifactFor hashes and signs data as `narcidi release publish` does.
func (k releaseKey) artifactFor(productID, version, platform, arch, filename string, data []byte) release.ArtifactInput {
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	in := release.ArtifactInput{Platform: platform, Arch: arch, Filename: filename, Size: int64(len(data)),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}
	stmt := verifier.ArtifactStatement(productID, version, platform, arch, filename, in.Size, in.SHA256, in.SHA512)
	in.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, stmt))
	in.KeyID = verifier.ReleaseKeyID(k.pub)
	return in
}

// noRedirect is a client that shows the 303 instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// download asks for an artifact and returns the status, the problem code
// (if refused) and the Location.
func download(t *testing.T, base string, req verifier.ReleaseDownloadRequest) (int, string, string, http.Header) {
	t.Helper()
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest("POST", base+"/v1/client/releases/download", bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkResponse(t, base, hr, body, resp, b)
	var p verifier.Problem
	_ = json.Unmarshal(b, &p)
	return resp.StatusCode, p.Code, resp.Header.Get("Location"), resp.Header
}

func httpDo(t *testing.T, method, u string, body io.Reader, size int64) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = size
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// putRefused reports whether the store refused a PUT of body: a 4xx answer,
// or the connection closed on a body it will not read (S3 stores may stop
// reading once the signed Content-Length is exceeded).
func putRefused(t *testing.T, u string, body []byte) (bool, string) {
	t.Helper()
	req, err := http.NewRequest("PUT", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return true, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode >= 400 && resp.StatusCode <= 499, fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// uploadAndFinalize sends data through the upload URLs and finalizes.
func uploadAndFinalize(t *testing.T, admin apiClient, releaseID string, up release.Upload, data []byte) (int, []byte) {
	t.Helper()
	var fin release.FinalizeInput
	if up.URL != "" {
		if status, b, _ := httpDo(t, "PUT", up.URL, bytes.NewReader(data), int64(len(data))); status != 200 {
			t.Fatalf("PUT = %d %s", status, b)
		}
	}
	for _, p := range up.Parts {
		lo := int64(p.Number-1) * up.PartSize
		hi := min(lo+up.PartSize, int64(len(data)))
		status, b, h := httpDo(t, "PUT", p.URL, bytes.NewReader(data[lo:hi]), hi-lo)
		if status != 200 {
			t.Fatalf("PUT part %d = %d %s", p.Number, status, b)
		}
		fin.Parts = append(fin.Parts, release.UploadPart{Number: p.Number, ETag: h.Get("ETag")})
	}
	return admin.call("POST", "/v1/releases/"+releaseID+"/artifacts/"+up.Artifact.ID+"/finalize", fin, nil)
}

func TestReleasesLocal(t *testing.T) { testReleases(t, "sqlite", nil, nil) }

func TestReleasesS3(t *testing.T) {
	t.Parallel()
	s3 := blobtest.Start(t)
	testReleases(t, "postgres", map[string]string{
		"NARCIDI_BLOB_BACKEND": "s3", "NARCIDI_S3_BUCKET": s3.Config.Bucket, "NARCIDI_S3_ENDPOINT": s3.Config.Endpoint,
		"NARCIDI_S3_PATH_STYLE": "true", "NARCIDI_S3_ACCESS_KEY": s3.Config.AccessKey, "NARCIDI_S3_SECRET_KEY": s3.Config.SecretKey,
	}, s3.Stop)
}

// testReleases runs the whole release flow on one backend: create, upload,
// finalize, publish, signed metadata, licensed download through the
// presigned URL, and every refusal. stopStore (if any) takes the store down.
func testReleases(t *testing.T, dialect string, env map[string]string, stopStore func()) {
	key := newReleaseKey(t)
	if env == nil {
		env = map[string]string{}
	}
	if dialect == "postgres" {
		usePostgres(t, env)
	}
	env["NARCIDI_RELEASE_PUBLIC_KEYS"] = base64.StdEncoding.EncodeToString(key.pub)
	env["NARCIDI_RELEASE_PART_SIZE"] = "5242880"
	app := startAppWith(t, env)
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 3)

	var rel release.Release
	admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": "1.0.0", "notes": "first"}, &rel)
	if rel.Status != release.StatusDraft || rel.Channel != "stable" {
		t.Fatalf("new release: %+v", rel)
	}
	small := []byte("#!/bin/sh\necho narcidi 1.0.0\n")
	big := make([]byte, 6<<20+123) // two parts of a multipart upload
	_, _ = rand.Read(big)

	// A bad signature is refused when the artifact is added.
	forged := key.artifactFor(cat.productID, "1.0.0", "linux", "amd64", "app", small)
	forged.Size++
	if status, b := admin.call("POST", "/v1/releases/"+rel.ID+"/artifacts", forged, nil); status != 422 {
		t.Fatalf("forged artifact: %d %s", status, b)
	}
	var up release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "linux", "amd64", "app", small), &up)
	if up.URL == "" || len(up.Parts) != 0 {
		t.Fatalf("small artifact upload: %+v", up)
	}
	// Publishing before finalize is refused.
	if status, _ := admin.call("POST", "/v1/releases/"+rel.ID+"/actions/publish", nil, nil); status != 409 {
		t.Errorf("publish with a pending artifact: %d", status)
	}
	if status, b := uploadAndFinalize(t, admin, rel.ID, up, small); status != 200 {
		t.Fatalf("finalize: %d %s", status, b)
	}
	smallUp := up // its PUT URL stays valid for an hour
	var bigUp release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "darwin", "arm64", "app.zip", big), &bigUp)
	if len(bigUp.Parts) != 2 {
		t.Fatalf("big artifact: %d parts", len(bigUp.Parts))
	}
	if status, b := uploadAndFinalize(t, admin, rel.ID, bigUp, big); status != 200 {
		t.Fatalf("finalize multipart: %d %s", status, b)
	}
	// An upload URL takes the declared size only: a larger body is refused
	// by the store (S3 checks the signed Content-Length), nothing is kept.
	var sizedUp release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "freebsd", "amd64", "app", small), &sizedUp)
	larger := append(append([]byte{}, small...), "rm -rf /\n"...)
	if ok, answer := putRefused(t, sizedUp.URL, larger); !ok {
		t.Errorf("PUT of a body larger than declared: %s", answer)
	}
	if st, b := admin.call("POST", "/v1/releases/"+rel.ID+"/artifacts/"+sizedUp.Artifact.ID+"/finalize", nil, nil); st != 409 {
		t.Errorf("finalize after a refused PUT = %d %s", st, b)
	}
	if status, b := uploadAndFinalize(t, admin, rel.ID, sizedUp, small); status != 200 {
		t.Fatalf("finalize of the declared bytes: %d %s", status, b)
	}
	var bigPartUp release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "freebsd", "arm64", "app.zip", big), &bigPartUp)
	if ok, answer := putRefused(t, bigPartUp.Parts[1].URL, big); !ok {
		t.Errorf("PUT of a part larger than its size: %s", answer)
	}
	if status, b := uploadAndFinalize(t, admin, rel.ID, bigPartUp, big); status != 200 {
		t.Fatalf("finalize multipart after a refused part: %d %s", status, b)
	}
	// Bytes that are not the declared ones are refused at finalize, and the
	// artifact is removed.
	var badUp release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "windows", "amd64", "app.exe", small), &badUp)
	tampered := bytes.ToUpper(small)
	if status, b := uploadAndFinalize(t, admin, rel.ID, badUp, tampered); status != 422 || !strings.Contains(string(b), "SHA-256") {
		t.Fatalf("finalize of tampered bytes: %d %s", status, b)
	}
	if status, b := admin.call("GET", "/v1/releases/"+rel.ID, nil, &rel); status != 200 || len(rel.Artifacts) != 4 {
		t.Fatalf("release after a refused finalize: %d %s", status, b)
	}
	// Nothing is downloadable before publication.
	dl := verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "linux", Arch: "amd64"}
	if status, code, _, _ := download(t, app.URL(), dl); status != 404 {
		t.Errorf("download of a draft: %d %s", status, code)
	}
	if status, b := admin.call("POST", "/v1/releases/"+rel.ID+"/actions/publish", nil, &rel); status != 200 || rel.Status != release.StatusPublished {
		t.Fatalf("publish: %d %s", status, b)
	}

	// The signed metadata lists it, signed by the key the server publishes.
	var keysOut struct {
		MetadataKeys []struct {
			KeyID     string `json:"keyid"`
			PublicKey string `json:"public_key"`
		} `json:"metadata_keys"`
	}
	client := apiClient{t, app.URL(), ""}
	client.call("GET", "/v1/client/releases/keys", nil, &keysOut)
	metaPub, _ := base64.StdEncoding.DecodeString(keysOut.MetadataKeys[0].PublicKey)
	var doc verifier.SignedMetadata
	if status, b := client.call("POST", "/v1/client/releases/metadata", verifier.ReleaseCheckRequest{LicenseKey: cat.key}, &doc); status != 200 {
		t.Fatalf("metadata: %d %s", status, b)
	}
	payload, _ := base64.StdEncoding.DecodeString(doc.Payload)
	sig, _ := base64.StdEncoding.DecodeString(doc.Signatures[0].Sig)
	if !ed25519.Verify(metaPub, verifier.MetadataSigningInput(payload), sig) {
		t.Fatal("the metadata signature does not verify with the published key")
	}
	var md verifier.ReleaseMetadata
	_ = json.Unmarshal(payload, &md)
	if md.ProductID != cat.productID || len(md.Releases) != 1 || md.Releases[0].Version != "1.0.0" || len(md.Releases[0].Artifacts) != 4 || md.Version < 1 {
		t.Fatalf("metadata: %+v", md)
	}

	// The licensed download: 303 to a presigned URL that serves the bytes.
	status, code, loc, _ := download(t, app.URL(), dl)
	if status != 303 || loc == "" {
		t.Fatalf("download: %d %s", status, code)
	}
	if strings.HasPrefix(loc, app.URL()) {
		t.Errorf("the download URL points at the API server: %s", loc)
	}
	if st, b, _ := httpDo(t, "GET", loc, nil, 0); st != 200 || !bytes.Equal(b, small) {
		t.Fatalf("GET presigned = %d %q", st, b)
	}
	// After finalize the checked bytes are at a key no URL can write. The
	// local store also refuses the old upload URL; S3 cannot revoke a
	// presigned URL and stores the PUT at the old key, which nothing
	// downloads. Either way downloads do not change. Part URLs of a
	// completed multipart upload are refused by both.
	st, b, _ := httpDo(t, "PUT", smallUp.URL, bytes.NewReader(bytes.ToUpper(small)), int64(len(small)))
	if s3 := env["NARCIDI_BLOB_BACKEND"] == "s3"; (s3 && st != 200) || (!s3 && st != 403) {
		t.Errorf("PUT through the upload URL after finalize = %d %s", st, b)
	}
	if ok, answer := putRefused(t, bigUp.Parts[0].URL, big[:5<<20]); !ok {
		t.Errorf("PUT through a part URL after finalize: %s", answer)
	}
	_, _, loc, _ = download(t, app.URL(), dl)
	if st, b, _ := httpDo(t, "GET", loc, nil, 0); st != 200 || !bytes.Equal(b, small) {
		t.Fatalf("GET after a PUT through the old upload URL = %d %q", st, b)
	}
	dl.Platform, dl.Arch, dl.Version = "darwin", "arm64", "1.0.0"
	_, _, loc, _ = download(t, app.URL(), dl)
	if st, b, _ := httpDo(t, "GET", loc, nil, 0); st != 200 || !bytes.Equal(b, big) {
		t.Fatalf("GET presigned multipart object = %d (%d bytes)", st, len(b))
	}
	// A lease proves the license too (with the fingerprint it is bound to).
	var lease verifier.LeaseResponse
	if status, b := client.call("POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fp-release-1"}, &lease); status != 201 {
		t.Fatalf("activate: %d %s", status, b)
	}
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{Lease: lease.Lease, Fingerprint: "fp-release-1", Platform: "linux", Arch: "amd64"}); status != 303 {
		t.Errorf("download with a lease: %d %s", status, code)
	}
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{Lease: lease.Lease, Fingerprint: "fp-other", Platform: "linux", Arch: "amd64"}); status != 403 {
		t.Errorf("a lease from another machine: %d %s", status, code)
	}
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{Lease: lease.Lease[:len(lease.Lease)-4] + "AAAA", Fingerprint: "fp-release-1", Platform: "linux", Arch: "amd64"}); status != 403 {
		t.Errorf("a forged lease: %d %s", status, code)
	}
	// A tampered URL is refused by the store.
	if st, _, _ := httpDo(t, "GET", strings.Replace(loc, "app.zip", "app.exe", 1), nil, 0); st != 403 {
		t.Errorf("tampered URL: %d, want 403", st)
	}

	// Refusals: 403 problem+json with a stable code.
	other := otherProductLicense(t, admin, cat.customerID)
	for name, tc := range map[string]struct {
		req  verifier.ReleaseDownloadRequest
		want string
	}{
		"unknown key":   {verifier.ReleaseDownloadRequest{LicenseKey: "NZL-NOPE", Platform: "linux", Arch: "amd64"}, "forbidden"},
		"wrong product": {verifier.ReleaseDownloadRequest{LicenseKey: other, ProductID: cat.productID, Platform: "linux", Arch: "amd64"}, "not_entitled"},
		"not activated": {verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Fingerprint: "never-seen", Platform: "linux", Arch: "amd64"}, "forbidden"},
	} {
		if status, code, _, _ := download(t, app.URL(), tc.req); status != 403 || code != tc.want {
			t.Errorf("%s: %d %s, want 403 %s", name, status, code, tc.want)
		}
	}
	// The other product has no release at all.
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: other, Platform: "linux", Arch: "amd64"}); status != 404 {
		t.Errorf("other product: %d %s", status, code)
	}
	if status, _, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "Linux!", Arch: "amd64"}); status != 422 {
		t.Errorf("bad platform: %d", status)
	}

	// A release that needs an entitlement the license lacks.
	admin.mustCreate("/v1/entitlements", map[string]any{"code": "pro-builds", "name": "Pro builds"}, nil)
	var pro release.Release
	admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": "1.1.0", "entitlement": "pro-builds"}, &pro)
	admin.mustCreate("/v1/releases/"+pro.ID+"/artifacts", key.artifactFor(cat.productID, "1.1.0", "linux", "amd64", "app", small), &up)
	if status, b := uploadAndFinalize(t, admin, pro.ID, up, small); status != 200 {
		t.Fatalf("finalize: %d %s", status, b)
	}
	admin.call("POST", "/v1/releases/"+pro.ID+"/actions/publish", nil, nil)
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Version: "1.1.0", Platform: "linux", Arch: "amd64"}); status != 403 || code != "not_entitled" {
		t.Errorf("missing entitlement: %d %s, want 403 not_entitled", status, code)
	}
	// "latest" passes over what the license is not entitled to: 1.0.0.
	status, code, loc, _ = download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "linux", Arch: "amd64"})
	if status != 303 {
		t.Fatalf("latest with an entitlement-gated newest release: %d %s", status, code)
	}
	if st, b, _ := httpDo(t, "GET", loc, nil, 0); st != 200 || !bytes.Equal(b, small) {
		t.Errorf("latest without the entitlement served %d %q, want 1.0.0", st, b)
	}
	// Yanked, it is gone from the metadata and latest is 1.0.0 again.
	if status, b := admin.call("POST", "/v1/releases/"+pro.ID+"/actions/yank", map[string]any{"reason": "bad build"}, nil); status != 200 {
		t.Fatalf("yank: %d %s", status, b)
	}
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "linux", Arch: "amd64"}); status != 303 {
		t.Errorf("latest after a yank: %d %s", status, code)
	}
	var doc2 verifier.SignedMetadata
	client.call("POST", "/v1/client/releases/metadata", verifier.ReleaseCheckRequest{LicenseKey: cat.key}, &doc2)
	payload, _ = base64.StdEncoding.DecodeString(doc2.Payload)
	var md2 verifier.ReleaseMetadata
	_ = json.Unmarshal(payload, &md2)
	if md2.Version <= md.Version || len(md2.Releases) != 1 {
		t.Errorf("metadata after publish+yank: version %d (was %d), %d releases", md2.Version, md.Version, len(md2.Releases))
	}
	// The version history lists both, filterable.
	var hist struct{ Data []release.Release }
	admin.call("GET", "/v1/releases?product_id="+cat.productID, nil, &hist)
	if len(hist.Data) != 2 {
		t.Errorf("history: %d releases", len(hist.Data))
	}
	admin.call("GET", "/v1/releases?product_id="+cat.productID+"&status=yanked", nil, &hist)
	if len(hist.Data) != 1 || hist.Data[0].Version != "1.1.0" {
		t.Errorf("yanked filter: %+v", hist.Data)
	}

	// Suspended: no more downloads.
	if status, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", map[string]any{"reason": "unpaid"}, nil); status != 200 {
		t.Fatalf("suspend: %d %s", status, b)
	}
	if status, code, _, _ := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "linux", Arch: "amd64"}); status != 403 || code != "license_suspended" {
		t.Errorf("suspended: %d %s", status, code)
	}
	if status, _ := client.call("POST", "/v1/client/releases/metadata", verifier.ReleaseCheckRequest{LicenseKey: cat.key}, nil); status != 403 {
		t.Errorf("metadata for a suspended license: %d", status)
	}
	admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/reinstate", map[string]any{}, nil)

	// The store down: 503 with Retry-After.
	if stopStore != nil {
		stopStore()
		status, code, _, h := download(t, app.URL(), verifier.ReleaseDownloadRequest{LicenseKey: cat.key, Platform: "linux", Arch: "amd64"})
		if status != 503 || code != "unavailable" || h.Get("Retry-After") == "" {
			t.Errorf("store down: %d %s Retry-After %q", status, code, h.Get("Retry-After"))
		}
	}
}

// otherProductLicense creates a second product and a license of it.
func otherProductLicense(t *testing.T, admin apiClient, customerID string) string {
	t.Helper()
	var prod, pol struct{ ID string }
	var lic struct{ Key string }
	admin.mustCreate("/v1/products", map[string]any{"code": "other", "name": "Other"}, &prod)
	admin.mustCreate("/v1/policies", map[string]any{"product_id": prod.ID, "name": "Basic", "floating": true, "max_machines": 2}, &pol)
	admin.mustCreate("/v1/licenses", map[string]any{"policy_id": pol.ID, "customer_id": customerID}, &lic)
	return lic.Key
}

// The CLI gives finalize a timeout that grows with the file (the server
// hashes the whole object), never less than the default minute.
func TestReleaseFinalizeTimeout(t *testing.T) {
	t.Parallel()
	if d := finalizeTimeout(1); d <= time.Minute {
		t.Errorf("small file: %v", d)
	}
	if d := finalizeTimeout(release.MaxArtifactSize); d < time.Hour {
		t.Errorf("largest file: %v, want at least an hour", d)
	}
}
