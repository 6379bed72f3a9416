package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// The admin CLI: "narcidi <resource> <verb> [ID] [flags]" calls the admin
// REST API of a running server (NARCIDI_URL, NARCIDI_TOKEN) and prints the
// answer as a table or, with -o json, as the API's JSON, indented.
//
// Each verb is a row of cliVerbs: its route, its flags (query parameters or
// body fields) and how to print the answer; cliCall runs any of them.

// column is one column of a table: a JSON field of the object and its format.
type column struct {
	header, field string
	format        func(v any) string
}

var (
	licenseColumns = []column{{"ID", "id", plain}, {"STATUS", "status", plain}, {"CUSTOMER", "customer_id", plain},
		{"POLICY", "policy_id", plain}, {"EXPIRES", "expires_at", timestamp}, {"KEY", "key_hint", plain}}
	machineColumns = []column{{"ID", "id", plain}, {"LICENSE", "license_id", plain}, {"FINGERPRINT", "fingerprint", prefix(16)},
		{"HOSTNAME", "hostname", plain}, {"STATUS", "status", plain}, {"LAST HEARTBEAT", "last_heartbeat", timestamp}}
	customerColumns = []column{{"ID", "id", plain}, {"NAME", "name", plain}, {"EMAIL", "email", plain}, {"STATUS", "status", plain}}
	tokenColumns    = []column{{"ID", "id", plain}, {"NAME", "name", plain}, {"ROLE", "role", plain}, {"CUSTOMER", "customer_id", plain},
		{"EXPIRES", "expires_at", timestamp}, {"REVOKED", "revoked_at", timestamp}}
)

// field kinds: how a flag's text becomes a query parameter or a body field.
const (
	kindString   = iota
	kindTime     // RFC 3339
	kindDuration // Go duration ("720h") or whole days ("30d"), sent as seconds
	kindInt
)

// field is a flag of a verb and the query parameter or body field it fills.
type field struct {
	flag, name, help string
	kind             int
	required         bool
}

func reasonField() field {
	return field{flag: "reason", name: "reason", help: "why (recorded in the audit log)"}
}

var pageFields = []field{
	{flag: "limit", name: "limit", help: "page size, 1-200", kind: kindInt},
	{flag: "cursor", name: "cursor", help: "start after this id (the next cursor of the previous page)"},
}

func listFields(fs ...field) []field { return append(fs, pageFields...) }

// verb is one CLI command and the API call it makes.
type verb struct {
	usage   string // the words after the verb, e.g. "ID -customer ID [-reason R]"
	method  string
	path    string // "%s" is replaced by the ID argument
	query   []field
	body    []field // nil: no request body
	check   func(body map[string]any) error
	list    bool     // the answer is {"data": [...], "next_cursor": ...}
	columns []column // how to print the answer (or its object below)
	object  string   // the answer's field holding the object to print, if not the answer itself
	secret  string   // the answer's field shown only once
	label   string   // what the secret is, for the table output
	create  bool     // send an Idempotency-Key
	done    string   // printed for a 204 answer; "%s" is the ID
}

func (v verb) hasID() bool { return strings.Contains(v.path, "%s") }

