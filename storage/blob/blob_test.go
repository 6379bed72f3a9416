package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/blob/blobtest"
)

type subject struct {
	store release.BlobStore
	// expire makes URLs presigned so far expire (moves the clock, or waits).
	expire func()
	// revokes: upload URLs of a moved or deleted key stop working (the local
	// store; S3 cannot revoke a presigned URL).
	revokes bool
}

func newLocal(t *testing.T) subject {
	c := licensingtest.NewClock(time.Now())
	l, err := blob.NewLocal(t.TempDir(), "", bytes.Repeat([]byte{7}, 32), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	l.SetBaseURL(srv.URL)
	return subject{store: l, expire: func() { c.Add(2 * time.Second) }, revokes: true}
}

func newS3(t *testing.T) subject {
	st, err := blob.NewS3(context.Background(), blobtest.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	// A SigV4 URL's expiry is checked by the store against its own clock:
	// the only way to get an expired one is to let it expire.
	return subject{store: st, expire: func() { time.Sleep(2500 * time.Millisecond) }}
}

// The same suite runs on every implementation.
func TestStores(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) subject{"local": newLocal, "s3": newS3} {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			t.Run("put, stat, open, get", func(t *testing.T) { testPutGet(t, s) })
			t.Run("multipart", func(t *testing.T) { testMultipart(t, s) })
			t.Run("tampered and expired URLs", func(t *testing.T) { testRefusals(t, s) })
			t.Run("move", func(t *testing.T) { testMove(t, s) })
			t.Run("upload size bound", func(t *testing.T) { testSizeBound(t, s) })
		})
	}
}

