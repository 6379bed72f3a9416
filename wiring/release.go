package wiring

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// ReleaseConfig is the configuration of releases and their blob storage
// (NARCIDI_BLOB_*, NARCIDI_S3_*, NARCIDI_RELEASE_*).
type ReleaseConfig struct {
	Backend    string
	Dir        string
	Addr       string
	PublicURL  string
	S3Bucket   string
	S3Region   string
	S3Endpoint string
	// S3PublicEndpoint (NARCIDI_S3_PUBLIC_ENDPOINT) is named in presigned
	// URLs instead of S3Endpoint.
	S3PublicEndpoint string
	S3PathStyle      string
	S3AccessKey      string
	S3SecretKey      string
	PublicKeys       string
	MetadataTTL      string
	URLTTL           string
	PartSize         string
}

// blobServer serves the local blob store's signed URLs on their own
// listener: a plain net/http server that streams bodies of any size, apart
// from the API's fiber app, which buffers (small) bodies.
type blobServer struct {
	srv *http.Server
	ln  net.Listener
}

func (b *blobServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.srv.Shutdown(ctx)
}

// parseReleaseKeys reads NARCIDI_RELEASE_PUBLIC_KEYS: base64 Ed25519 keys.
func parseReleaseKeys(v string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("NARCIDI_RELEASE_PUBLIC_KEYS: %q is not a base64 Ed25519 public key", s)
		}
		out = append(out, ed25519.PublicKey(b))
	}
	return out, nil
}

// openReleases builds the blob store of the configuration and the release
// service. With the local backend it also starts the blob URL server.
// With serveURLs false (a worker process, which only cleans up), the local
// store's URL server is not started.
func (a *App) openReleases(ctx context.Context, lic *licensing.Services, kr *keys.Keyring, master []byte, serveURLs bool) (*release.Service, error) {
	rc := a.Config.Releases
	metaTTL, err := time.ParseDuration(rc.MetadataTTL)
	if err != nil || metaTTL < time.Hour {
		return nil, fmt.Errorf("NARCIDI_RELEASE_METADATA_TTL must be a duration of at least 1h, not %q", rc.MetadataTTL)
	}
	urlTTL, err := time.ParseDuration(rc.URLTTL)
	if err != nil || urlTTL < 10*time.Second || urlTTL > time.Hour {
		return nil, fmt.Errorf("NARCIDI_RELEASE_URL_TTL must be a duration between 10s and 1h, not %q", rc.URLTTL)
	}
	partSize, err := strconv.ParseInt(rc.PartSize, 10, 64)
	if err != nil || partSize < 5<<20 {
		return nil, fmt.Errorf("NARCIDI_RELEASE_PART_SIZE must be a byte count of at least 5 MiB, not %q", rc.PartSize)
	}
	releaseKeys, err := parseReleaseKeys(rc.PublicKeys)
	if err != nil {
		return nil, err
	}
	seed, err := keys.DeriveKey(master, keys.PurposeReleaseMetadata)
	if err != nil {
		return nil, err
	}
	var blobs release.BlobStore
	switch rc.Backend {
	case "s3":
		pathStyle, err := strconv.ParseBool(rc.S3PathStyle)
		if err != nil {
			return nil, fmt.Errorf("NARCIDI_S3_PATH_STYLE must be true or false, not %q", rc.S3PathStyle)
		}
		s3, err := blob.NewS3(ctx, blob.S3Config{Bucket: rc.S3Bucket, Region: rc.S3Region, Endpoint: rc.S3Endpoint,
			PathStyle: pathStyle, AccessKey: rc.S3AccessKey, SecretKey: rc.S3SecretKey, PublicEndpoint: rc.S3PublicEndpoint})
		if err != nil {
			return nil, fmt.Errorf("NARCIDI_S3_*: %w", err)
		}
		// Bad settings (dead endpoint, not S3, refused credentials, no
		// bucket) stop the start here, not the first publish.
		checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = s3.Check(checkCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("NARCIDI_S3_*: bucket %q at %s: %w", rc.S3Bucket, cmp.Or(rc.S3Endpoint, "AWS"), err)
		}
		a.s3 = s3
		blobs = s3
	case "local":
		if blobs, err = a.startLocalBlobs(master, serveURLs); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("NARCIDI_BLOB_BACKEND must be local or s3, not %q", rc.Backend)
	}
	return release.NewService(release.Config{
		Store: a.store.Releases(), Blobs: blobs, Leasing: lic.Leasing, Catalog: lic.Catalog,
		LeaseKeys:   func() (*verifier.KeySet, error) { return verifier.NewKeySet(kr.PublicKeys()) },
		MetadataKey: ed25519.NewKeyFromSeed(seed), ReleaseKeys: releaseKeys, Clock: time.Now,
		MetadataTTL: metaTTL, DownloadTTL: urlTTL, PartSize: partSize,
	})
}

func (a *App) startLocalBlobs(master []byte, serve bool) (*blob.Local, error) {
	rc := a.Config.Releases
	dir := rc.Dir
	if dir == "" {
		dir = filepath.Join(a.Config.DataDir, "blobs")
	}
	secret, err := keys.DeriveKey(master, keys.PurposeLocalBlobURL)
	if err != nil {
		return nil, err
	}
	local, err := blob.NewLocal(dir, rc.PublicURL, secret, time.Now)
	if err != nil {
		return nil, fmt.Errorf("NARCIDI_BLOB_DIR: %w", err)
	}
	if !serve {
		return local, nil
	}
	ln, err := net.Listen("tcp", rc.Addr)
	if err != nil {
		return nil, fmt.Errorf("NARCIDI_BLOB_ADDR: %w", err)
	}
	if rc.PublicURL == "" {
		local.SetBaseURL("http://" + ln.Addr().String())
	}
	// No write timeout: a download of a large file takes what it takes; the
	// header timeout still stops slow-loris clients.
	srv := &http.Server{Handler: local.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	a.blobs = &blobServer{srv: srv, ln: ln}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("blob server stopped", "err", err)
		}
	}()
	a.Log.Info("local blob store", "dir", dir, "url", "http://"+ln.Addr().String())
	return local, nil
}
