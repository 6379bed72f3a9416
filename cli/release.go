package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Release runs `narcidi release ...`. The release private key stays
// on the publisher's machine: only hashes and signatures go to the server.
func Release(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := Reader(getenv)
	if len(args) == 0 {
		fmt.Fprint(stderr, pr.T("cli.help.release"))
		return i18n.Say("cli.release.want_subcommand")
	}
	switch args[0] {
	case "keygen":
		return releaseKeygen(pr, args[1:], stdout, stderr)
	case "publish":
		return releasePublish(ctx, pr, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pr.T("cli.help.release"))
		return nil
	}
	return i18n.Say("cli.release.unknown_subcommand", "subcommand", strconv.Quote(args[0]))
}

func releaseKeygen(pr *i18n.Printer, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi release keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "folder to write release.key (private, 0600) and release.pub into")
	Localize(pr, fs, "narcidi release keygen [-out DIR]", "release", "keygen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	// A folder that does not exist yet is created private: it holds a
	// private key.
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return i18n.Say("cli.release.keygen.folder", "error", err)
	}
	keyPath, pubPath := filepath.Join(*out, "release.key"), filepath.Join(*out, "release.pub")
	// O_EXCL: never overwrite a release key; losing one means apps must be updated.
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return i18n.Say("cli.release.keygen.write", "error", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pubText := base64.StdEncoding.EncodeToString(pub)
	if err := os.WriteFile(pubPath, []byte(pubText+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.release.keygen.done", "kid", verifier.ReleaseKeyID(pub), "private", keyPath, "public", pubPath, "key", pubText))
	return nil
}

// readReleaseKey reads a release.key file (base64 of the 32-byte seed).
func readReleaseKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, i18n.Say("cli.release.not_a_key", "path", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

type localArtifact struct {
	platform, arch, path string
	in                   release.ArtifactInput
}

// hashFile streams a file through SHA-256 and SHA-512.
func hashFile(path string) (size int64, sum256, sum512 string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", "", err
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	size, err = io.Copy(io.MultiWriter(h256, h512), f)
	return size, hex.EncodeToString(h256.Sum(nil)), hex.EncodeToString(h512.Sum(nil)), err
}

func releasePublish(ctx context.Context, pr *i18n.Printer, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi release publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caller := apiFlags(fs, getenv)
	product := fs.String("product", "", "product id (required)")
	version := fs.String("version", "", "semver version (required)")
	channel := fs.String("channel", "stable", "stable, beta, alpha or dev")
	notes := fs.String("notes", "", "release notes")
	entitlement := fs.String("entitlement", "", "entitlement code a license needs to download it")
	keyPath := fs.String("key", "release.key", "the release private key (narcidi release keygen)")
	draft := fs.Bool("draft", false, "upload and finalize, but leave the release a draft")
	Localize(pr, fs, "narcidi release publish -product ID -version V -key release.key [flags] PLATFORM/ARCH=FILE ...", "release", "publish")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := caller()
	if err != nil {
		return err
	}
	if *product == "" || *version == "" || fs.NArg() == 0 {
		return i18n.Say("cli.release.publish_required")
	}
	*version = strings.TrimPrefix(*version, "v")
	key, err := readReleaseKey(*keyPath)
	if err != nil {
		return err
	}
	keyID := verifier.ReleaseKeyID(key.Public().(ed25519.PublicKey))
	// Hash and sign everything before touching the server: a bad file
	// stops the publication before a release exists.
	var arts []localArtifact
	for _, a := range fs.Args() {
		target, path, ok := strings.Cut(a, "=")
		platform, arch, ok2 := strings.Cut(target, "/")
		if !ok || !ok2 {
			return i18n.Say("cli.release.want_target", "argument", strconv.Quote(a))
		}
		size, s256, s512, err := hashFile(path)
		if err != nil {
			return err
		}
		in := release.ArtifactInput{Platform: platform, Arch: arch, Filename: filepath.Base(path), Size: size, SHA256: s256, SHA512: s512, KeyID: keyID}
		stmt := verifier.ArtifactStatement(*product, *version, platform, arch, in.Filename, size, s256, s512)
		in.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, stmt))
		arts = append(arts, localArtifact{platform, arch, path, in})
	}
	in := release.ReleaseInput{ProductID: *product, Version: *version, Channel: *channel, Notes: *notes, Entitlement: *entitlement}
	rel, done, err := openDraft(ctx, pr, c, in, arts, stdout)
	if err != nil {
		return err
	}
	for _, a := range arts {
		if done[a.platform+"/"+a.arch] {
			fmt.Fprintf(stdout, "%s/%s: %s\n", a.platform, a.arch, pr.T("cli.release.already_uploaded", "file", a.in.Filename))
			continue
		}
		_, body, err := c.do(ctx, "POST", "/v1/releases/"+rel.ID+"/artifacts", a.in, nil)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", a.platform, a.arch, err)
		}
		var up release.Upload
		if err := json.Unmarshal(body, &up); err != nil {
			return err
		}
		parts, err := uploadFile(ctx, a.path, &up)
		if err != nil {
			return i18n.Say("cli.release.upload_failed", "target", a.platform+"/"+a.arch, "error", err)
		}
		// Finalize reads the whole object back to hash it: give it a time
		// that grows with the size instead of the default minute (ctx
		// still bounds it).
		fc := &apiCaller{base: c.base, token: c.token, client: &http.Client{Timeout: FinalizeTimeout(a.in.Size)}}
		if _, _, err := fc.do(ctx, "POST", "/v1/releases/"+rel.ID+"/artifacts/"+up.Artifact.ID+"/finalize", release.FinalizeInput{Parts: parts}, nil); err != nil {
			return i18n.Say("cli.release.finalize_failed", "target", a.platform+"/"+a.arch, "error", err)
		}
		fmt.Fprintf(stdout, "%s/%s: %s\n", a.platform, a.arch, pr.T("cli.release.uploaded", "file", a.in.Filename, "size", a.in.Size, "sha256", a.in.SHA256))
	}
	if *draft {
		fmt.Fprintln(stdout, pr.T("cli.release.left_draft", "id", rel.ID))
		return nil
	}
	if _, _, err := c.do(ctx, "POST", "/v1/releases/"+rel.ID+"/actions/publish", nil, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.release.published", "id", rel.ID, "version", rel.Version, "channel", rel.Channel))
	return nil
}

// openDraft returns the draft release to upload into, and the platform/arch
// of the artifacts it already holds ready. A publish that failed part way
// (a refused signature, a lost connection) leaves a draft that holds the
// version number; publishing again picks it up:
//
//   - no release of that version: a new draft is created;
//   - a draft with the same channel, notes and entitlement whose artifacts
//     are all finalized and identical (same file, hashes and signature) to
//     ones being published: it is resumed, those artifacts are not sent again;
//   - any other draft (other settings, another file, an upload left pending
//     whose URLs are gone): it is deleted with its artifacts and created
//     anew, since a draft is never visible to apps and the files given now
//     are what the publisher means to release;
//   - a published or yanked release: refused (versions apps may have seen
//     are never replaced).
func openDraft(ctx context.Context, pr *i18n.Printer, c *apiCaller, in release.ReleaseInput, arts []localArtifact, stdout io.Writer) (*release.Release, map[string]bool, error) {
	q := url.Values{"product_id": {in.ProductID}, "version": {in.Version}}
	_, body, err := c.do(ctx, "GET", "/v1/releases?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	var found struct {
		Data []release.Release `json:"data"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		return nil, nil, err
	}
	if len(found.Data) == 1 {
		old := &found.Data[0]
		if old.Status != release.StatusDraft {
			return nil, nil, i18n.Say("cli.release.already_published", "version", old.Version, "status", old.Status)
		}
		if done, ok := resumable(old, in, arts); ok {
			fmt.Fprintln(stdout, pr.T("cli.release.resuming", "id", old.ID, "version", old.Version))
			return old, done, nil
		}
		if _, _, err := c.do(ctx, "DELETE", "/v1/releases/"+old.ID, nil, nil); err != nil {
			return nil, nil, i18n.Say("cli.release.replace_failed", "id", old.ID, "error", err)
		}
		fmt.Fprintln(stdout, pr.T("cli.release.replaced", "id", old.ID, "version", old.Version))
	}
	_, body, err = c.do(ctx, "POST", "/v1/releases", in, http.Header{"Idempotency-Key": {randomKey()}})
	if err != nil {
		return nil, nil, err
	}
	var rel release.Release
	if err := json.Unmarshal(body, &rel); err != nil {
		return nil, nil, err
	}
	fmt.Fprintln(stdout, pr.T("cli.release.created", "id", rel.ID, "version", rel.Version))
	return &rel, map[string]bool{}, nil
}

// resumable reports whether the draft old can be completed with arts, and
// which of arts it already holds.
func resumable(old *release.Release, in release.ReleaseInput, arts []localArtifact) (map[string]bool, bool) {
	if old.Channel != in.Channel || old.Notes != in.Notes || old.Entitlement != in.Entitlement {
		return nil, false
	}
	local := map[string]release.ArtifactInput{}
	for _, a := range arts {
		local[a.platform+"/"+a.arch] = a.in
	}
	done := map[string]bool{}
	for _, a := range old.Artifacts {
		l, ok := local[a.Platform+"/"+a.Arch]
		if !ok || a.Status != release.ArtifactReady || a.Filename != l.Filename || a.Size != l.Size || a.SHA256 != l.SHA256 ||
			a.SHA512 != l.SHA512 || a.Signature != l.Signature {
			return nil, false
		}
		done[a.Platform+"/"+a.Arch] = true
	}
	return done, true
}

// FinalizeTimeout is how long the CLI waits for a finalize of size bytes:
// two minutes plus a second per 10 MiB (the server streams the object once
// through SHA-256 and SHA-512), e.g. about 1h27 for 50 GiB.
func FinalizeTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(10<<20))*time.Second
}

// uploadFile sends a file through the upload's presigned URL(s), streaming
// from disk, and returns the parts' ETags of a multipart upload.
func uploadFile(ctx context.Context, path string, up *release.Upload) ([]release.UploadPart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if up.URL != "" {
		_, err := putBody(ctx, up.URL, f, up.Artifact.Size)
		return nil, err
	}
	var parts []release.UploadPart
	for _, p := range up.Parts {
		off := int64(p.Number-1) * up.PartSize
		n := min(up.PartSize, up.Artifact.Size-off)
		etag, err := putBody(ctx, p.URL, io.NewSectionReader(f, off, n), n)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", p.Number, err)
		}
		parts = append(parts, release.UploadPart{Number: p.Number, ETag: etag})
	}
	return parts, nil
}

func putBody(ctx context.Context, u string, body io.Reader, size int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("the store answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.Header.Get("ETag"), nil
}
