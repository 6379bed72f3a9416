package console_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// figure reads the number of the element with id (a link or a dd).
func figure(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>\s*(\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no figure %s on the page", id)
	}
	return m[1]
}

// section is the HTML of the element with id, up to its closing tag name.
func section(t *testing.T, body, id, closing string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no %s on the page", id)
	}
	j := strings.Index(body[i:], closing)
	return body[i : i+j]
}

// The overview shows what was made: licenses by status, machines, the
// licenses expiring in 7 and 30 days (and its links list exactly them),
// activations and renewals per day, webhook and queue health.
func TestOverviewShowsTheFigures(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st) // one active license, expiring in a year
		ctx := context.Background()
		now := e.clock.Now()
		in := func(d time.Duration) *time.Time { at := now.Add(d); return &at }
		soon, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID, Name: "soon", ExpiresAt: in(5 * 24 * time.Hour)})
		must(t, err)
		later, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID, Name: "later", ExpiresAt: in(20 * 24 * time.Hour)})
		must(t, err)
		// Suspended: it expires in 3 days but is not among the active
		// licenses about to expire.
		held, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID, Name: "held", ExpiresAt: in(3 * 24 * time.Hour)})
		must(t, err)
		_, err = e.svc.Licenses.SuspendLicense(licensing.WithActor(ctx, &licensing.Actor{Name: "test"}), held.ID, "unpaid")
		must(t, err)
		for _, fp := range []string{"fp-one-0123456789", "fp-two-0123456789"} {
			_, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: later.Key, Fingerprint: fp, Platform: "linux/amd64"})
			must(t, err)
		}
		// Renewals from the telemetry roll-ups, one row per use (a
		// machine's, or the license's without one); a day outside the 30
		// is left out.
		must(t, st.Insights().AddDays(ctx, []insights.Day{
			{Day: "2026-04-29", LicenseID: later.ID, Activations: 1},
			{Day: "2026-04-29", LicenseID: later.ID, MachineID: "m1", Renewals: 3},
			{Day: "2026-05-01", LicenseID: later.ID, Renewals: 2},
			{Day: "2026-05-01", LicenseID: soon.ID, Renewals: 4},
			{Day: "2026-03-01", LicenseID: soon.ID, Renewals: 100},
		}))
		// Webhooks: one endpoint disabled of two; one failed and two
		// pending deliveries, one delivered.
		for i, on := range []bool{true, false} {
			must(t, st.CreateWebhook(ctx, &licensing.WebhookEndpoint{URL: "https://hooks.example.com/" + string(rune('a'+i)), EventTypes: []string{"*"}, Enabled: on,
				SealedSecret: []byte("x"), CreatedAt: now, UpdatedAt: now}))
		}
		for i, s := range []licensing.DeliveryStatus{licensing.DeliveryFailed, licensing.DeliveryPending, licensing.DeliveryPending, licensing.DeliveryDelivered} {
			must(t, st.CreateDelivery(ctx, &licensing.Delivery{EventID: "ev-" + string(rune('a'+i)), Action: licensing.ActionLicenseCreated, Channel: licensing.ChannelEmail,
				Status: s, AttemptLimit: 8, CreatedAt: now, UpdatedAt: now}))
		}

		b := e.signedIn(licensing.RoleReadOnly)
		resp, body := b.do("GET", "/console/", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("overview: %d", resp.StatusCode)
		}
		for id, want := range map[string]string{"expiring-7": "1", "expiring-30": "2"} {
			if got := figure(t, body, id); got != want {
				t.Errorf("%s: %s, want %s", id, got, want)
			}
		}
		lic := section(t, body, "licenses-by-status", "</dl>")
		for _, want := range []string{`status=active">3<`, `status=suspended">1<`, `status=expired">0<`} {
			if !strings.Contains(lic, want) {
				t.Errorf("licenses by status lack %s: %s", want, lic)
			}
		}
		if m := section(t, body, "machines-by-status", "</dl>"); !strings.Contains(m, "<dt>active</dt><dd>2</dd>") || !strings.Contains(m, "<dt>blocked</dt><dd>0</dd>") {
			t.Errorf("machines: %s", m)
		}
		renewals := section(t, body, "chart-renewals-caption", "</figure>")
		for _, want := range []string{"9 in all", "at most 6 on 2026-05-01", "<td>2026-04-29</td><td>3</td>", "<td>2026-05-01</td><td>6</td>", "<td>2026-04-30</td><td>0</td>",
			`role="img"`, `<title id="chart-renewals-title">Renewals per day</title>`} {
			if !strings.Contains(renewals, want) {
				t.Errorf("the renewals chart lacks %q", want)
			}
		}
		if strings.Contains(renewals, "2026-03-01") || strings.Count(renewals, "<tr><td>") != 30 {
			t.Errorf("the renewals table is not the last 30 days (%d rows)", strings.Count(renewals, "<tr><td>"))
		}
		if n := strings.Count(renewals, `<rect class="bar"`); n != 2 {
			t.Errorf("%d renewal bars, want 2 (two days with renewals)", n)
		}
		act := section(t, body, "chart-activations-caption", "</figure>")
		if !strings.Contains(act, "<td>2026-05-01</td><td>2</td>") || !strings.Contains(act, "2 in all") {
			t.Errorf("the activations chart does not show today's 2 activations")
		}
		hooks := section(t, body, "webhook-health", "</dl>")
		for _, want := range []string{`failed deliveries</dt><dd class="bad">1<`, "pending deliveries</dt><dd>2<", `endpoints disabled</dt><dd class="bad">1 <span class="muted">of 2<`} {
			if !strings.Contains(hooks, want) {
				t.Errorf("webhook health lacks %q: %s", want, hooks)
			}
		}
		if !strings.Contains(body, "Not reported by this server.") {
			t.Error("without a queue reporter the page should say so")
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script") || strings.Contains(body, "http://") {
			t.Error("the overview has a style attribute, a script or an outside URL: the CSP would block it")
		}

		// The expiring links list exactly the licenses counted.
		for q, want := range map[string][]string{"7": {soon.KeyHint}, "30": {soon.KeyHint, later.KeyHint}} {
			_, list := b.do("GET", "/console/licenses?expiring="+q, nil)
			if got := strings.Count(list, `<tr><td data-label="Key"><a href="/console/licenses/`); got != len(want) {
				t.Errorf("expiring=%s lists %d licenses, want %d", q, got, len(want))
			}
			for _, hint := range want {
				if !strings.Contains(list, "…"+hint) {
					t.Errorf("expiring=%s lacks %s", q, hint)
				}
			}
			if strings.Contains(list, "…"+held.KeyHint) || strings.Contains(list, "…"+e.license.KeyHint) {
				t.Errorf("expiring=%s lists a suspended or far license", q)
			}
		}
	})
}