func do(t *testing.T, method, u string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func testPutGet(t *testing.T, s subject) {
	ctx := context.Background()
	key := "releases/p/r/a/app-1.0.0.tar.gz"
	data := []byte("the bytes of a release")
	u, err := s.store.PresignPut(ctx, key, int64(len(data)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, b, _ := do(t, "PUT", u, data); status != 200 {
		t.Fatalf("PUT = %d %s", status, b)
	}
	if n, err := s.store.Stat(ctx, key); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	rc, err := s.store.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("Open = %q", got)
	}
	g, err := s.store.PresignGet(ctx, key, "app-1.0.0.tar.gz", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	status, b, h := do(t, "GET", g, nil)
	if status != 200 || !bytes.Equal(b, data) {
		t.Fatalf("GET = %d %q", status, b)
	}
	if cd := h.Get("Content-Disposition"); !strings.Contains(cd, "app-1.0.0.tar.gz") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if err := s.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Stat(ctx, key); licensing.ErrorCode(err) != licensing.ENotFound {
		t.Fatalf("Stat after delete = %v, want not_found", err)
	}
	if err := s.store.Delete(ctx, key); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
}

func testMultipart(t *testing.T, s subject) {
	ctx := context.Background()
	key := "releases/p/r/b/big.bin"
	part1 := make([]byte, 5<<20)
	_, _ = rand.Read(part1)
	part2 := []byte("and the tail")
	id, err := s.store.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var parts []release.UploadPart
	for i, p := range [][]byte{part1, part2} {
		u, err := s.store.PresignPart(ctx, key, id, i+1, int64(len(p)), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		status, b, h := do(t, "PUT", u, p)
		if status != 200 || h.Get("ETag") == "" {
			t.Fatalf("PUT part %d = %d %s (ETag %q)", i+1, status, b, h.Get("ETag"))
		}
		parts = append(parts, release.UploadPart{Number: i + 1, ETag: h.Get("ETag")})
	}
	bad := []release.UploadPart{parts[0], {Number: 2, ETag: `"0123"`}}
	if err := s.store.CompleteMultipart(ctx, key, id, bad); licensing.ErrorCode(err) != licensing.EInvalid {
		t.Fatalf("complete with a wrong ETag = %v, want invalid", err)
	}
	if err := s.store.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatal(err)
	}
	if n, err := s.store.Stat(ctx, key); err != nil || n != int64(len(part1)+len(part2)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	// An aborted upload leaves nothing to complete.
	id2, err := s.store.CreateMultipart(ctx, "releases/p/r/c/x.bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.AbortMultipart(ctx, "releases/p/r/c/x.bin", id2); err != nil {
		t.Fatal(err)
	}
	if err := s.store.CompleteMultipart(ctx, "releases/p/r/c/x.bin", id2, parts); err == nil {
		t.Fatal("completing an aborted upload succeeded")
	}
}

func testRefusals(t *testing.T, s subject) {
	ctx := context.Background()
	key := "releases/p/r/d/app.zip"
	put, _ := s.store.PresignPut(ctx, key, 7, time.Minute)
	if status, b, _ := do(t, "PUT", put, []byte("genuine")); status != 200 {
		t.Fatalf("PUT = %d %s", status, b)
	}
	// A URL that lives a minute for the tampering checks (a loaded machine
	// must not expire it before the genuine GET), and a 1-second one for the
	// expiry check: a slow machine only lets it expire more surely.
	get, err := s.store.PresignGet(ctx, key, "app.zip", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(get)
	// Another object with the same signature.
	other := *u
	other.Path = strings.Replace(u.Path, "app.zip", "app2.zip", 1)
	// The signature altered.
	q := u.Query()
	for _, name := range []string{"X-Amz-Signature", "sig"} {
		if v := q.Get(name); v != "" {
			q.Set(name, flip(v))
		}
	}
	sig := *u
	sig.RawQuery = q.Encode()
	// A longer lifetime claimed.
	q = u.Query()
	for _, name := range []string{"X-Amz-Expires", "exp"} {
		if v := q.Get(name); v != "" {
			q.Set(name, v+"0")
		}
	}
	longer := *u
	longer.RawQuery = q.Encode()
	for name, v := range map[string]string{"other key": other.String(), "signature": sig.String(), "expiry": longer.String()} {
		if status, b, _ := do(t, "GET", v, nil); status != 403 {
			t.Errorf("tampered %s: GET = %d %s, want 403", name, status, b)
		}
	}
	// A GET URL does not allow a PUT.
	if status, _, _ := do(t, "PUT", get, []byte("evil")); status != 403 {
		t.Errorf("PUT through a GET URL = %d, want 403", status)
	}
	if status, _, _ := do(t, "GET", get, nil); status != 200 {
		t.Fatalf("genuine URL = %d", status)
	}
	short, err := s.store.PresignGet(ctx, key, "app.zip", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.expire()
	if status, b, _ := do(t, "GET", short, nil); status != 403 {
		t.Errorf("expired URL: GET = %d %s, want 403", status, b)
	}
	if status, b, _ := do(t, "PUT", put, []byte("late!!!")); status != 200 {
		t.Errorf("PUT URL still valid = %d %s", status, b)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'a' {
		b[0] = 'b'
	} else {
		b[0] = 'a'
	}
	return string(b)
}

// A store that cannot be reached answers unavailable, which the API turns
// into 503 with Retry-After.
func TestS3Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	st, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: "b", Endpoint: "http://" + addr, PathStyle: true, AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(context.Background(), "k"); licensing.ErrorCode(err) != licensing.EUnavailable {
		t.Fatalf("Stat on a closed port = %v, want unavailable", err)
	}
}

// Move puts the object at a new key and removes the old one; a PUT through
// the old key's URL afterwards does not touch the moved object. Objects
// above the single-copy limit are copied in parts.
func testMove(t *testing.T, s subject) {
	ctx := context.Background()
	defer blob.SetCopyLimits(6<<20, 5<<20)()
	for _, size := range []int{100, 11<<20 + 7} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		// Each upload has its own key, as each artifact does (a moved key
		// stays closed to uploads on the local store).
		src := fmt.Sprintf("up/%d/a+b.bin", size)
		u, err := s.store.PresignPut(ctx, src, int64(size), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if st, b, _ := do(t, "PUT", u, data); st != 200 {
			t.Fatalf("PUT = %d %s", st, b)
		}
		if err := s.store.Move(ctx, src, "final/a+b.bin"); err != nil {
			t.Fatalf("move of %d bytes: %v", size, err)
		}
		if _, err := s.store.Stat(ctx, src); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the source is still there: %v", err)
		}
		// A PUT through the old URL after the move (a finalize): the local
		// store refuses it; S3 cannot revoke the URL and stores it at the old
		// key, which nothing downloads. Either way the moved object stays.
		st, _, _ := do(t, "PUT", u, bytes.Repeat([]byte{'x'}, size))
		if s.revokes && st != 403 {
			t.Errorf("PUT through the old URL after the move = %d, want 403", st)
		}
		if !s.revokes && st != 200 {
			t.Errorf("PUT through the old URL after the move = %d (S3 accepts it at the old key)", st)
		}
		_ = s.store.Delete(ctx, src)
		rc, err := s.store.Open(ctx, "final/a+b.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("moved object: %d bytes, want the %d uploaded", len(got), size)
		}
	}
	if err := s.store.Move(ctx, "up/none", "final/none"); licensing.ErrorCode(err) != licensing.ENotFound {
		t.Errorf("move of a missing object: %v", err)
	}
}

// Any answer of the store other than "no such object" or a refused part
// (403 AccessDenied, 429/503 SlowDown, 500) is unavailable (503 with
// Retry-After), not an internal error.
func TestS3RefusalsAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{{403, "AccessDenied"}, {503, "SlowDown"}, {500, "InternalError"}, {400, "InvalidAccessKeyId"}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(tc.status)
			io.WriteString(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"+tc.code+"</Code><Message>no</Message></Error>")
		}))
		st, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKey: "a", SecretKey: "b"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Open(context.Background(), "k"); licensing.ErrorCode(err) != licensing.EUnavailable {
			t.Errorf("GET answered %d %s: %v, want unavailable", tc.status, tc.code, err)
		}
		if _, err := st.Stat(context.Background(), "k"); licensing.ErrorCode(err) != licensing.EUnavailable {
			t.Errorf("HEAD answered %d: %v, want unavailable", tc.status, err)
		}
		srv.Close()
	}
}

// A failure of the local store's own disk is answered with a fixed message:
// OS errors (which name server paths) stay in the log.
func TestLocalHidesOSErrors(t *testing.T) {
	dir := t.TempDir()
	l, err := blob.NewLocal(dir, "", bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	l.SetBaseURL(srv.URL)
	// The temp folder replaced by a file: every upload fails on the disk.
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := l.PresignPut(context.Background(), "a/b", 4, time.Hour)
	st, b, _ := do(t, "PUT", u, []byte("data"))
	if st != 500 || strings.Contains(string(b), dir) || !strings.Contains(string(b), "could not be stored") {
		t.Errorf("PUT on a broken disk = %d %s", st, b)
	}
	id, err := l.CreateMultipart(context.Background(), "a/c")
	if err != nil {
		t.Fatal(err)
	}
	u, _ = l.PresignPart(context.Background(), "a/c", id, 1, 4, time.Hour)
	st, b, _ = do(t, "PUT", u, []byte("data"))
	if st != 500 || strings.Contains(string(b), dir) {
		t.Errorf("part PUT on a broken disk = %d %s", st, b)
	}
}

// An upload URL takes exactly the size it was presigned for: a larger or
// shorter body (single PUT or part) is refused and nothing is stored; the
// local store also refuses a chunked body that runs past the size. A URL of
// a deleted key is refused by the local store.
func testSizeBound(t *testing.T, s subject) {
	ctx := context.Background()
	data := []byte("exactly twenty bytes")
	key := "releases/p/r/e/sized.bin"
	put, err := s.store.PresignPut(ctx, key, int64(len(data)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.store.CreateMultipart(ctx, "releases/p/r/e/parts.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer s.store.AbortMultipart(ctx, "releases/p/r/e/parts.bin", id)
	part, err := s.store.PresignPart(ctx, "releases/p/r/e/parts.bin", id, 1, int64(len(data)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{put, part} {
		for name, body := range map[string][]byte{"larger": append(append([]byte{}, data...), 'X'), "much larger": bytes.Repeat(data, 1000), "shorter": data[:5]} {
			if st, b, _ := do(t, "PUT", u, body); st < 400 || st > 499 {
				t.Errorf("%s body: PUT = %d %s, want a 4xx refusal", name, st, b)
			}
		}
	}
	if _, err := s.store.Stat(ctx, key); licensing.ErrorCode(err) != licensing.ENotFound {
		t.Fatalf("a refused body was stored: %v", err)
	}
	if s.revokes {
		// A chunked body (no Content-Length) is cut off after size+1 bytes.
		req, _ := http.NewRequest("PUT", put, io.MultiReader(bytes.NewReader(data), strings.NewReader("more")))
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("chunked larger body: PUT = %d, want 400", resp.StatusCode)
		}
	}
	if st, b, _ := do(t, "PUT", put, data); st != 200 {
		t.Fatalf("the declared size: PUT = %d %s", st, b)
	}
	if st, b, h := do(t, "PUT", part, data); st != 200 || h.Get("ETag") == "" {
		t.Fatalf("the declared size: part PUT = %d %s", st, b)
	}
	if err := s.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	st, _, _ := do(t, "PUT", put, data)
	if s.revokes && st != 403 {
		t.Errorf("PUT to a deleted key = %d, want 403", st)
	}
	_ = s.store.Delete(ctx, key)
}

// The local store's URL server answers a browser's CORS preflight (the
// console's upload script PUTs from the console's origin) and lets it read
// a part's ETag; the URL's signature still decides, whatever the origin.
func TestLocalAnswersCORS(t *testing.T) {
	s := newLocal(t)
	u, err := s.store.PresignPut(context.Background(), "a/cors", 4, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodOptions, u, nil)
	req.Header.Set("Origin", "http://console.example")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") || resp.Header.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if st, b, _ := do(t, "PUT", u+"x", []byte("data")); st != http.StatusForbidden {
		t.Errorf("a tampered URL after a preflight: %d %s", st, b)
	}
}
