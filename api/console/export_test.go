package console_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// csvOf GETs an export and parses it.
func (b *browser) csvOf(path string) [][]string {
	b.e.t.Helper()
	resp, body := b.do("GET", path, nil)
	wantStatus(b.e.t, path, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		b.e.t.Fatalf("%s: %s, %s", path, ct, resp.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	must(b.e.t, err)
	return rows
}

// TestCSVExports (issue 24, 4): licenses, machines, customers and the
// audit log export as CSV with the page's filters; the list pages link
// to the export of what they show.
func TestCSVExports(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		other, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "=HYPERLINK(\"x\")", Email: "evil@example.com"})
		must(t, err)
		_, err = e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: other.ID, Name: "Other seat"})
		must(t, err)
		m := e.activate("build-01")
		ro := e.signedIn(licensing.RoleReadOnly)

		// The list's link carries its filters.
		_, body := ro.do("GET", "/console/licenses?customer="+e.license.CustomerID+"&status=active", nil)
		link := regexp.MustCompile(`href="(/console/export/licenses\.csv\?[^"]+)" id="export-csv"`).FindStringSubmatch(body)
		if link == nil {
			t.Fatal("no export link on the licenses page")
		}
		rows := ro.csvOf(strings.ReplaceAll(link[1], "&amp;", "&"))
		if rows[0][1] != "key_hint" || len(rows) != 3 { // Acme's two licenses (the setup's and activate's)
			t.Fatalf("licenses of Acme: %v", rows)
		}
		for _, r := range rows[1:] {
			if r[3] != "Studio" || r[4] != "Acme" || r[5] != e.license.CustomerID {
				t.Errorf("license row %v: want product and customer names", r)
			}
		}
		if rows := ro.csvOf("/console/export/licenses.csv"); len(rows) != 4 {
			t.Errorf("all licenses: %d rows, want header and 3", len(rows))
		}

		rows = ro.csvOf("/console/export/customers.csv")
		if len(rows) != 3 || rows[2][1] != `'=HYPERLINK("x")` {
			t.Errorf("customers: %v (a formula must be quoted)", rows)
		}
		if rows := ro.csvOf("/console/export/customers.csv?q=evil"); len(rows) != 2 {
			t.Errorf("customers searched: %v", rows)
		}

		rows = ro.csvOf("/console/export/machines.csv?status=active")
		if len(rows) != 2 || rows[1][0] != m.ID || rows[1][3] != m.Fingerprint || !strings.HasPrefix(rows[1][8], "…") {
			t.Errorf("machines: %v", rows)
		}

		rows = ro.csvOf("/console/export/audit.csv?action=customer.created")
		if len(rows) != 3 || rows[1][4] != `'=HYPERLINK("x")` || rows[2][4] != "Acme" {
			t.Errorf("audit, newest first: %v", rows)
		}
		resp, _ := ro.do("GET", "/console/export/audit.csv?since=soon", nil)
		wantStatus(t, "a bad date", resp, http.StatusUnprocessableEntity)
	})
}
