package console

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Release upload from the console, through the API's presigned path: a
// draft release (CreateRelease), then per artifact AddArtifact (the hashes
// and the release key's signature; it answers presigned PUT URLs), the
// bytes PUT to those URLs (S3, or the local store's URL server), and
// Finalize (the server checks the stored size and hashes). The console
// never holds the bytes: the browser sends them to the blob store. A small
// script (static/upload.js) hashes the chosen file, signs it with the
// release key file chosen beside it (the key stays in the browser) and
// does the PUTs; without script the form takes the hashes and signature
// (as `narcidi release publish` computes them) and the answer page gives
// the upload command and the Finalize button.

var releaseUploadRoutes = []Route{
	{"releaseNew", "GET", "/releases/new", licensing.WriteReleases, (*Console).releaseNew},
	{"releaseCreate", "POST", "/releases", licensing.WriteReleases, (*Console).releaseCreate},
	{"artifactAdd", "POST", "/releases/:release/artifacts", licensing.WriteReleases, (*Console).artifactAdd},
	{"artifactFinalize", "POST", "/releases/:release/artifacts/:artifact/finalize", licensing.WriteReleases, (*Console).artifactFinalize},
}

type releaseFormData struct {
	form
	Products []licensing.Product
	Channels []string
}

var releaseFields = map[string]string{"product_id": "product_id", "version": "version", "channel": "channel", "notes": "notes", "entitlement": "entitlement"}

func (cn *Console) releaseFormPage(c *fiber.Ctx, status int, f form) error {
	ps, err := cn.cfg.Services.Catalog.Products(c.UserContext(), licensing.Page{Limit: licensing.MaxPageLimit})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, status, "release-new", "console.page.release_new", releaseFormData{form: f, Products: ps, Channels: verifier.ReleaseChannels})
}

func (cn *Console) releaseNew(c *fiber.Ctx) error {
	if _, err := cn.releaseService(); err != nil {
		return cn.fail(c, err)
	}
	return cn.releaseFormPage(c, fiber.StatusOK, form{Values: map[string]string{"product_id": c.Query("product"), "channel": "stable"}})
}

func (cn *Console) releaseCreate(c *fiber.Ctx) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	f := readForm(c, []string{"product_id", "version", "channel", "notes", "entitlement"}, nil)
	r, err := rs.CreateRelease(c.UserContext(), release.ReleaseInput{ProductID: f.V("product_id"), Version: f.V("version"),
		Channel: f.V("channel"), Notes: f.V("notes"), Entitlement: f.V("entitlement")})
	if refused(err) {
		f.withError(err, releaseFields)
		return cn.releaseFormPage(c, formStatus(err), f)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/releases/"+r.ID+"?done=created")
}

// artifactFields are the add-artifact form's fields (the API's names).
var artifactFields = []string{"platform", "arch", "filename", "size", "sha256", "sha512", "signature", "key_id"}

// uploadAnswer is what the script reads after adding an artifact.
type uploadAnswer struct {
	ArtifactID string            `json:"artifact_id"`
	URL        string            `json:"url,omitempty"`
	PartSize   int64             `json:"part_size,omitempty"`
	Parts      []release.PartURL `json:"parts,omitempty"`
	Finalize   string            `json:"finalize"`
	Error      string            `json:"error,omitempty"`
	Field      string            `json:"field,omitempty"`
}

// wantsJSON: the upload script asks for JSON; a form sent without script
// gets pages.
func wantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON)
}

type uploadData struct {
	Release  *release.Release
	Upload   *release.Upload
	Finalize string
}

func (cn *Console) artifactAdd(c *fiber.Ctx) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	ctx, id := c.UserContext(), c.Params("release")
	f := readForm(c, artifactFields, nil)
	in := release.ArtifactInput{Platform: f.V("platform"), Arch: f.V("arch"), Filename: f.V("filename"),
		SHA256: strings.ToLower(f.V("sha256")), SHA512: strings.ToLower(f.V("sha512")), Signature: f.V("signature"), KeyID: f.V("key_id")}
	if in.Size, err = strconv.ParseInt(f.V("size"), 10, 64); err != nil {
		err = licensing.FieldErrorf("size", "size must be the file's size in bytes")
	} else {
		var up *release.Upload
		if up, err = rs.AddArtifact(ctx, id, in); err == nil {
			fin := Prefix + "/releases/" + id + "/artifacts/" + up.Artifact.ID + "/finalize"
			if wantsJSON(c) {
				return c.Status(fiber.StatusCreated).JSON(uploadAnswer{ArtifactID: up.Artifact.ID, URL: up.URL, PartSize: up.PartSize, Parts: up.Parts, Finalize: fin})
			}
			r, err := rs.Release(ctx, id)
			if err != nil {
				return cn.fail(c, err)
			}
			return cn.render(c, fiber.StatusCreated, "release-upload", "console.page.upload", uploadData{Release: r, Upload: up, Finalize: fin}, "file", up.Artifact.Filename)
		}
	}
	if wantsJSON(c) {
		status, msg := webui.Problem(c, cn.cfg.Logger, err)
		return c.Status(status).JSON(uploadAnswer{Error: msg, Field: formField(err, fieldNames(artifactFields))})
	}
	if refused(err) {
		f.withError(err, fieldNames(artifactFields))
		return cn.showRelease(c, formStatus(err), id, f)
	}
	return cn.fail(c, err)
}

// fieldNames maps each name to itself (a form that uses the API's names).
func fieldNames(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}

// artifactFinalize completes the upload: parts holds "number etag" lines
// for a multipart upload (empty for a single PUT).
func (cn *Console) artifactFinalize(c *fiber.Ctx) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	id := c.Params("release")
	var in release.FinalizeInput
	for _, line := range strings.Split(c.FormValue("parts"), "\n") {
		n, etag, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		num, _ := strconv.Atoi(n)
		in.Parts = append(in.Parts, release.UploadPart{Number: num, ETag: strings.TrimSpace(etag)})
	}
	a, err := rs.Finalize(c.UserContext(), id, c.Params("artifact"), in)
	if wantsJSON(c) {
		if err != nil {
			status, msg := webui.Problem(c, cn.cfg.Logger, err)
			return c.Status(status).JSON(uploadAnswer{Error: msg})
		}
		return c.JSON(a)
	}
	if refused(err) {
		f := form{Values: map[string]string{}}
		f.withError(err, nil)
		return cn.showRelease(c, formStatus(err), id, f)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/releases/"+id+"?done=uploaded+"+url.QueryEscape(a.Filename))
}
