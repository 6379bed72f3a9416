package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// cliEnv runs the CLI through run, as the binary would, against a server.
type cliEnv struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, app *App) cliEnv {
	return cliEnv{t, map[string]string{"NARCIDI_URL": app.URL(), "NARCIDI_TOKEN": adminToken}}
}

func (c cliEnv) with(k, v string) cliEnv {
	env := map[string]string{}
	for key, val := range c.env {
		env[key] = val
	}
	env[k] = v
	return cliEnv{c.t, env}
}

func (c cliEnv) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return c.env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its stdout.
func (c cliEnv) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("narcidi %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs a command with -o json and decodes its output.
func (c cliEnv) json(out any, args ...string) {
	c.t.Helper()
	text := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(text), out); err != nil {
		c.t.Fatalf("narcidi %s -o json: %v\n%s", strings.Join(args, " "), err, text)
	}
}

// fails runs a command that must fail with the exit code and returns stderr.
func (c cliEnv) fails(code int, args ...string) string {
	c.t.Helper()
	got, out, errOut := c.run(args...)
	if got != code {
		c.t.Fatalf("narcidi %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errOut)
	}
	return errOut
}

// table parses a table into one map per row, keyed by the header's
// columns; cells are cut at the columns' offsets, as tabwriter aligns them.
func table(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := []rune(lines[0])
	var starts []int
	for i := range header {
		if header[i] != ' ' && (i == 0 || i >= 2 && header[i-1] == ' ' && header[i-2] == ' ') {
			starts = append(starts, i)
		}
	}
	cell := func(line []rune, i int) string {
		end := len(line)
		if i+1 < len(starts) {
			end = min(starts[i+1], len(line))
		}
		if starts[i] > len(line) {
			return ""
		}
		return strings.TrimSpace(string(line[starts[i]:end]))
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			break // what follows a table (a secret shown once)
		}
		line := []rune(l)
		row := map[string]string{}
		for i := range starts {
			name := strings.ReplaceAll(cell(header, i), " ", "_")
			if row[name] = cell(line, i); row[name] == "" || (i+1 < len(starts) && line[starts[i+1]-1] != ' ') {
				t.Fatalf("row %q does not fit the header %q", l, lines[0])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func oneRow(t *testing.T, out string) map[string]string {
	t.Helper()
	rows := table(t, out)
	if len(rows) != 1 {
		t.Fatalf("want one row:\n%s", out)
	}
	return rows[0]
}

// shownOnce is the secret printed after a table.
var shownOnceRe = regexp.MustCompile(`\(shown only this once; store it now\):\n\n    (\S+)\n`)

func shownOnce(t *testing.T, out string) string {
	t.Helper()
	m := shownOnceRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no secret shown in:\n%s", out)
	}
	return m[1]
}

func TestCLICustomers(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	c := newCLI(t, app)

	out := c.ok("customers", "create", "-name", "Acme", "-email", "it@acme.test")
	acme := oneRow(t, out)
	if !strings.HasPrefix(out, "ID  ") || acme["NAME"] != "Acme" || acme["EMAIL"] != "it@acme.test" || acme["STATUS"] != "active" || acme["ID"] == "" {
		t.Fatalf("create:\n%s", out)
	}
	var beta struct{ ID, Name, Email, Status string }
	c.json(&beta, "customers", "create", "-name", "Beta")
	if beta.ID == "" || beta.Name != "Beta" || beta.Email != "" {
		t.Fatalf("create -o json: %+v", beta)
	}

	rows := table(t, c.ok("customers", "list"))
	if len(rows) != 2 || rows[0]["ID"] != acme["ID"] || rows[1]["ID"] != beta.ID || rows[1]["EMAIL"] != "-" {
		t.Errorf("list: %v", rows)
	}
	text := c.ok("customers", "list", "-o", "json")
	if !strings.Contains(text, "\n  \"data\": [") {
		t.Errorf("-o json is not indented:\n%s", text)
	}
	var list struct {
		Data       []struct{ ID, Name string }
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(text), &list); err != nil || len(list.Data) != 2 || list.Data[1].Name != "Beta" {
		t.Errorf("list -o json: %v %s", err, text)
	}

	// Pages: the next cursor goes to stderr.
	code, out, errOut := c.run("customers", "list", "-limit", "1")
	if code != 0 || len(table(t, out)) != 1 || !strings.Contains(errOut, "next cursor: "+acme["ID"]) {
		t.Errorf("list -limit 1: %d\n%s\n%s", code, out, errOut)
	}
	if rows := table(t, c.ok("customers", "list", "-limit", "1", "-cursor", acme["ID"])); len(rows) != 1 || rows[0]["ID"] != beta.ID {
		t.Errorf("second page: %v", rows)
	}

	if got := oneRow(t, c.ok("customers", "get", beta.ID)); got["NAME"] != "Beta" {
		t.Errorf("get: %v", got)
	}
	// The flags -url and -token stand in for the environment.
	bare := cliEnv{t, map[string]string{}}
	if got := oneRow(t, bare.ok("customers", "get", "-url", app.URL()+"/", "-token", adminToken, acme["ID"])); got["NAME"] != "Acme" {
		t.Errorf("get with flags: %v", got)
	}
	if errOut := c.fails(2, "customers", "create", "-email", "x@y.test"); !strings.Contains(errOut, "-name is required") {
		t.Errorf("create without -name: %s", errOut)
	}
}

func TestCLILicenses(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	var team, beta struct{ ID string }
	admin.mustCreate("/v1/policies", map[string]any{"product_id": cat.productID, "name": "Team", "floating": true, "max_machines": 5,
		"lease_ttl_seconds": 3600}, &team)
	admin.mustCreate("/v1/customers", map[string]any{"name": "Beta"}, &beta)
	c := newCLI(t, app)

	// create: the key is shown once, prominently.
	out := c.ok("licenses", "create", "-policy", cat.policyID, "-customer", cat.customerID, "-name", "seat A")
	lic := oneRow(t, out)
	key := shownOnce(t, out)
	if !strings.HasPrefix(key, "NZL-") || !strings.HasSuffix(key, lic["KEY"]) || lic["STATUS"] != "active" ||
		lic["CUSTOMER"] != cat.customerID || lic["POLICY"] != cat.policyID {
		t.Fatalf("create:\n%s", out)
	}
	if _, err := time.Parse(time.RFC3339, lic["EXPIRES"]); err != nil {
		t.Errorf("EXPIRES %q: %v", lic["EXPIRES"], err)
	}
	// The key works.
	if _, err := (&verifier.Client{BaseURL: app.URL()}).Activate(context.Background(),
		verifier.MachineRequest{LicenseKey: key, Fingerprint: "fingerprint-cli-0001"}); err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID, Key, Name string
		ExpiresAt     time.Time `json:"expires_at"`
	}
	c.json(&created, "licenses", "create", "-policy", cat.policyID, "-customer", beta.ID,
		"-key", "MY-OWN-KEY-0123456789", "-expires-at", "2031-01-02T03:04:05Z")
	if created.Key != "MY-OWN-KEY-0123456789" || !created.ExpiresAt.Equal(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("create -o json: %+v", created)
	}

	// list and its filters.
	if rows := table(t, c.ok("licenses", "list")); len(rows) != 3 {
		t.Errorf("list: %v", rows)
	}
	if rows := table(t, c.ok("licenses", "list", "-customer", beta.ID)); len(rows) != 1 || rows[0]["ID"] != created.ID || rows[0]["EXPIRES"] != "2031-01-02T03:04:05Z" {
		t.Errorf("list -customer: %v", rows)
	}
	if rows := table(t, c.ok("licenses", "list", "-expires-before", "2031-06-01T00:00:00Z", "-customer", beta.ID, "-policy", cat.policyID, "-product", cat.productID)); len(rows) != 1 {
		t.Errorf("list -expires-before: %v", rows)
	}
	code, out, errOut := c.run("licenses", "list", "-limit", "2")
	if code != 0 || len(table(t, out)) != 2 || !strings.Contains(errOut, "next cursor: ") {
		t.Errorf("list -limit 2: %d\n%s\n%s", code, out, errOut)
	}
	cursor := strings.Fields(errOut)[2]
	if rows := table(t, c.ok("licenses", "list", "-limit", "2", "-cursor", cursor)); len(rows) != 1 {
		t.Errorf("list -cursor: %v", rows)
	}

	if got := oneRow(t, c.ok("licenses", "get", lic["ID"])); got["ID"] != lic["ID"] || got["KEY"] != lic["KEY"] {
		t.Errorf("get: %v", got)
	}
	var got struct{ ID, Name string }
	c.json(&got, "licenses", "get", lic["ID"])
	if got.Name != "seat A" {
		t.Errorf("get -o json: %+v", got)
	}

	// The actions; flags may come before or after the ID.
	if row := oneRow(t, c.ok("licenses", "suspend", lic["ID"], "-reason", "unpaid")); row["STATUS"] != "suspended" {
		t.Errorf("suspend: %v", row)
	}
	if rows := table(t, c.ok("licenses", "list", "-status", "suspended")); len(rows) != 1 || rows[0]["ID"] != lic["ID"] {
		t.Errorf("list -status suspended: %v", rows)
	}
	var susp struct {
		Status       string
		StatusReason string `json:"status_reason"`
	}
	c.json(&susp, "licenses", "get", lic["ID"])
	if susp.StatusReason != "unpaid" {
		t.Errorf("suspended license: %+v", susp)
	}
	if row := oneRow(t, c.ok("licenses", "reinstate", "-reason", "paid", lic["ID"])); row["STATUS"] != "active" {
		t.Errorf("reinstate: %v", row)
	}
	if errOut := c.fails(1, "licenses", "reinstate", lic["ID"]); !strings.Contains(errOut, "409 conflict: ") {
		t.Errorf("reinstate an active license: %s", errOut)
	}

	before, _ := time.Parse(time.RFC3339, lic["EXPIRES"])
	row := oneRow(t, c.ok("licenses", "extend", lic["ID"], "-by", "720h", "-reason", "renewal"))
	if after, _ := time.Parse(time.RFC3339, row["EXPIRES"]); after.Sub(before) != 720*time.Hour {
		t.Errorf("extend -by 720h: %s → %s", before, after)
	}
	row = oneRow(t, c.ok("licenses", "extend", lic["ID"], "-by", "30d"))
	if after, _ := time.Parse(time.RFC3339, row["EXPIRES"]); after.Sub(before) != 1440*time.Hour {
		t.Errorf("extend -by 30d: %s → %s", before, after)
	}
	if row := oneRow(t, c.ok("licenses", "extend", lic["ID"], "-until", "2040-01-01T00:00:00Z")); row["EXPIRES"] != "2040-01-01T00:00:00Z" {
		t.Errorf("extend -until: %v", row)
	}
	if errOut := c.fails(2, "licenses", "extend", lic["ID"], "-until", "2040-01-01T00:00:00Z", "-by", "1h"); !strings.Contains(errOut, "not both") {
		t.Errorf("extend with both: %s", errOut)
	}
	if errOut := c.fails(2, "licenses", "extend", lic["ID"], "-until", "next year"); !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("extend -until garbage: %s", errOut)
	}

	if row := oneRow(t, c.ok("licenses", "transfer", lic["ID"], "-customer", beta.ID, "-reason", "sold")); row["CUSTOMER"] != beta.ID {
		t.Errorf("transfer: %v", row)
	}
	if row := oneRow(t, c.ok("licenses", "change-policy", lic["ID"], "-policy", team.ID, "-reason", "upgrade")); row["POLICY"] != team.ID {
		t.Errorf("change-policy: %v", row)
	}
	if row := oneRow(t, c.ok("licenses", "revoke", lic["ID"], "-reason", "fraud")); row["STATUS"] != "revoked" {
		t.Errorf("revoke: %v", row)
	}
	if errOut := c.fails(1, "licenses", "suspend", lic["ID"]); !strings.Contains(errOut, "409 conflict: ") {
		t.Errorf("suspend a revoked license: %s", errOut)
	}
	if errOut := c.fails(2, "licenses", "transfer", lic["ID"]); !strings.Contains(errOut, "-customer is required") {
		t.Errorf("transfer without -customer: %s", errOut)
	}
	if errOut := c.fails(2, "licenses", "suspend"); !strings.Contains(errOut, "want one ID argument") {
		t.Errorf("suspend without ID: %s", errOut)
	}
}

func TestCLIMachines(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	sdk := &verifier.Client{BaseURL: app.URL()}
	ctx := context.Background()
	fp := "fingerprint-cli-machine-0123456789"
	req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp, Hostname: "pc-1"}
	act, err := sdk.Activate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.Heartbeat(ctx, req); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, app)

	rows := table(t, c.ok("machines", "list", "-license", cat.licenseID))
	if len(rows) != 1 {
		t.Fatalf("list: %v", rows)
	}
	m := rows[0]
	if m["ID"] != act.MachineID || m["LICENSE"] != cat.licenseID || m["FINGERPRINT"] != fp[:16] || m["HOSTNAME"] != "pc-1" || m["STATUS"] != "active" {
		t.Errorf("list: %v", m)
	}
	if _, err := time.Parse(time.RFC3339, m["LAST_HEARTBEAT"]); err != nil {
		t.Errorf("LAST HEARTBEAT %q", m["LAST_HEARTBEAT"])
	}
	if rows := table(t, c.ok("machines", "list", "-customer", cat.customerID, "-status", "active")); len(rows) != 1 {
		t.Errorf("list -customer -status: %v", rows)
	}
	if rows := table(t, c.ok("machines", "list", "-status", "blocked")); len(rows) != 0 {
		t.Errorf("list -status blocked: %v", rows)
	}
	var full struct{ Fingerprint string }
	c.json(&full, "machines", "get", act.MachineID)
	if full.Fingerprint != fp {
		t.Errorf("get -o json: %+v", full)
	}
	if row := oneRow(t, c.ok("machines", "reset-heartbeat", act.MachineID)); row["LAST_HEARTBEAT"] != "-" {
		t.Errorf("reset-heartbeat: %v", row)
	}
	if row := oneRow(t, c.ok("machines", "get", act.MachineID)); row["LAST_HEARTBEAT"] != "-" {
		t.Errorf("get after reset-heartbeat: %v", row)
	}

	if out := c.ok("machines", "deactivate", act.MachineID); !strings.Contains(out, "deactivated") {
		t.Errorf("deactivate: %s", out)
	}
	if errOut := c.fails(1, "machines", "get", act.MachineID); !strings.Contains(errOut, "404 not_found") {
		t.Errorf("get a deactivated machine: %s", errOut)
	}

	// Block: the fingerprint cannot activate again until unblocked.
	act, err = sdk.Activate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if row := oneRow(t, c.ok("machines", "block", act.MachineID, "-reason", "stolen")); row["STATUS"] != "blocked" {
		t.Errorf("block: %v", row)
	}
	if _, err := sdk.Activate(ctx, req); err == nil {
		t.Error("a blocked machine activated")
	}
	if out := c.ok("machines", "unblock", act.MachineID, "-reason", "found"); !strings.Contains(out, "unblocked") {
		t.Errorf("unblock: %s", out)
	}
	if _, err := sdk.Activate(ctx, req); err != nil {
		t.Errorf("activate after unblock: %v", err)
	}
}

