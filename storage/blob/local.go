package blob

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
)

// Local is a release.BlobStore in a folder. Objects live under
// <dir>/objects/<key>, multipart uploads under <dir>/uploads/<id>/. Every
// write lands in a temp file first and is renamed into place, so a reader
// never sees half an object. A key moved or deleted is marked closed
// (<dir>/closed/<key>): its upload URLs, still within their expiry, are
// refused from then on.
type Local struct {
	dir     string
	baseURL string // where Handler is served, e.g. http://127.0.0.1:8081
	secret  []byte // HMAC key of the URLs
	now     func() time.Time
}

var _ release.BlobStore = (*Local)(nil)

// NewLocal opens (creating) the folder. baseURL is the public address of
// Handler; secret (at least 32 bytes) signs the URLs.
func NewLocal(dir, baseURL string, secret []byte, now func() time.Time) (*Local, error) {
	if len(secret) < 32 {
		return nil, errors.New("blob: the URL signing secret must be at least 32 bytes")
	}
	for _, d := range []string{"objects", "uploads", "tmp", "closed"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Local{dir: dir, baseURL: strings.TrimRight(baseURL, "/"), secret: secret, now: now}, nil
}

// SetBaseURL changes the public address (known only once the listener is up).
func (l *Local) SetBaseURL(u string) { l.baseURL = strings.TrimRight(u, "/") }

func validKey(key string) bool {
	if key == "" || len(key) > 1024 || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return false
	}
	for _, p := range strings.Split(key, "/") {
		if p == "" || p == "." || p == ".." {
			return false
		}
	}
	return true
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (l *Local) objectPath(key string) string {
	return filepath.Join(l.dir, "objects", filepath.FromSlash(key))
}

func (l *Local) closedPath(key string) string {
	return filepath.Join(l.dir, "closed", filepath.FromSlash(key))
}

// closeKey marks key closed to uploads (see Local).
func (l *Local) closeKey(key string) error {
	p := l.closedPath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not writable")
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not writable")
	}
	return nil
}

func (l *Local) closed(key string) bool {
	_, err := os.Stat(l.closedPath(key))
	return err == nil
}

// signature is the HMAC of everything a URL grants: operation, key, upload,
// part, filename, exact body size and expiry.
func (l *Local) signature(op, key, upload, part, filename, size, exp string) string {
	m := hmac.New(sha256.New, l.secret)
	for _, s := range []string{op, key, upload, part, filename, size, exp} {
		fmt.Fprintf(m, "%d:%s\n", len(s), s)
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (l *Local) presign(op, key, upload string, part int, filename string, size int64, ttl time.Duration) (string, error) {
	if !validKey(key) {
		return "", licensing.Errorf(licensing.EInvalid, "bad object key")
	}
	q := url.Values{}
	exp := strconv.FormatInt(l.now().Add(ttl).Unix(), 10)
	ps := ""
	if part > 0 {
		ps = strconv.Itoa(part)
		q.Set("part", ps)
	}
	if upload != "" {
		q.Set("upload", upload)
	}
	if filename != "" {
		q.Set("filename", filename)
	}
	n := ""
	if size >= 0 {
		n = strconv.FormatInt(size, 10)
		q.Set("size", n)
	}
	q.Set("op", op)
	q.Set("exp", exp)
	q.Set("sig", l.signature(op, key, upload, ps, filename, n, exp))
	return l.baseURL + "/blob/" + (&url.URL{Path: key}).EscapedPath() + "?" + q.Encode(), nil
}

func (l *Local) PresignPut(_ context.Context, key string, size int64, ttl time.Duration) (string, error) {
	if size < 0 || size > MaxLocalPut {
		return "", licensing.Errorf(licensing.EInvalid, "an upload is 0 to %d bytes", int64(MaxLocalPut))
	}
	return l.presign("put", key, "", 0, "", size, ttl)
}

func (l *Local) CreateMultipart(_ context.Context, key string) (string, error) {
	if !validKey(key) {
		return "", licensing.Errorf(licensing.EInvalid, "bad object key")
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Join(l.dir, "uploads", id), 0o700); err != nil {
		return "", licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not writable")
	}
	if err := os.WriteFile(filepath.Join(l.dir, "uploads", id, "key"), []byte(key), 0o600); err != nil {
		return "", licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not writable")
	}
	return id, nil
}

func (l *Local) PresignPart(_ context.Context, key, uploadID string, number int, size int64, ttl time.Duration) (string, error) {
	if size < 0 || size > MaxLocalPut {
		return "", licensing.Errorf(licensing.EInvalid, "an upload is 0 to %d bytes", int64(MaxLocalPut))
	}
	return l.presign("part", key, uploadID, number, "", size, ttl)
}

func (l *Local) uploadDir(key, uploadID string) (string, error) {
	if !validUploadID(uploadID) {
		return "", licensing.Errorf(licensing.ENotFound, "no such upload")
	}
	dir := filepath.Join(l.dir, "uploads", uploadID)
	k, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil || string(k) != key {
		return "", licensing.Errorf(licensing.ENotFound, "no such upload")
	}
	return dir, nil
}

// CompleteMultipart joins the parts, in order, into the object. Each part's
// ETag must be the one its upload answered (the hex SHA-256 of the part).
func (l *Local) CompleteMultipart(_ context.Context, key, uploadID string, parts []release.UploadPart) error {
	dir, err := l.uploadDir(key, uploadID)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "tmp"), "complete-*")
	if err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not writable")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	buf := make([]byte, 256<<10)
	for _, p := range parts {
		pp := filepath.Join(dir, strconv.Itoa(p.Number))
		etag, err := os.ReadFile(pp + ".etag")
		if err != nil || strings.Trim(p.ETag, `"`) != string(etag) {
			return licensing.Errorf(licensing.EInvalid, "part %d was not uploaded or its ETag differs", p.Number)
		}
		f, err := os.Open(pp)
		if err != nil {
			return licensing.Errorf(licensing.EInvalid, "part %d was not uploaded", p.Number)
		}
		_, err = io.CopyBuffer(tmp, f, buf)
		f.Close()
		if err != nil {
			return licensing.Wrap(licensing.EUnavailable, err, "joining the parts failed")
		}
	}
	if err := l.place(tmp, key); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// place syncs tmp and renames it to the object of key.
func (l *Local) place(tmp *os.File, key string) error {
	if err := tmp.Sync(); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "writing the object failed")
	}
	dst := l.objectPath(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "writing the object failed")
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "writing the object failed")
	}
	return nil
}