var cliVerbs = map[string]map[string]verb{
	"licenses": {
		"list": {usage: "[-customer ID] [-product ID] [-policy ID] [-status S] [-expires-before RFC3339] [-limit N] [-cursor C]",
			method: "GET", path: "/v1/licenses", list: true, columns: licenseColumns, query: listFields(
				field{flag: "customer", name: "customer_id", help: "only this customer's licenses"},
				field{flag: "product", name: "product_id", help: "only this product's licenses"},
				field{flag: "policy", name: "policy_id", help: "only this policy's licenses"},
				field{flag: "status", name: "status", help: "active, suspended, expired or revoked"},
				field{flag: "expires-before", name: "expires_before", help: "only licenses expiring before this time (RFC 3339)", kind: kindTime})},
		"get": {usage: "ID", method: "GET", path: "/v1/licenses/%s", columns: licenseColumns},
		"create": {usage: "-policy ID -customer ID [-key K] [-name N] [-expires-at RFC3339]", method: "POST", path: "/v1/licenses",
			columns: licenseColumns, secret: "key", label: "License key", create: true, body: []field{
				{flag: "policy", name: "policy_id", help: "the policy (plan)", required: true},
				{flag: "customer", name: "customer_id", help: "the customer", required: true},
				{flag: "key", name: "key", help: "the license key (default: generated)"},
				{flag: "name", name: "name", help: "a name for the license"},
				{flag: "expires-at", name: "expires_at", help: "expiry (RFC 3339; default: from the policy's duration)", kind: kindTime}}},
		"suspend":   licenseAction("suspend"),
		"reinstate": licenseAction("reinstate"),
		"revoke":    licenseAction("revoke"),
		"extend": {usage: "ID [-until RFC3339 | -by DURATION] [-reason R]", method: "POST", path: "/v1/licenses/%s/actions/extend",
			columns: licenseColumns, check: atMostOne("until", "expires_at", "by", "duration_seconds"), body: []field{
				{flag: "until", name: "expires_at", help: "the new expiry (RFC 3339)", kind: kindTime},
				{flag: "by", name: "duration_seconds", help: "move the expiry later by this long (720h, 30d); with neither flag, by the policy's duration", kind: kindDuration},
				reasonField()}},
		"transfer": {usage: "ID -customer ID [-reason R]", method: "POST", path: "/v1/licenses/%s/actions/transfer", columns: licenseColumns,
			body: []field{{flag: "customer", name: "customer_id", help: "the new customer", required: true}, reasonField()}},
		"change-policy": {usage: "ID -policy ID [-reason R]", method: "POST", path: "/v1/licenses/%s/actions/change-policy", columns: licenseColumns,
			body: []field{{flag: "policy", name: "policy_id", help: "the new policy, of the same product", required: true}, reasonField()}},
	},
	"machines": {
		"list": {usage: "[-license ID] [-customer ID] [-status S] [-limit N] [-cursor C]", method: "GET", path: "/v1/machines", list: true,
			columns: machineColumns, query: listFields(
				field{flag: "license", name: "license_id", help: "only this license's machines"},
				field{flag: "customer", name: "customer_id", help: "only this customer's machines"},
				field{flag: "status", name: "status", help: "active, offline or blocked"})},
		"get":             {usage: "ID", method: "GET", path: "/v1/machines/%s", columns: machineColumns},
		"deactivate":      {usage: "ID", method: "DELETE", path: "/v1/machines/%s", done: "machine %s deactivated; its seat is free"},
		"block":           {usage: "ID [-reason R]", method: "POST", path: "/v1/machines/%s/actions/block", columns: machineColumns, body: []field{reasonField()}, done: "machine %s blocked"},
		"unblock":         {usage: "ID [-reason R]", method: "POST", path: "/v1/machines/%s/actions/unblock", columns: machineColumns, body: []field{reasonField()}, done: "machine %s unblocked; it may activate again"},
		"reset-heartbeat": {usage: "ID", method: "POST", path: "/v1/machines/%s/actions/reset-heartbeat", columns: machineColumns, done: "heartbeat of machine %s reset"},
	},
	"customers": {
		"list": {usage: "[-limit N] [-cursor C]", method: "GET", path: "/v1/customers", list: true, columns: customerColumns, query: pageFields},
		"get":  {usage: "ID", method: "GET", path: "/v1/customers/%s", columns: customerColumns},
		"create": {usage: "-name N [-email E]", method: "POST", path: "/v1/customers", columns: customerColumns, create: true, body: []field{
			{flag: "name", name: "name", help: "the customer's name", required: true},
			{flag: "email", name: "email", help: "the customer's email address"}}},
	},
	"tokens": {
		"list": {usage: "[-limit N] [-cursor C]", method: "GET", path: "/v1/tokens", list: true, columns: tokenColumns, query: pageFields},
		"create": {usage: "-name N -role admin|support|read-only|customer [-customer ID] [-expires-at RFC3339]", method: "POST", path: "/v1/tokens",
			columns: tokenColumns, object: "token", secret: "secret", label: "API token", create: true, body: []field{
				{flag: "name", name: "name", help: "what the token is for", required: true},
				{flag: "role", name: "role", help: "admin, support, read-only or customer", required: true},
				{flag: "customer", name: "customer_id", help: "the customer (role customer only)"},
				{flag: "expires-at", name: "expires_at", help: "expiry (RFC 3339; default: never)", kind: kindTime}}},
		"revoke": {usage: "ID", method: "DELETE", path: "/v1/tokens/%s", done: "token %s revoked"},
	},
}

func licenseAction(action string) verb {
	return verb{usage: "ID [-reason R]", method: "POST", path: "/v1/licenses/%s/actions/" + action, columns: licenseColumns, body: []field{reasonField()}}
}

func atMostOne(flagA, nameA, flagB, nameB string) func(map[string]any) error {
	return func(body map[string]any) error {
		if _, a := body[nameA]; a {
			if _, b := body[nameB]; b {
				return fmt.Errorf("give -%s or -%s, not both", flagA, flagB)
			}
		}
		return nil
	}
}

const cliUsageHead = `Admin commands call the REST API of a running server, set by NARCIDI_URL and
NARCIDI_TOKEN (or the -url and -token flags of every command). Output is a
table, or the API's JSON with -o json.

`