func TestCLITokens(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	c := newCLI(t, app)
	var cus struct{ ID string }
	c.json(&cus, "customers", "create", "-name", "Acme")

	out := c.ok("tokens", "create", "-name", "dashboard", "-role", "read-only", "-expires-at", "2040-01-01T00:00:00Z")
	tok := oneRow(t, out)
	secret := shownOnce(t, out)
	if !strings.HasPrefix(secret, "nzt_") || tok["NAME"] != "dashboard" || tok["ROLE"] != "read-only" ||
		tok["EXPIRES"] != "2040-01-01T00:00:00Z" || tok["REVOKED"] != "-" || tok["CUSTOMER"] != "-" {
		t.Fatalf("create:\n%s", out)
	}
	var created struct {
		Token struct {
			ID, Role   string
			CustomerID string `json:"customer_id"`
		}
		Secret string
	}
	c.json(&created, "tokens", "create", "-name", "acme", "-role", "customer", "-customer", cus.ID)
	if !strings.HasPrefix(created.Secret, "nzt_") || created.Token.CustomerID != cus.ID || created.Token.Role != "customer" {
		t.Errorf("create -o json: %+v", created)
	}

	rows := table(t, c.ok("tokens", "list"))
	names := map[string]map[string]string{}
	for _, r := range rows {
		names[r["NAME"]] = r
	}
	if len(rows) != 3 || names["dashboard"]["ID"] != tok["ID"] || names["acme"]["CUSTOMER"] != cus.ID {
		t.Errorf("list: %v", rows)
	}

	// The new token works, with its role's rights.
	ro := c.with("NARCIDI_TOKEN", secret)
	if rows := table(t, ro.ok("customers", "list")); len(rows) != 1 {
		t.Errorf("read-only list: %v", rows)
	}
	if errOut := ro.fails(1, "customers", "create", "-name", "X"); !strings.Contains(errOut, "403 forbidden: ") {
		t.Errorf("read-only create: %s", errOut)
	}

	if out := c.ok("tokens", "revoke", tok["ID"]); !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %s", out)
	}
	if errOut := c.fails(1, "tokens", "revoke", tok["ID"]); !strings.Contains(errOut, "409 conflict: ") {
		t.Errorf("revoke twice: %s", errOut)
	}
	if out := c.ok("tokens", "revoke", created.Token.ID, "-o", "json"); out != "" {
		t.Errorf("revoke -o json printed %q", out)
	}
	for _, r := range table(t, c.ok("tokens", "list")) {
		if r["ID"] == tok["ID"] {
			if _, err := time.Parse(time.RFC3339, r["REVOKED"]); err != nil {
				t.Errorf("revoked token listed as %v", r)
			}
		}
	}
	if errOut := ro.fails(1, "customers", "list"); !strings.Contains(errOut, "401 unauthorized: ") {
		t.Errorf("revoked token: %s", errOut)
	}
	if errOut := c.fails(1, "tokens", "create", "-name", "x", "-role", "root"); !strings.Contains(errOut, "422 invalid: ") {
		t.Errorf("bad role: %s", errOut)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	c := newCLI(t, app)

	errOut := c.fails(1, "licenses", "get", "0190a8e8-0000-7000-8000-000000000000")
	if !regexp.MustCompile(`^narcidi: 404 not_found: .+ \(request \S+\)\n$`).MatchString(errOut) {
		t.Errorf("unknown license: %q", errOut)
	}
	if errOut := c.fails(1, "licenses", "list", "-o", "json", "-policy", "nope", "-limit", "1000"); !strings.Contains(errOut, "422 invalid: ") {
		t.Errorf("bad limit: %q", errOut)
	}

	if errOut := c.with("NARCIDI_TOKEN", "").fails(1, "licenses", "list"); !strings.Contains(errOut, "NARCIDI_TOKEN is not set") {
		t.Errorf("no token: %q", errOut)
	}
	if errOut := c.with("NARCIDI_URL", "").fails(1, "customers", "list"); !strings.Contains(errOut, "NARCIDI_URL is not set") {
		t.Errorf("no URL: %q", errOut)
	}
	if errOut := c.with("NARCIDI_URL", "127.0.0.1:8080").fails(1, "customers", "list"); !strings.Contains(errOut, "not an http(s) URL") {
		t.Errorf("bad URL: %q", errOut)
	}
	if errOut := c.with("NARCIDI_TOKEN", "nzt_forged").fails(1, "customers", "list"); !strings.Contains(errOut, "401 unauthorized: ") {
		t.Errorf("wrong token: %q", errOut)
	}
	if errOut := c.fails(2, "licenses", "list", "-o", "yaml"); !strings.Contains(errOut, "-o must be table or json") {
		t.Errorf("bad -o: %q", errOut)
	}
	if errOut := c.fails(2, "licenses", "frobnicate"); !strings.Contains(errOut, `unknown command "licenses frobnicate"`) {
		t.Errorf("unknown verb: %q", errOut)
	}
	if errOut := c.fails(2, "licenses", "list", "-bogus"); !strings.Contains(errOut, "flag provided but not defined: -bogus") {
		t.Errorf("unknown flag: %q", errOut)
	}
	if errOut := c.fails(2, "licenses", "list", "extra"); !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("extra argument: %q", errOut)
	}
	if errOut := c.fails(2, "machines"); !strings.Contains(errOut, "narcidi machines reset-heartbeat ID") {
		t.Errorf("no verb: %q", errOut)
	}
	if code, out, _ := c.run("tokens", "help"); code != 0 || !strings.Contains(out, "narcidi tokens create -name N") {
		t.Errorf("tokens help: %d %s", code, out)
	}
	if code, _, errOut := c.run("licenses", "extend", "-h"); code != 0 || !strings.Contains(errOut, "-by") || strings.Contains(errOut, adminToken) {
		t.Errorf("extend -h: %d %s", code, errOut)
	}
	if code, out, _ := c.run("help"); code != 0 || !strings.Contains(out, "narcidi licenses") {
		t.Errorf("help: %d %s", code, out)
	}
	// A server that is not Narcidi: the status and the start of the body.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway\x1b[31m", http.StatusBadGateway)
	}))
	defer other.Close()
	if errOut := c.with("NARCIDI_URL", other.URL).fails(1, "customers", "list"); errOut != "narcidi: 502: bad gateway [31m\n" {
		t.Errorf("not a problem: %q", errOut)
	}
	// Nothing listening.
	other.Close()
	if errOut := c.with("NARCIDI_URL", other.URL).fails(1, "customers", "list"); !strings.HasPrefix(errOut, "narcidi: Get ") {
		t.Errorf("no server: %q", errOut)
	}
}