// The queue card shows the reporter's sizes, and the queue monitor link
// only to a role that may use it.
func TestOverviewQueues(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		report := &console.QueueReport{Mode: "redis", Queues: []console.QueueSize{{Name: "narcidi:default", Pending: 7, Active: 2, Retry: 3}}}
		limiter := api.NewRateLimiter(nil, "", nil)
		e.app = api.New(api.Config{Services: e.svc, Health: st, Limiter: limiter,
			Console: console.New(console.Config{Users: e.us, Services: e.svc, Limiter: limiter,
				Queues: func(context.Context) (*console.QueueReport, error) { return report, nil }})}).App()
		for role, link := range map[licensing.Role]bool{licensing.RoleAdmin: true, licensing.RoleSupport: false} {
			_, body := e.signedIn(role).do("GET", "/console/", nil)
			q := section(t, body, "queue-health", "</section>")
			if !strings.Contains(q, `<h3 class="queue">narcidi:default</h3>`) || !regexp.MustCompile(`pending</dt><dd>7<.*running</dt><dd>2<.*retrying</dt><dd>3<`).MatchString(strings.ReplaceAll(q, "\n", "")) {
				t.Errorf("%s: queue sizes missing: %s", role, q)
			}
			if strings.Contains(q, `href="/admin/queues"`) != link {
				t.Errorf("%s: queue monitor link shown %v, want %v", role, !link, link)
			}
		}
		report.Mode, report.Queues = "in-process", []console.QueueSize{{Name: "in-process", Pending: 1}}
		_, body := e.signedIn(licensing.RoleReadOnly).do("GET", "/console/", nil)
		if q := section(t, body, "queue-health", "</section>"); !strings.Contains(q, "Run in-process") || !strings.Contains(q, "pending</dt><dd>1<") {
			t.Errorf("in-process: %s", q)
		}
	})
}
