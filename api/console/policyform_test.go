package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestPolicyFormUnitsAndSeats (issue 24, 5): the form sets the offline
// lease bound in days, speaks minutes where its field is in minutes, and
// refuses 0 seats on the form instead of saving 1.
func TestPolicyFormUnitsAndSeats(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		base := func(kv ...string) url.Values {
			v := url.Values{"product_id": {e.license.ProductID}, "name": {"Units"}}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		for _, tc := range []struct {
			name    string
			form    url.Values
			message string
			bad     string
		}{
			{"0 seats", base("max_machines", "0"), "Seats must be a whole number of at least 1", `name="max_machines" type="number" min="1" max="100000" value="0" aria-invalid="true"`},
			{"lease in minutes", base("lease_ttl_minutes", "2"), "Lease lifetime (minutes) must be between 5 and 43200", `name="lease_ttl_minutes" value="2" inputmode="decimal" aria-invalid="true"`},
			{"offline bound", base("offline_max_days", "400"), "at most 30 days", `name="offline_max_days" value="400" inputmode="decimal" aria-invalid="true"`},
		} {
			body := b.postWant("/console/policies", tc.form, http.StatusUnprocessableEntity)
			if !strings.Contains(body, tc.message) || !strings.Contains(body, tc.bad) {
				t.Errorf("%s: want %q and the field marked\n%s", tc.name, tc.message, body)
			}
		}
		b.postWant("/console/policies", base("offline_max_days", "7", "trial_days", "14", "dunning_days", "5"), http.StatusSeeOther)
		ps, err := e.svc.Catalog.Policies(context.Background(), licensing.PolicyFilter{ProductID: e.license.ProductID}, licensing.Page{})
		must(t, err)
		var got *licensing.Policy
		for i := range ps {
			if ps[i].Name == "Units" {
				got = &ps[i]
			}
		}
		if got == nil || got.Metadata[licensing.OfflineTTLMetadata] != "604800" || got.Metadata[licensing.MetaTrialSeconds] != "1209600" || got.Metadata[licensing.MetaDunningDays] != "5" {
			t.Fatalf("policy saved: %+v", got)
		}
		if _, body := b.do("GET", "/console/policies/"+got.ID, nil); !strings.Contains(body, `name="offline_max_days" value="7"`) {
			t.Error("the form does not show the offline bound in days")
		}
	})
}

// TestActionErrorsStayOnThePage (issue 24, 5): a refused action shows the
// license page again with why; an extension reads "extended"; revoke and
// suspend are drawn as dangerous.
func TestActionErrorsStayOnThePage(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		path := "/console/licenses/" + e.license.ID
		_, body := b.do("GET", path, nil)
		for _, want := range []string{`class="action danger"`, `id="action-revoke" class="danger"`, `id="action-suspend" class="danger"`} {
			if !strings.Contains(body, want) {
				t.Errorf("license page lacks %s", want)
			}
		}
		if strings.Contains(body, `id="action-extend" class="danger"`) {
			t.Error("extend is drawn as dangerous")
		}
		resp, body := b.post(path+"/extend", url.Values{"days": {"0"}, "reason": {"more"}})
		wantStatus(t, "0 days", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `role="alert">Days: this value is not accepted. <span class="detail">Days must be a whole number from 1 to 3650`) || !strings.Contains(body, `id="action-extend"`) {
			t.Errorf("a refused extension does not show the page with why:\n%s", body)
		}
		resp, body = b.post(path+"/revoke", url.Values{})
		wantStatus(t, "no reason", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "give a reason") || !strings.Contains(body, `id="timeline"`) {
			t.Error("a missing reason loses the page")
		}
		resp, _ = b.act(path+"/extend", url.Values{"days": {"30"}, "reason": {"goodwill"}})
		wantStatus(t, "extend", resp, http.StatusSeeOther)
		_, body = b.do("GET", path+"?done=extend", nil)
		if !strings.Contains(body, "Done: extended.") || !strings.Contains(body, `<strong title="license.renewed">license extended</strong>`) {
			t.Error("the extension is not said as extended")
		}
		resp, body = b.post(path+"/revoke", url.Values{"reason": {"fraud"}})
		wantStatus(t, "revoke confirmation", resp, http.StatusOK)
		if !strings.Contains(body, "confirm-danger") {
			t.Error("the revoke confirmation is not drawn as dangerous")
		}
		_, body = b.post(path+"/change-plan", url.Values{"policy_id": {e.license.PolicyID}, "reason": {"r"}})
		if !strings.Contains(body, "change the plan of") {
			t.Error("the change-plan confirmation says change-plan")
		}
	})
}