// Creating commands send a random Idempotency-Key, or the one given, so a
// retry with the same key replays the first answer instead of creating twice.
func TestCLIIdempotency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		w.Write([]byte(`{"id":"c1","name":"x","email":"","status":"active"}`))
	}))
	defer rec.Close()
	c := cliEnv{t, map[string]string{"NARCIDI_URL": rec.URL, "NARCIDI_TOKEN": "tok"}}
	c.ok("customers", "create", "-name", "x")
	c.ok("customers", "create", "-name", "x")
	c.ok("customers", "list")
	mu.Lock()
	k1, k2 := seen[0].Get("Idempotency-Key"), seen[1].Get("Idempotency-Key")
	if len(k1) < 16 || k1 == k2 || seen[2].Get("Idempotency-Key") != "" {
		t.Errorf("Idempotency-Key %q, %q, %q", k1, k2, seen[2].Get("Idempotency-Key"))
	}
	if seen[0].Get("Authorization") != "Bearer tok" || seen[0].Get("Content-Type") != "application/json" || seen[2].Get("Content-Type") != "" {
		t.Errorf("headers %v / %v", seen[0], seen[2])
	}
	mu.Unlock()

	app := startApp(t, "sqlite")
	real := newCLI(t, app)
	var a, b struct{ ID string }
	real.json(&a, "customers", "create", "-name", "Once", "-idempotency-key", "retry-1")
	real.json(&b, "customers", "create", "-name", "Once", "-idempotency-key", "retry-1")
	if a.ID == "" || a.ID != b.ID {
		t.Errorf("a retry with the same key created %s and %s", a.ID, b.ID)
	}
	if rows := table(t, real.ok("customers", "list")); len(rows) != 1 {
		t.Errorf("customers after a retry: %v", rows)
	}
}

