package docs

import (
	"embed"
	"io/fs"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
	swaggerfiles "github.com/swaggo/files/v2"
)

//go:embed static
var static embed.FS

// Prefix is where the reference is mounted.
const Prefix = "/docs"

// CSP is the reference's Content-Security-Policy: scripts, styles, images
// and fetches (the document, "try it out") from this server only. Swagger
// UI sets styles through the DOM (allowed) and its icons are data: SVGs.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// vendored are the files of Swagger UI the page uses (the module holds
// more: source maps, other bundles, the petstore initializer).
var vendored = []string{"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}

// Docs serves the API reference.
type Docs struct {
	assets map[string][]byte
	index  []byte
}

// New loads the page and its assets (all embedded); it panics if one is
// missing, a build mistake every test catches.
func New() *Docs {
	d := &Docs{assets: map[string][]byte{}}
	read := func(fsys fs.FS, name string) []byte {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic("docs: " + err.Error())
		}
		return b
	}
	for _, name := range vendored {
		d.assets[name] = read(swaggerfiles.FS, name)
	}
	for _, name := range []string{"init.js", "docs.css"} {
		d.assets[name] = read(static, "static/"+name)
	}
	d.index = read(static, "static/index.html")
	return d
}

// Mount adds the page and its assets to r (the app's /docs group).
func (d *Docs) Mount(r fiber.Router) {
	r.Use(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, CSP)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		return c.Next()
	})
	r.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(d.index)
	})
	r.Get("/assets/:name", func(c *fiber.Ctx) error {
		b, ok := d.assets[c.Params("name")]
		if !ok {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderContentType, mime.TypeByExtension(path.Ext(c.Params("name"))))
		// The files change only with the binary (a pinned module).
		c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
		return c.Send(b)
	})
}