func (l *Local) AbortMultipart(_ context.Context, key, uploadID string) error {
	dir, err := l.uploadDir(key, uploadID)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func (l *Local) PresignGet(_ context.Context, key, filename string, ttl time.Duration) (string, error) {
	return l.presign("get", key, "", 0, filename, -1, ttl)
}

func (l *Local) Stat(_ context.Context, key string) (int64, error) {
	if !validKey(key) {
		return 0, licensing.Errorf(licensing.ENotFound, "no such object")
	}
	fi, err := os.Stat(l.objectPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, licensing.Errorf(licensing.ENotFound, "no such object")
	} else if err != nil {
		return 0, licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not readable")
	}
	return fi.Size(), nil
}

func (l *Local) Open(_ context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, licensing.Errorf(licensing.ENotFound, "no such object")
	}
	f, err := os.Open(l.objectPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, licensing.Errorf(licensing.ENotFound, "no such object")
	} else if err != nil {
		return nil, licensing.Wrap(licensing.EUnavailable, err, "the blob folder is not readable")
	}
	return f, nil
}

// Move renames the object src to dst within the store folder (atomic: a
// reader of dst sees the old object or the new one).
func (l *Local) Move(_ context.Context, src, dst string) error {
	if !validKey(src) {
		return licensing.Errorf(licensing.ENotFound, "no such object")
	}
	if !validKey(dst) {
		return licensing.Errorf(licensing.EInvalid, "bad object key")
	}
	to := l.objectPath(dst)
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "writing the object failed")
	}
	// Close src first: a PUT landing between the rename and the close would
	// otherwise leave a new object at src.
	if err := l.closeKey(src); err != nil {
		return err
	}
	err := os.Rename(l.objectPath(src), to)
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing was uploaded yet: the key stays open for its upload.
		_ = os.Remove(l.closedPath(src))
		return licensing.Errorf(licensing.ENotFound, "no such object")
	} else if err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "moving the object failed")
	}
	return nil
}

func (l *Local) Delete(_ context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	if err := l.closeKey(key); err != nil {
		return err
	}
	if err := os.Remove(l.objectPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return licensing.Wrap(licensing.EUnavailable, err, "deleting the object failed")
	}
	return nil
}

// Handler serves the presigned URLs under /blob/. It is a plain net/http
// handler, served apart from the API's fiber app, because it streams bodies
// of any size: the API server buffers bodies (64 KiB at most), this never does.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serve)
}

// MaxLocalPut bounds one PUT to the local store (S3's single-PUT limit).
const MaxLocalPut = 5 << 30