// The typed client against the real server: domain inputs in, domain types
// out, and the server's error codes back as licensing codes.
func TestAPIClientAgainstServer(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	ctx := context.Background()
	c, err := apiclient.New(app.URL(), adminToken)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := c.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := c.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Pro", MaxMachines: 1, LeaseTTLSeconds: 3600, DurationSeconds: 86400})
	if err != nil {
		t.Fatal(err)
	}
	cus, err := c.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "it@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: cus.ID, Name: "seat"})
	if err != nil || !strings.HasPrefix(created.Key, "NZL-") || created.PolicyID != pol.ID {
		t.Fatalf("create license: %+v %v", created, err)
	}
	extended, err := c.ExtendLicense(ctx, created.ID, licensing.ExtendInput{DurationSeconds: 86400, Reason: "renewal"})
	if err != nil || extended.ExpiresAt == nil || created.ExpiresAt == nil || extended.ExpiresAt.Sub(*created.ExpiresAt) != 24*time.Hour {
		t.Fatalf("extend: %+v %v", extended, err)
	}
	got, err := c.GetLicense(ctx, created.ID)
	if err != nil || got.ID != created.ID || !got.ExpiresAt.Equal(*extended.ExpiresAt) || got.Name != "seat" {
		t.Fatalf("get: %+v %v", got, err)
	}
	page, err := c.ListLicenses(ctx, licensing.LicenseFilter{CustomerID: cus.ID}, licensing.Page{Limit: 1})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != created.ID || page.NextCursor != created.ID {
		t.Fatalf("list: %+v %v", page, err)
	}
	if l, err := c.SuspendLicense(ctx, created.ID, "test"); err != nil || l.Status != licensing.LicenseStatus("suspended") {
		t.Fatalf("suspend: %+v %v", l, err)
	}
	tok, err := c.CreateToken(ctx, licensing.TokenInput{Name: "ro", Role: licensing.RoleReadOnly})
	if err != nil || tok.Secret == "" || tok.Token.Name != "ro" {
		t.Fatalf("create token: %+v %v", tok, err)
	}
	// Errors come back with the domain's codes.
	cases := []struct {
		name string
		call func() error
		code licensing.Code
	}{
		{"unknown license", func() error { _, err := c.GetLicense(ctx, "0190a8e8-0000-7000-8000-000000000000"); return err }, licensing.ENotFound},
		{"bad product code", func() error {
			_, err := c.CreateProduct(ctx, licensing.ProductInput{Code: "Not Valid", Name: "x"})
			return err
		}, licensing.EInvalid},
		{"duplicate product", func() error {
			_, err := c.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "x"})
			return err
		}, licensing.EConflict},
		{"read-only token writes", func() error {
			ro, _ := apiclient.New(app.URL(), tok.Secret)
			_, err := ro.CreateCustomer(ctx, licensing.CustomerInput{Name: "x"})
			return err
		}, licensing.EForbidden},
		{"wrong token", func() error {
			bad, _ := apiclient.New(app.URL(), "nzt_forged")
			_, err := bad.ListCustomers(ctx, licensing.Page{})
			return err
		}, licensing.EUnauthorized},
	}
	for _, tc := range cases {
		if err := tc.call(); licensing.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want code %s", tc.name, err, tc.code)
		}
	}
}

