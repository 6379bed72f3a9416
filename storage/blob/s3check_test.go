package blob_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/blob"
)

// Issue 23 item 5: presigned URLs name the public endpoint, while the
// server talks to the internal one.
func TestS3PresignsWithThePublicEndpoint(t *testing.T) {
	s, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: "b", Endpoint: "http://s3:7070", PublicEndpoint: "https://downloads.example.com", PathStyle: true, AccessKey: "a", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sign := range []func() (string, error){
		func() (string, error) { return s.PresignGet(context.Background(), "k", "f.bin", time.Minute) },
		func() (string, error) { return s.PresignPut(context.Background(), "k", 10, time.Minute) },
	} {
		raw, err := sign()
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := url.Parse(raw); u.Scheme != "https" || u.Host != "downloads.example.com" || !strings.HasPrefix(u.Path, "/b/") {
			t.Errorf("presigned URL %s, want https://downloads.example.com/b/...", raw)
		}
	}
}

// Bad settings fail Check (and NewS3 for a malformed URL) instead of the
// first publish.
func TestS3CheckRefusesBadSettings(t *testing.T) {
	for _, bad := range []string{"s3:7070", "ftp://host", "http://"} {
		if _, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: "b", Endpoint: bad}); err == nil || !strings.Contains(err.Error(), "http(s)://host") {
			t.Errorf("endpoint %q: %v", bad, err)
		}
	}
	notS3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	defer notS3.Close()
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer denied.Close()
	for endpoint, want := range map[string]string{
		"http://127.0.0.1:1": "unreachable",
		notS3.URL:            "does not exist",
		denied.URL:           "refuses the credentials",
	} {
		s, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: "b", Endpoint: endpoint, PathStyle: true, AccessKey: "a", SecretKey: "s"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.Check(ctx)
		cancel()
		if licensing.ErrorCode(err) != licensing.EUnavailable || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want unavailable %q", endpoint, err, want)
		}
	}
}
