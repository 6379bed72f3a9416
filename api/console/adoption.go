package console

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
)

// Adoption of releases on the product page: the app versions the SDK
// reports (activate, renew and heartbeat carry app_version, kept in the
// daily telemetry roll-ups) over the last N days, matched to the
// product's releases.

// adoptionWindows are the windows the product page offers (days).
var adoptionWindows = []int{7, 30, 90}

const defaultAdoptionDays = 30

// adoptionRow is one app version: how many machines and licenses report
// it, and the release of that version when there is one.
type adoptionRow struct {
	insights.VersionUse
	Release *release.Release
}

// adoptionData is the product page's section.
type adoptionData struct {
	Shown    bool // the user may read telemetry and the server keeps it
	Days     int
	Windows  []int
	Versions []adoptionRow
	// Unused are the product's published releases no machine reported in
	// the window.
	Unused []release.Release
}

// adoptionDays reads ?days= (one of the windows, else the default).
func adoptionDays(c *fiber.Ctx) int {
	n, err := strconv.Atoi(c.Query("days"))
	if err != nil || !slices.Contains(adoptionWindows, n) {
		return defaultAdoptionDays
	}
	return n
}

// sameVersion matches a reported app version ("v2.4.1", "2.4.1") to a
// release's (stored without the v).
func sameVersion(reported, rel string) bool {
	return strings.TrimPrefix(strings.TrimSpace(reported), "v") == rel
}

// adoption builds the section for product id; a failure leaves it out of
// the page rather than failing the page (the catalog part still shows).
func (cn *Console) adoption(c *fiber.Ctx, productID string) (adoptionData, error) {
	d := adoptionData{Days: adoptionDays(c), Windows: adoptionWindows}
	if !cn.canInsights(c) {
		return d, nil
	}
	ctx := c.UserContext()
	since := cn.cfg.Clock().UTC().AddDate(0, 0, -(d.Days - 1))
	uses, err := cn.cfg.Insights.AppVersions(ctx, productID, since)
	if err != nil {
		return d, err
	}
	d.Shown = true
	var rels []release.Release
	if cn.cfg.Releases != nil && current(c).Actor.Allows(licensing.ReadReleases) {
		if rels, err = cn.cfg.Releases.Releases(ctx, release.Filter{ProductID: productID}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return d, err
		}
	}
	seen := map[string]bool{}
	for _, u := range uses {
		row := adoptionRow{VersionUse: u}
		for i := range rels {
			if sameVersion(u.Version, rels[i].Version) {
				row.Release = &rels[i]
				seen[rels[i].ID] = true
				break
			}
		}
		d.Versions = append(d.Versions, row)
	}
	for _, r := range rels {
		if !seen[r.ID] && r.Status == release.StatusPublished {
			d.Unused = append(d.Unused, r)
		}
	}
	return d, nil
}
