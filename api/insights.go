package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// The insights routes: the latest scores of the scoring job, with their
// reasons, filtered; per license and per customer.

// insightParams are the query parameters of an insights route: the
// filters every one takes, more, and the page.
func insightParams(more ...param) []param {
	return withPage(append([]param{{"kind", "churn_risk, block_risk, upgrade_suggested or sharing_suspected"},
		{"min_score", "only scores at least this (0-1)"}}, more...)...)
}

// insightChecks are the query rules of the insights routes (query.go).
func insightChecks() map[string]queryCheck {
	return map[string]queryCheck{
		"kind": func(v string) (bool, string) {
			return insights.Kind(v).Valid(), "churn_risk, block_risk, upgrade_suggested or sharing_suspected"
		},
		"min_score": func(v string) (bool, string) {
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f >= 0 && f <= 1, "a number from 0 to 1"
		},
		"customer_id": isID, "product_id": isID, "license_id": isID,
	}
}

func (s *Server) scores() (*insights.Scores, error) {
	if s.insights == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "insights are not configured on this server")
	}
	return s.insights, nil
}

// insightFilter reads the filters every insights route takes.
func insightFilter(c *fiber.Ctx) insights.ScoreFilter {
	f := insights.ScoreFilter{Kind: insights.Kind(c.Query("kind"))}
	if v := c.Query("min_score"); v != "" {
		f.MinScore, _ = strconv.ParseFloat(v, 64) // checked by insightChecks
	}
	return f
}

func (s *Server) listScores(c *fiber.Ctx, f insights.ScoreFilter) error {
	svc, err := s.scores()
	if err != nil {
		return err
	}
	return list(c, func(p licensing.Page) ([]insights.ScoreRecord, error) {
		return svc.List(c.UserContext(), f, p)
	}, func(r *insights.ScoreRecord) string { return r.ID })
}

func (s *Server) listInsights(c *fiber.Ctx) error {
	f := insightFilter(c)
	f.CustomerID, f.ProductID, f.LicenseID = c.Query("customer_id"), c.Query("product_id"), c.Query("license_id")
	return s.listScores(c, f)
}

// licenseInsights answers 404 for a license that does not exist (or that
// the caller may not see), not an empty list.
func (s *Server) licenseInsights(c *fiber.Ctx) error {
	if _, err := s.svc.Licenses.License(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	f := insightFilter(c)
	f.LicenseID = c.Params("id")
	return s.listScores(c, f)
}

func (s *Server) customerInsights(c *fiber.Ctx) error {
	if _, err := s.svc.Customers.Customer(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	f := insightFilter(c)
	f.CustomerID = c.Params("id")
	return s.listScores(c, f)
}