// cliUsage lists a resource's verbs.
func cliUsage(w io.Writer, resource string) {
	fmt.Fprintf(w, "Usage:\n")
	verbs := cliVerbs[resource]
	for _, name := range slices.Sorted(maps.Keys(verbs)) {
		fmt.Fprintf(w, "  narcidi %s %s %s\n", resource, name, verbs[name].usage)
	}
	fmt.Fprintf(w, "\n%sRun \"narcidi %s <verb> -h\" for a verb's flags.\n", cliUsageHead, resource)
}

// cli runs "narcidi <resource> ..." and returns the exit code: 0 done,
// 1 the call failed (or the configuration is missing), 2 a bad command line.
func cli(ctx context.Context, resource string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		w, code := stderr, 2
		if len(args) > 0 {
			w, code = stdout, 0
		}
		cliUsage(w, resource)
		return code
	}
	name := args[0]
	v, ok := cliVerbs[resource][name]
	if !ok {
		fmt.Fprintf(stderr, "narcidi: unknown command %q\n\n", resource+" "+name)
		cliUsage(stderr, resource)
		return 2
	}
	cmd := "narcidi " + resource + " " + name
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s\n\n", cmd, v.usage)
		fs.PrintDefaults()
	}
	// The defaults are read after parsing so that -h does not print the token.
	caller := apiFlags(fs, getenv)
	output := fs.String("o", "table", "output: table or json")
	var idemKey *string
	if v.create {
		idemKey = fs.String("idempotency-key", "", "the Idempotency-Key to send (default: random); reuse one to retry safely")
	}
	values := map[string]*string{}
	for _, f := range append(append([]field(nil), v.query...), v.body...) {
		help := f.help
		if f.required {
			help += " (required)"
		}
		values[f.flag] = fs.String(f.flag, "", help)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2 // the flag package has said why
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, fmt.Sprintf(format, a...))
		fs.Usage()
		return 2
	}
	wantArgs := 0
	if v.hasID() {
		wantArgs = 1
	}
	if len(pos) != wantArgs {
		if wantArgs == 1 {
			return usageErr("want one ID argument, got %d arguments", len(pos))
		}
		return usageErr("unexpected argument %q", pos[0])
	}
	if *output != "table" && *output != "json" {
		return usageErr("-o must be table or json, not %q", *output)
	}
	query := url.Values{}
	for _, f := range v.query {
		val, err := convert(f, *values[f.flag])
		if err != nil {
			return usageErr("%v", err)
		}
		if val != nil {
			query.Set(f.name, fmt.Sprint(val))
		}
	}
	var body map[string]any
	if v.body != nil {
		body = map[string]any{}
		for _, f := range v.body {
			val, err := convert(f, *values[f.flag])
			if err != nil {
				return usageErr("%v", err)
			}
			if val != nil {
				body[f.name] = val
			}
		}
		if v.check != nil {
			if err := v.check(body); err != nil {
				return usageErr("%v", err)
			}
		}
	}
	c, err := caller()
	if err != nil {
		fmt.Fprintf(stderr, "narcidi: %v\n", err)
		return 1
	}
	path := v.path
	if v.hasID() {
		if pos[0] == "" {
			return usageErr("the ID is empty")
		}
		path = fmt.Sprintf(v.path, url.PathEscape(pos[0]))
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	header := http.Header{}
	if v.create {
		key := *idemKey
		if key == "" {
			key = randomKey()
		}
		header.Set("Idempotency-Key", key)
	}
	var reqBody any // a nil map in an interface is not nil: "null" would be sent
	if body != nil {
		reqBody = body
	}
	status, answer, err := c.do(ctx, v.method, path, reqBody, header)
	if err != nil {
		fmt.Fprintf(stderr, "narcidi: %v\n", err)
		return 1
	}
	if err := printAnswer(v, pos, status, answer, *output == "json", stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "narcidi: %v\n", err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("suspend ID -reason x" and "suspend -reason x ID").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// convert checks a flag's text and returns the value to send, nil if unset.
func convert(f field, s string) (any, error) {
	if s == "" {
		if f.required {
			return nil, fmt.Errorf("-%s is required", f.flag)
		}
		return nil, nil
	}
	switch f.kind {
	case kindTime:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("-%s: want an RFC 3339 time like 2026-01-31T00:00:00Z, got %q", f.flag, s)
		}
		return t.Format(time.RFC3339Nano), nil
	case kindDuration:
		d, err := parseDuration(s)
		if err != nil || d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("-%s: want a positive duration in whole seconds like 720h or 30d, got %q", f.flag, s)
		}
		return int64(d / time.Second), nil
	case kindInt:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: want a positive number, got %q", f.flag, s)
		}
		return n, nil
	}
	return s, nil
}