func (l *Local) serve(w http.ResponseWriter, r *http.Request) {
	// The console's upload script PUTs from the console's origin. The
	// URL's signature is the authority, not the origin (no cookie is read),
	// so any origin may send and read the ETag a part's answer carries.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "ETag")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/blob/")
	q := r.URL.Query()
	op, upload, part, filename, size, exp := q.Get("op"), q.Get("upload"), q.Get("part"), q.Get("filename"), q.Get("size"), q.Get("exp")
	if !ok || !validKey(key) {
		blobError(w, http.StatusNotFound, "NoSuchKey", "no such object")
		return
	}
	want := map[string]string{"put": http.MethodPut, "part": http.MethodPut, "get": http.MethodGet}[op]
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		blobError(w, http.StatusForbidden, "AccessDenied", "the URL does not allow this method")
		return
	}
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	good := l.signature(op, key, upload, part, filename, size, exp)
	if err != nil || !hmac.Equal([]byte(good), []byte(q.Get("sig"))) {
		blobError(w, http.StatusForbidden, "SignatureDoesNotMatch", "the URL signature is not valid")
		return
	}
	if l.now().Unix() > expUnix {
		blobError(w, http.StatusForbidden, "AccessDenied", "the URL has expired")
		return
	}
	switch op {
	case "get":
		f, err := os.Open(l.objectPath(key))
		if err != nil {
			blobError(w, http.StatusNotFound, "NoSuchKey", "no such object")
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			blobError(w, http.StatusInternalServerError, "InternalError", "cannot read the object")
			return
		}
		if filename != "" {
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	case "put":
		if l.closed(key) {
			blobError(w, http.StatusForbidden, "AccessDenied", "the upload is finalized: this URL no longer accepts bodies")
			return
		}
		want, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			blobError(w, http.StatusForbidden, "AccessDenied", "the URL does not bound the size")
			return
		}
		if _, err := l.receive(r, want, func(tmp *os.File) error {
			if l.closed(key) { // closed while the body streamed in
				return &bodyError{"the upload is finalized"}
			}
			return l.place(tmp, key)
		}); err != nil {
			receiveError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	case "part":
		n, err := strconv.Atoi(part)
		dir, derr := l.uploadDir(key, upload)
		want, serr := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 1 || n > 10000 || derr != nil || serr != nil {
			blobError(w, http.StatusNotFound, "NoSuchUpload", "no such upload")
			return
		}
		pp := filepath.Join(dir, strconv.Itoa(n))
		etag, err := l.receive(r, want, func(tmp *os.File) error { return os.Rename(tmp.Name(), pp) })
		if err == nil {
			err = os.WriteFile(pp+".etag", []byte(etag), 0o600)
		}
		if err != nil {
			receiveError(w, r, err)
			return
		}
		w.Header().Set("ETag", `"`+etag+`"`)
		w.WriteHeader(http.StatusOK)
	}
}

// bodyError is a fault of the uploaded body (its message is safe to send).
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

// readError is a failure reading the request body (the client's side).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// receiveError answers a failed upload without echoing OS errors (which
// name server paths): a bad body gets its reason, anything else a fixed
// message, with the details in the server log.
func receiveError(w http.ResponseWriter, r *http.Request, err error) {
	var be *bodyError
	if errors.As(err, &be) {
		blobError(w, http.StatusBadRequest, "IncompleteBody", be.msg)
		return
	}
	slog.Error("blob: storing an upload failed", "path", r.URL.Path, "err", err)
	if r.Context().Err() != nil {
		blobError(w, http.StatusBadRequest, "IncompleteBody", "the body could not be read")
		return
	}
	blobError(w, http.StatusInternalServerError, "InternalError", "the object could not be stored")
}

// receive streams the request body, which must be exactly size bytes (the
// size the URL was signed for, as S3 checks a signed Content-Length), into a
// temp file (hashing it for the ETag) and hands the file to keep; the temp
// file is gone afterwards either way. A larger body is cut off after size+1
// bytes, never stored.
func (l *Local) receive(r *http.Request, size int64, keep func(*os.File) error) (string, error) {
	if r.ContentLength >= 0 && r.ContentLength != size {
		return "", &bodyError{fmt.Sprintf("the body must be exactly %d bytes (the declared size)", size)}
	}
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "tmp"), "put-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), io.LimitReader(bodyReader{r.Body}, size+1), make([]byte, 256<<10))
	var rerr *readError
	if errors.As(err, &rerr) {
		return "", &bodyError{"the body could not be read"}
	} else if err != nil {
		return "", err
	}
	if n != size {
		return "", &bodyError{fmt.Sprintf("the body must be exactly %d bytes (the declared size)", size)}
	}
	if err := keep(tmp); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// blobError answers like S3 does: an XML error document.
func blobError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>\n", code, msg)
}