// TestCLIInPortuguese: with LANG=pt_BR.UTF-8 the CLI says its words in
// Brazilian Portuguese (pt_PT.UTF-8: European; NARCIDI_LANGUAGE first), and
// asks the server for the problems' details in it; what scripts read
// (JSON, ids, table headers, problem codes) stays as it is.
func TestCLIInPortuguese(t *testing.T) {
	app := startApp(t, "sqlite")
	en := newCLI(t, app)
	br := en.with("LANG", "pt_BR.UTF-8")
	pt := en.with("LC_ALL", "pt_PT.UTF-8").with("LANG", "en_US.UTF-8")

	var cus struct{ ID, Name string }
	br.json(&cus, "customers", "create", "-name", "Acme")
	if cus.ID == "" || cus.Name != "Acme" {
		t.Fatalf("-o json under pt_BR: %+v", cus)
	}
	out := br.ok("tokens", "create", "-name", "painel", "-role", "read-only")
	if row := oneRow(t, out); row["NAME"] != "painel" || !strings.Contains(out, "Token da API (só aparece esta vez: guarde já):\n\n    nzt_") {
		t.Errorf("token create under pt_BR:\n%s", out)
	}
	tok := oneRow(t, out)["ID"]
	if out := br.ok("tokens", "revoke", tok); out != "token "+tok+" revogado\n" {
		t.Errorf("revoke under pt_BR: %q", out)
	}
	br.json(&cus, "customers", "create", "-name", "Beta")
	if _, _, errOut := br.run("customers", "list", "-limit", "1"); !strings.Contains(errOut, "próximo cursor: ") {
		t.Errorf("next cursor under pt_BR: %q", errOut)
	}
	if _, _, errOut := pt.run("customers", "list", "-limit", "1"); !strings.Contains(errOut, "cursor seguinte: ") {
		t.Errorf("next cursor under pt_PT: %q", errOut)
	}
	for _, c := range []struct {
		cli  cliEnv
		code int
		args []string
		want string
	}{
		{br, 2, []string{"licenses", "list", "-o", "yaml"}, `-o precisa ser table ou json, não "yaml"`},
		{pt, 2, []string{"licenses", "list", "-o", "yaml"}, `-o tem de ser table ou json, não "yaml"`},
		{en.with("NARCIDI_LANGUAGE", "pt-PT").with("LANG", "pt_BR.UTF-8"), 2, []string{"licenses", "list", "-o", "yaml"}, `-o tem de ser table ou json`},
		{br, 2, []string{"licenses", "frobnicate"}, `comando desconhecido "licenses frobnicate"`},
		{br, 2, []string{"licenses", "get"}, "é preciso exatamente um argumento ID (foram dados 0)"},
		{br, 2, []string{"customers", "create", "-email", "x@y.test"}, "-name é obrigatório"},
		{br, 2, []string{"licenses", "extend", cus.ID, "-until", "2040-01-01T00:00:00Z", "-by", "1h"}, "indique -until ou -by, não ambos"},
		{br.with("NARCIDI_URL", ""), 1, []string{"customers", "list"}, "NARCIDI_URL não está definida"},
		// The server's detail follows the CLI's language; the code does not.
		{br, 1, []string{"licenses", "get", "0190a8e8-0000-7000-8000-000000000000"}, "narcidi: 404 not_found: Não encontrado. (pedido "},
		{en.with("LANG", "C.UTF-8"), 2, []string{"licenses", "list", "-o", "yaml"}, `-o must be table or json, not "yaml"`},
	} {
		if errOut := c.cli.fails(c.code, c.args...); !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %q, want %q", c.args, errOut, c.want)
		}
	}
	if errOut := pt.fails(1, "licenses", "get", "0190a8e8-0000-7000-8000-000000000000"); strings.Contains(errOut, "(request ") || !strings.Contains(errOut, " (pedido ") {
		t.Errorf("an API problem under pt_PT: %q", errOut)
	}
	// Table headers stay as scripts read them.
	if rows := table(t, br.ok("customers", "list")); len(rows) != 2 || rows[0]["NAME"] != "Acme" {
		t.Errorf("list under pt_BR: %v", rows)
	}
}
