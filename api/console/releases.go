package console

import (
	"html/template"
	"net/url"
	"path"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
)

// Releases: the version history per product, and publish / yank through
// the release service, as the API's release routes.
var releaseRoutes = []Route{
	{"releases", "GET", "/releases", licensing.ReadReleases, (*Console).releases},
	{"release", "GET", "/releases/:release", licensing.ReadReleases, (*Console).release},
	{"releasePublish", "POST", "/releases/:release/publish", licensing.WriteReleases, (*Console).releaseAction},
	{"releaseYank", "POST", "/releases/:release/yank", licensing.WriteReleases, (*Console).releaseAction},
}

// releaseService is the release service, or EUnavailable when the server
// has none configured (the API answers the same).
func (cn *Console) releaseService() (*release.Service, error) {
	if cn.cfg.Releases == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "releases are not configured on this server")
	}
	return cn.cfg.Releases, nil
}

type releasesData struct {
	Releases []release.Release
	Products []licensing.Product
	Names    map[string]string // product id → name
	Product  string
	Channel  string
	Status   string
	Channels []string
	Statuses []string
	Next     template.URL
}

func (cn *Console) releases(c *fiber.Ctx) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	ctx := c.UserContext()
	d := releasesData{Product: c.Query("product"), Channel: c.Query("channel"), Status: c.Query("status"),
		Channels: []string{"stable", "beta", "alpha", "dev"},
		Statuses: []string{string(release.StatusDraft), string(release.StatusPublished), string(release.StatusYanked)}}
	if d.Products, err = cn.cfg.Services.Catalog.Products(ctx, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	d.Names = map[string]string{}
	for _, p := range d.Products {
		d.Names[p.ID] = p.Name
	}
	f := release.Filter{ProductID: d.Product, Channel: d.Channel, Status: release.Status(d.Status)}
	if d.Releases, err = rs.Releases(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize}); err != nil {
		return cn.fail(c, err)
	}
	d.Next = nextPage(d.Releases, func(r *release.Release) string { return r.ID },
		url.Values{"product": {d.Product}, "channel": {d.Channel}, "status": {d.Status}})
	return cn.render(c, fiber.StatusOK, "releases", "console.page.releases", d)
}

type releaseData struct {
	form    // the add-artifact form (releaseupload.go)
	Release *release.Release
	Product *licensing.Product
	Done    string
	Publish bool
	Yank    bool
	Upload  bool // a draft the user may add artifacts to
}

func (cn *Console) release(c *fiber.Ctx) error {
	return cn.showRelease(c, fiber.StatusOK, c.Params("release"), form{Values: map[string]string{}})
}

// showRelease is the release page, with the add-artifact form f on a
// draft. Its script sends the bytes to the blob store, so the page's
// Content-Security-Policy lets it connect there (and nowhere else).
func (cn *Console) showRelease(c *fiber.Ctx, status int, id string, f form) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	ctx := c.UserContext()
	r, err := rs.Release(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	d := releaseData{form: f, Release: r, Done: c.Query("done")}
	if p, err := cn.cfg.Services.Catalog.Product(ctx, r.ProductID); err == nil {
		d.Product = p
	}
	if current(c).Actor.Allows(licensing.WriteReleases) {
		d.Publish, d.Yank = r.Status == release.StatusDraft, r.Status == release.StatusPublished
		d.Upload = d.Publish
	}
	if d.Upload {
		origin, err := rs.UploadOrigin(ctx)
		if err != nil {
			return cn.fail(c, err)
		}
		c.Set("Content-Security-Policy", webui.CSP+"; connect-src 'self' "+origin)
	}
	return cn.render(c, status, "release", "console.page.release", d, "version", r.Version)
}

// releaseAction publishes a draft (no reason: the service takes none) or
// yanks a published release (with a reason), each confirmed first.
func (cn *Console) releaseAction(c *fiber.Ctx) error {
	rs, err := cn.releaseService()
	if err != nil {
		return cn.fail(c, err)
	}
	ctx, id, action := c.UserContext(), c.Params("release"), path.Base(c.Path())
	r, err := rs.Release(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: action, Target: printer(c).T("console.target.release", "version", r.Version, "channel", r.Channel), Path: c.Path(),
		Cancel: Prefix + "/releases/" + id, NeedReason: action == "yank", Reason: reason(c)}
	if action == "publish" {
		cf.Detail = "(it becomes downloadable and the channel's metadata is signed again)"
	}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	if action == "publish" {
		_, err = rs.Publish(ctx, id)
	} else {
		_, err = rs.Yank(ctx, id, cf.Reason)
	}
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/releases/"+id+"?done="+action)
}