// parseDuration is time.ParseDuration plus whole days: "30d".
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// apiCaller makes authenticated calls to the admin API.
type apiCaller struct {
	base, token string
	client      *http.Client
}

// apiFlags registers -url and -token on fs. The function it returns, called
// after fs.Parse, builds the checked caller; the flags win over NARCIDI_URL
// and NARCIDI_TOKEN, which are read only then so that -h does not print the
// token.
func apiFlags(fs *flag.FlagSet, getenv func(string) string) func() (*apiCaller, error) {
	baseURL := fs.String("url", "", "the server's base URL (default $NARCIDI_URL)")
	token := fs.String("token", "", "the API token (secret, never shown; default $NARCIDI_TOKEN)")
	return func() (*apiCaller, error) {
		if *baseURL == "" {
			*baseURL = getenv("NARCIDI_URL")
		}
		if *token == "" {
			*token = getenv("NARCIDI_TOKEN")
		}
		c := &apiCaller{base: strings.TrimRight(*baseURL, "/"), token: *token}
		return c, c.validate()
	}
}

func (c *apiCaller) validate() error {
	if c.base == "" {
		return errors.New("NARCIDI_URL is not set: set it (or -url) to the server's address, e.g. http://127.0.0.1:8080")
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("NARCIDI_URL %q is not an http(s) URL like http://127.0.0.1:8080", c.base)
	}
	if c.token == "" {
		return errors.New("NARCIDI_TOKEN is not set: set it (or -token) to an API token (nzt_...)")
	}
	return nil
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 64 << 20

// do sends the request and returns a 2xx answer; any other answer is an
// error describing the API's problem.
func (c *apiCaller) do(ctx context.Context, method, path string, body any, header http.Header) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "narcidi-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.client
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, answer, nil
	}
	return 0, nil, problemError(resp, answer)
}

// problemError describes an error answer: "404 not_found: ... (request id)".
func problemError(resp *http.Response, answer []byte) error {
	var p struct {
		Title     string `json:"title"`
		Status    int    `json:"status"`
		Detail    string `json:"detail"`
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(answer, &p) != nil || p.Code == "" {
		// Not a problem of this API (a proxy in between, a wrong URL).
		text := strings.TrimSpace(string(answer))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("%d: %s", resp.StatusCode, clean(text))
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	id := p.RequestID
	if id == "" {
		id = resp.Header.Get("X-Request-ID")
	}
	return fmt.Errorf("%d %s: %s (request %s)", resp.StatusCode, clean(p.Code), clean(detail), clean(id))
}

// printAnswer prints a successful answer.
func printAnswer(v verb, pos []string, status int, answer []byte, asJSON bool, stdout, stderr io.Writer) error {
	if status == http.StatusNoContent || len(bytes.TrimSpace(answer)) == 0 {
		if !asJSON {
			msg := v.done
			if msg == "" {
				msg = "done"
			}
			if strings.Contains(msg, "%s") && len(pos) > 0 {
				msg = fmt.Sprintf(msg, clean(pos[0]))
			}
			fmt.Fprintln(stdout, msg)
		}
		return nil
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(answer))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return fmt.Errorf("the server answered something that is not a JSON object: %w", err)
	}
	if v.list {
		if next, _ := doc["next_cursor"].(string); next != "" {
			fmt.Fprintf(stderr, "next cursor: %s (pass -cursor %s for the next page)\n", clean(next), clean(next))
		}
	}
	if asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, answer, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	var rows []map[string]any
	switch {
	case v.list:
		items, _ := doc["data"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
	case v.object != "":
		m, _ := doc[v.object].(map[string]any)
		rows = append(rows, m)
	default:
		rows = append(rows, doc)
	}
	if err := printTable(stdout, v.columns, rows); err != nil {
		return err
	}
	if v.secret != "" {
		secret, _ := doc[v.secret].(string)
		fmt.Fprintf(stdout, "\n%s (shown only this once; store it now):\n\n    %s\n\n", v.label, clean(secret))
	}
	return nil
}

func printTable(w io.Writer, cols []column, rows []map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.header)
	}
	fmt.Fprintln(tw)
	for _, row := range rows {
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, clean(c.format(row[c.field])))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// Column formats.

func plain(v any) string {
	if v == nil {
		return "-"
	}
	s := fmt.Sprint(v)
	if s == "" {
		return "-"
	}
	return s
}

func timestamp(v any) string {
	s, _ := v.(string)
	if s == "" {
		return "-"
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.RFC3339)
	}
	return s
}

func prefix(n int) func(any) string {
	return func(v any) string {
		s := plain(v)
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	}
}

// clean keeps server-supplied text from breaking the table or the terminal:
// control characters (tabs, newlines, escapes) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
