package cli

import (
	"bytes"
	"context"
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

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// The admin CLI: "narcidi <resource> <verb> [ID] [flags]" calls the admin
// REST API of a running server (NARCIDI_URL, NARCIDI_TOKEN) through the
// typed client api/apiclient and prints the answer as a table or, with
// -o json, as the API's JSON, indented.
//
// Each verb is a row of cliVerbs: its flags and the client call it makes;
// cli runs any of them.

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
	meterColumns = []column{{"ID", "id", plain}, {"LICENSE", "license_id", plain}, {"ENTITLEMENT", "entitlement", plain},
		{"USES", "uses", plain}, {"MAX", "max_uses", plain}, {"TOTAL", "total", plain}, {"PERIOD START", "period_start", timestamp}}
	policyColumns       = []column{{"ID", "id", plain}, {"NAME", "name", plain}, {"ENTITLEMENTS", "entitlements", plain}}
	entitlementColumns  = []column{{"ID", "id", plain}, {"CODE", "code", plain}, {"NAME", "name", plain}, {"RETIRED", "retired_at", timestamp}}
	subscriptionColumns = []column{{"ID", "id", plain}, {"STATUS", "status", plain}, {"CUSTOMER", "customer_id", plain},
		{"POLICY", "policy_id", plain}, {"PERIOD END", "current_period_end", timestamp}, {"PAID THROUGH", "paid_through", timestamp},
		{"CANCEL AT END", "cancel_at_period_end", plain}, {"PROVIDER", "provider", plain}, {"LICENSES", "license_ids", joined}}
)

// field kinds: how a flag's text is checked and read.
const (
	kindString   = iota
	kindTime     // RFC 3339
	kindDuration // Go duration ("720h") or whole days ("30d"), sent as seconds
	kindInt
)

// field is a flag of a verb.
type field struct {
	flag, help string
	kind       int
	required   bool
}

var reasonField = field{flag: "reason", help: "why (recorded in the audit log)"}

var pageFields = []field{
	{flag: "limit", help: "page size, 1-200", kind: kindInt},
	{flag: "cursor", help: "start after this id (the next cursor of the previous page)"},
}

func listFields(fs ...field) []field { return append(fs, pageFields...) }

// verbArgs are a verb's checked command line: its ID argument and its flags'
// values (strings, times, seconds, numbers, by flag name; absent when unset).
type verbArgs struct {
	id   string
	vals map[string]any
}

func (a verbArgs) str(flag string) string { s, _ := a.vals[flag].(string); return s }
func (a verbArgs) num(flag string) int64  { n, _ := a.vals[flag].(int64); return n }
func (a verbArgs) time(flag string) *time.Time {
	if t, ok := a.vals[flag].(time.Time); ok {
		return &t
	}
	return nil
}
func (a verbArgs) page() licensing.Page {
	return licensing.Page{After: a.str("cursor"), Limit: int(a.num("limit"))}
}

// verb is one CLI command and the client call it makes.
type verb struct {
	usage   string // the words after the verb, e.g. "ID -customer ID [-reason R]"
	hasID   bool   // takes one ID argument
	flags   []field
	check   func(a verbArgs) error
	call    func(ctx context.Context, c *apiclient.Client, a verbArgs, opts ...apiclient.Option) error
	list    bool     // the answer is {"data": [...], "next_cursor": ...}
	columns []column // how to print the answer (or its object below)
	object  string   // the answer's field holding the object to print, if not the answer itself
	secret  string   // the answer's field shown only once
	label   string   // catalog key of what the secret is, for the table output
	create  bool     // sends an Idempotency-Key (-idempotency-key, default random)
	done    string   // catalog key printed for an answer without a body ({id}: the ID); default "cli.done"
}

// ignore drops a typed answer: the CLI prints the raw answer it captured.
func ignore[T any](_ *T, err error) error { return err }

// cliVerbs' entries are alike by shape (usage, columns, flags, one call
// of the API client each): a table on purpose, one row per verb, whose
// shared handling is Run's.
var cliVerbs = map[string]map[string]verb{
	"licenses": {
		"list": {usage: "[-customer ID] [-product ID] [-policy ID] [-status S] [-expires-before RFC3339] [-limit N] [-cursor C]",
			list: true, columns: licenseColumns, flags: listFields(
				field{flag: "customer", help: "only this customer's licenses"},
				field{flag: "product", help: "only this product's licenses"},
				field{flag: "policy", help: "only this policy's licenses"},
				field{flag: "status", help: "active, suspended, expired or revoked"},
				field{flag: "expires-before", help: "only licenses expiring before this time (RFC 3339)", kind: kindTime}),
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListLicenses(ctx, licensing.LicenseFilter{CustomerID: a.str("customer"), ProductID: a.str("product"), PolicyID: a.str("policy"),
					Status: licensing.LicenseStatus(a.str("status")), ExpiresBefore: a.time("expires-before")}, a.page(), o...))
			}},
		"get": {usage: "ID", hasID: true, columns: licenseColumns, call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(c.GetLicense(ctx, a.id, o...))
		}},
		"create": {usage: "-policy ID -customer ID [-key K] [-name N] [-expires-at RFC3339] [overrides: -seats N -lease-ttl D ...]",
			columns: licenseColumns, secret: "key", label: "cli.label.license_key", create: true, flags: append([]field{
				{flag: "policy", help: "the policy (plan)", required: true},
				{flag: "customer", help: "the customer", required: true},
				{flag: "key", help: "the license key (default: generated)"},
				{flag: "name", help: "a name for the license"},
				{flag: "expires-at", help: "expiry (RFC 3339; default: from the policy's duration)", kind: kindTime}}, overrideFields...),
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				p, err := overridesPatch(a)
				if err != nil {
					return err
				}
				return ignore(c.CreateLicense(ctx, licensing.LicenseInput{PolicyID: a.str("policy"), CustomerID: a.str("customer"),
					Key: a.str("key"), Name: a.str("name"), ExpiresAt: a.time("expires-at"), Overrides: p.Input()}, o...))
			}},
		// Per-license overrides of the policy's rules: "none" clears one
		// (the policy's value applies again).
		"override": {usage: "ID [-seats N|none] [-lease-ttl D|none] [-heartbeat-window D|none] [-grace D|none] [-expiry-action restrict|allow|none] [-max-activations N|none] [-max-deactivations N|none] [-limit-period D|none] [-min-seat-hold D|none]",
			hasID: true, columns: licenseColumns, flags: overrideFields,
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				p, err := overridesPatch(a)
				if err != nil {
					return err
				}
				return ignore(c.UpdateLicense(ctx, a.id, licensing.LicensePatch{Overrides: &p}, o...))
			}},
		"suspend":   licenseAction((*apiclient.Client).SuspendLicense),
		"reinstate": licenseAction((*apiclient.Client).ReinstateLicense),
		"revoke":    licenseAction((*apiclient.Client).RevokeLicense),
		"extend": {usage: "ID [-until RFC3339 | -by DURATION] [-reason R]", hasID: true,
			columns: licenseColumns, check: atMostOne("until", "by"), flags: []field{
				{flag: "until", help: "the new expiry (RFC 3339)", kind: kindTime},
				{flag: "by", help: "move the expiry later by this long (720h, 30d); with neither flag, by the policy's duration", kind: kindDuration},
				reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ExtendLicense(ctx, a.id, licensing.ExtendInput{ExpiresAt: a.time("until"), DurationSeconds: a.num("by"), Reason: a.str("reason")}, o...))
			}},
		"transfer": {usage: "ID -customer ID [-reason R]", hasID: true, columns: licenseColumns,
			flags: []field{{flag: "customer", help: "the new customer", required: true}, reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.TransferLicense(ctx, a.id, a.str("customer"), a.str("reason"), o...))
			}},
		"change-policy": {usage: "ID -policy ID [-reason R]", hasID: true, columns: licenseColumns,
			flags: []field{{flag: "policy", help: "the new policy, of the same product", required: true}, reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ChangePolicy(ctx, a.id, a.str("policy"), a.str("reason"), o...))
			}},
		"entitlements": {usage: "ID [-attach CODE,CODE] [-detach CODE,CODE] [-reason R]", hasID: true, columns: licenseColumns,
			check: atLeastOne("attach", "detach"), flags: []field{
				{flag: "attach", help: "comma-separated entitlement codes to grant on top of the policy's"},
				{flag: "detach", help: "comma-separated entitlement codes the license itself grants, to take away"}, reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ChangeLicenseEntitlements(ctx, a.id, entitlementChange(a), o...))
			}},
		"meters": {usage: "ID", hasID: true, list: true, columns: meterColumns,
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListMeters(ctx, a.id, o...))
			}},
		"add-meter": {usage: "ID [-entitlement CODE] -max-uses N", hasID: true, columns: meterColumns, create: true, flags: []field{
			{flag: "entitlement", help: "the entitlement the meter counts (default: the license itself)"},
			{flag: "max-uses", help: "uses allowed per period (0: no bound)", kind: kindInt, required: true}},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.CreateMeter(ctx, a.id, licensing.MeterInput{Entitlement: a.str("entitlement"), MaxUses: a.num("max-uses")}, o...))
			}},
		// The key of a license a billing provider created is shown nowhere
		// else: this is how it is obtained.
		"rotate-key": {usage: "ID [-reason R]", hasID: true, columns: licenseColumns, secret: "key", label: "cli.label.new_license_key",
			create: true, flags: []field{reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.RotateLicenseKey(ctx, a.id, a.str("reason"), o...))
			}},
	},
	"subscriptions": {
		"list": {usage: "[-customer ID] [-status S] [-provider P] [-limit N] [-cursor C]", list: true,
			columns: subscriptionColumns, flags: listFields(
				field{flag: "customer", help: "only this customer's subscriptions"},
				field{flag: "status", help: "trialing, active, past_due, canceled or expired"},
				field{flag: "provider", help: "manual, stripe, generic..."}),
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListSubscriptions(ctx, subscription.Filter{CustomerID: a.str("customer"), Status: subscription.Status(a.str("status")),
					Provider: a.str("provider")}, a.page(), o...))
			}},
		"get": {usage: "ID", hasID: true, columns: subscriptionColumns, call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(c.GetSubscription(ctx, a.id, o...))
		}},
		"create": {usage: "-customer ID -policy ID [-interval month|year|days] [-interval-days N] [-licenses ID,ID]",
			columns: subscriptionColumns, secret: "license_key", label: "cli.label.license_key", create: true, flags: []field{
				{flag: "customer", help: "the customer", required: true},
				{flag: "policy", help: "the plan (a trial under a trial policy)", required: true},
				{flag: "interval", help: "billing period: month (default), year or days"},
				{flag: "interval-days", help: "the period's days (with -interval days)", kind: kindInt},
				{flag: "licenses", help: "comma-separated existing licenses of the customer under the policy to govern (default: one is created and its key shown once)"}},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				in := subscription.CreateInput{CustomerID: a.str("customer"), PolicyID: a.str("policy"),
					Interval: subscription.Interval(a.str("interval")), IntervalDays: int(a.num("interval-days"))}
				if in.Interval == "" {
					in.Interval = subscription.Month
				}
				for _, id := range strings.Split(a.str("licenses"), ",") {
					if id = strings.TrimSpace(id); id != "" {
						in.LicenseIDs = append(in.LicenseIDs, id)
					}
				}
				return ignore(c.CreateSubscription(ctx, in, o...))
			}},
		"change-plan": {usage: "ID -policy ID [-reason R]", hasID: true, columns: subscriptionColumns,
			flags: []field{{flag: "policy", help: "the new plan, of the same product (leaving a trial converts it to paid)", required: true}, reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ChangeSubscriptionPlan(ctx, a.id, subscription.ChangePlanInput{PolicyID: a.str("policy"), Reason: a.str("reason")}, o...))
			}},
		// -at is required: cancelling at once ends the licenses now, which
		// nobody should get by leaving a flag out.
		"cancel": {usage: "ID -at period-end|now [-reason R]", hasID: true, columns: subscriptionColumns,
			check: flagIn("at", "period-end", "now"), flags: []field{
				{flag: "at", help: "period-end (the licenses run to the end of the paid period) or now (they expire, or are revoked, per the policy)", required: true},
				reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.CancelSubscription(ctx, a.id, subscription.CancelInput{AtPeriodEnd: a.str("at") == "period-end", Reason: a.str("reason")}, o...))
			}},
		"resume": {usage: "ID [-reason R]", hasID: true, columns: subscriptionColumns, flags: []field{reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ResumeSubscription(ctx, a.id, a.str("reason"), o...))
			}},
	},
	"meters": {
		"get": {usage: "ID", hasID: true, columns: meterColumns, call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(c.GetMeter(ctx, a.id, o...))
		}},
		"set-max": {usage: "ID -max-uses N", hasID: true, columns: meterColumns, flags: []field{
			{flag: "max-uses", help: "uses allowed per period (0: no bound)", kind: kindInt, required: true}},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				n := a.num("max-uses")
				return ignore(c.UpdateMeter(ctx, a.id, licensing.MeterPatch{MaxUses: &n}, o...))
			}},
		"reset": {usage: "ID [-reason R]", hasID: true, columns: meterColumns, flags: []field{reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ResetMeter(ctx, a.id, a.str("reason"), o...))
			}},
	},
	"policies": {
		"entitlements": {usage: "ID [-attach CODE,CODE] [-detach CODE,CODE] [-reason R]", hasID: true, columns: policyColumns,
			check: atLeastOne("attach", "detach"), flags: []field{
				{flag: "attach", help: "comma-separated entitlement codes every license of the policy gets"},
				{flag: "detach", help: "comma-separated entitlement codes to take away from the policy"}, reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ChangePolicyEntitlements(ctx, a.id, entitlementChange(a), o...))
			}},
	},
	"entitlements": {
		"retire": {usage: "ID [-reason R]", hasID: true, columns: entitlementColumns, flags: []field{reasonField},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.RetireEntitlement(ctx, a.id, a.str("reason"), o...))
			}},
	},
	"machines": {
		"list": {usage: "[-license ID] [-customer ID] [-status S] [-limit N] [-cursor C]", list: true,
			columns: machineColumns, flags: listFields(
				field{flag: "license", help: "only this license's machines"},
				field{flag: "customer", help: "only this customer's machines"},
				field{flag: "status", help: "active, offline or blocked"}),
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListMachines(ctx, licensing.MachineFilter{LicenseID: a.str("license"), CustomerID: a.str("customer"),
					Status: licensing.MachineStatus(a.str("status"))}, a.page(), o...))
			}},
		"get": {usage: "ID", hasID: true, columns: machineColumns, call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(c.GetMachine(ctx, a.id, o...))
		}},
		"deactivate": {usage: "ID", hasID: true, done: "cli.done.machine_deactivated", call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return c.DeactivateMachine(ctx, a.id, o...)
		}},
		"block": {usage: "ID [-reason R]", hasID: true, columns: machineColumns, flags: []field{reasonField}, done: "cli.done.machine_blocked",
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.BlockMachine(ctx, a.id, a.str("reason"), o...))
			}},
		"unblock": {usage: "ID [-reason R]", hasID: true, columns: machineColumns, flags: []field{reasonField}, done: "cli.done.machine_unblocked",
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return c.UnblockMachine(ctx, a.id, a.str("reason"), o...)
			}},
		"reset-heartbeat": {usage: "ID", hasID: true, columns: machineColumns, done: "cli.done.heartbeat_reset",
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ResetHeartbeat(ctx, a.id, o...))
			}},
	},
	"customers": {
		"list": {usage: "[-limit N] [-cursor C]", list: true, columns: customerColumns, flags: pageFields,
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListCustomers(ctx, a.page(), o...))
			}},
		"get": {usage: "ID", hasID: true, columns: customerColumns, call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(c.GetCustomer(ctx, a.id, o...))
		}},
		"create": {usage: "-name N [-email E]", columns: customerColumns, create: true, flags: []field{
			{flag: "name", help: "the customer's name", required: true},
			{flag: "email", help: "the customer's email address"}},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.CreateCustomer(ctx, licensing.CustomerInput{Name: a.str("name"), Email: a.str("email")}, o...))
			}},
	},
	"tokens": {
		"list": {usage: "[-limit N] [-cursor C]", list: true, columns: tokenColumns, flags: pageFields,
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.ListTokens(ctx, a.page(), o...))
			}},
		"create": {usage: "-name N -role admin|support|read-only|customer [-customer ID] [-expires-at RFC3339]",
			columns: tokenColumns, object: "token", secret: "secret", label: "cli.label.api_token", create: true, flags: []field{
				{flag: "name", help: "what the token is for", required: true},
				{flag: "role", help: "admin, support, read-only or customer", required: true},
				{flag: "customer", help: "the customer (role customer only)"},
				{flag: "expires-at", help: "expiry (RFC 3339; default: never)", kind: kindTime}},
			call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
				return ignore(c.CreateToken(ctx, licensing.TokenInput{Name: a.str("name"), Role: licensing.Role(a.str("role")),
					CustomerID: a.str("customer"), ExpiresAt: a.time("expires-at")}, o...))
			}},
		"revoke": {usage: "ID", hasID: true, done: "cli.done.token_revoked", call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return c.RevokeToken(ctx, a.id, o...)
		}},
	},
}

// licenseAction is a verb "ID [-reason R]" on a license.
func licenseAction(action func(c *apiclient.Client, ctx context.Context, id, reason string, opts ...apiclient.Option) (*licensing.License, error)) verb {
	return verb{usage: "ID [-reason R]", hasID: true, columns: licenseColumns, flags: []field{reasonField},
		call: func(ctx context.Context, c *apiclient.Client, a verbArgs, o ...apiclient.Option) error {
			return ignore(action(c, ctx, a.id, a.str("reason"), o...))
		}}
}

// entitlementChange is the -attach, -detach and -reason of a verb.
func entitlementChange(a verbArgs) licensing.EntitlementChange {
	return licensing.EntitlementChange{Attach: splitList(a.str("attach")), Detach: splitList(a.str("detach")), Reason: a.str("reason")}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// atLeastOne checks that one of the flags is set.
func atLeastOne(flags ...string) func(verbArgs) error {
	return func(a verbArgs) error {
		for _, f := range flags {
			if a.str(f) != "" {
				return nil
			}
		}
		dashed := make(i18n.Or, len(flags))
		for i, f := range flags {
			dashed[i] = "-" + f
		}
		return i18n.Say("cli.set_one_of", "flags", dashed)
	}
}

// flagIn checks that a flag's value is one of values.
func flagIn(flag string, values ...string) func(verbArgs) error {
	return func(a verbArgs) error {
		if v := a.str(flag); !slices.Contains(values, v) {
			return i18n.Say("cli.flag_one_of", "flag", flag, "values", i18n.Or(values), "value", strconv.Quote(v))
		}
		return nil
	}
}

func atMostOne(flagA, flagB string) func(verbArgs) error {
	return func(a verbArgs) error {
		if _, ok := a.vals[flagA]; ok {
			if _, ok := a.vals[flagB]; ok {
				return i18n.Say("cli.not_both", "a", flagA, "b", flagB)
			}
		}
		return nil
	}
}

// cliUsage lists a resource's verbs.
func cliUsage(pr *i18n.Printer, w io.Writer, resource string) {
	fmt.Fprintf(w, "%s\n", pr.T("cli.usage"))
	verbs := cliVerbs[resource]
	for _, name := range slices.Sorted(maps.Keys(verbs)) {
		fmt.Fprintf(w, "  narcidi %s %s %s\n", resource, name, verbs[name].usage)
	}
	fmt.Fprintf(w, "\n%s\n\n%s\n", pr.T("cli.help.admin"), pr.T("cli.help.verb_flags", "resource", resource))
}

// Run runs "narcidi <resource> ..." and returns the exit code: 0 done,
// 1 the call failed (or the configuration is missing), 2 a bad command line.
func Run(ctx context.Context, resource string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	pr := Reader(getenv)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		w, code := stderr, 2
		if len(args) > 0 {
			w, code = stdout, 0
		}
		cliUsage(pr, w, resource)
		return code
	}
	name := args[0]
	v, ok := cliVerbs[resource][name]
	if !ok {
		fmt.Fprintf(stderr, "narcidi: %s\n\n", pr.T("cli.unknown_command", "command", strconv.Quote(resource+" "+name)))
		cliUsage(pr, stderr, resource)
		return 2
	}
	cmd := "narcidi " + resource + " " + name
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The defaults are read after parsing so that -h does not print the token.
	caller := apiFlags(fs, getenv)
	output := fs.String("o", "table", "output: table or json")
	var idemKey *string
	if v.create {
		idemKey = fs.String("idempotency-key", "", "the Idempotency-Key to send (default: random); reuse one to retry safely")
	}
	texts := map[string]*string{}
	for _, f := range v.flags {
		texts[f.flag] = fs.String(f.flag, "", f.help)
	}
	Localize(pr, fs, cmd+" "+v.usage, resource, name)
	for _, f := range v.flags {
		if f.required {
			fl := fs.Lookup(f.flag)
			fl.Usage = pr.T("cli.flag_required_help", "help", fl.Usage)
		}
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2 // the flag package has said why
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, msg)
		fs.Usage()
		return 2
	}
	wantArgs := 0
	if v.hasID {
		wantArgs = 1
	}
	if len(pos) != wantArgs {
		if wantArgs == 1 {
			return usageErr(pr.N("cli.want_one_id", len(pos)))
		}
		return usageErr(pr.T("cli.unexpected_argument", "argument", strconv.Quote(pos[0])))
	}
	if *output != "table" && *output != "json" {
		return usageErr(Words(pr, i18n.Say("cli.flag_one_of", "flag", "o", "values", i18n.Or{"table", "json"}, "value", strconv.Quote(*output))))
	}
	a := verbArgs{vals: map[string]any{}}
	for _, f := range v.flags {
		val, err := convert(f, *texts[f.flag])
		if err != nil {
			return usageErr(Words(pr, err))
		}
		if val != nil {
			a.vals[f.flag] = val
		}
	}
	if v.check != nil {
		if err := v.check(a); err != nil {
			return usageErr(Words(pr, err))
		}
	}
	if v.hasID {
		if a.id = pos[0]; a.id == "" {
			return usageErr(pr.T("cli.empty_id"))
		}
	}
	c, err := caller()
	if err != nil {
		fmt.Fprintf(stderr, "narcidi: %s\n", Words(pr, err))
		return 1
	}
	var answer apiclient.Answer
	opts := append([]apiclient.Option{apiclient.Capture(&answer)}, acceptLanguage(pr)...)
	if v.create && *idemKey != "" {
		opts = append(opts, apiclient.IdempotencyKey(*idemKey))
	}
	if err := v.call(ctx, c.api(), a, opts...); err != nil {
		fmt.Fprintf(stderr, "narcidi: %s\n", Words(pr, err))
		return 1
	}
	if err := printAnswer(pr, v, pos, answer.Status, answer.Body, *output == "json", stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "narcidi: %s\n", Words(pr, err))
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

// convert checks a flag's text and returns its value (string, time.Time,
// seconds or number as int64), nil if unset.
func convert(f field, s string) (any, error) {
	if s == "" {
		if f.required {
			return nil, i18n.Say("cli.flag_required", "flag", f.flag)
		}
		return nil, nil
	}
	switch f.kind {
	case kindTime:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, i18n.Say("cli.flag_time", "flag", f.flag, "value", strconv.Quote(s))
		}
		return t, nil
	case kindDuration:
		d, err := parseDuration(s)
		if err != nil || d < time.Second || d%time.Second != 0 {
			return nil, i18n.Say("cli.flag_duration", "flag", f.flag, "value", strconv.Quote(s))
		}
		return int64(d / time.Second), nil
	case kindInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return nil, i18n.Say("cli.flag_number", "flag", f.flag, "value", strconv.Quote(s))
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

// overrideFields are the flags of a license's overrides (create and
// override): text, read by overridesPatch, so that "none" can clear one.
var overrideFields = []field{
	{flag: "seats", help: "the license's own seat count (none: the policy's)"},
	{flag: "lease-ttl", help: "lease lifetime, e.g. 12h (none: the policy's)"},
	{flag: "heartbeat-window", help: "heartbeat window, e.g. 30m (none: the policy's)"},
	{flag: "grace", help: "grace after expiry, e.g. 7d (none: the policy's)"},
	{flag: "expiry-action", help: "restrict or allow (none: the policy's)"},
	{flag: "max-activations", help: "cap of activations per limit period, 0 for none (none: the policy's)"},
	{flag: "max-deactivations", help: "cap of deactivations per limit period, 0 for none (none: the policy's)"},
	{flag: "limit-period", help: "rolling period of both caps, e.g. 1h (none: the policy's)"},
	{flag: "min-seat-hold", help: "minimum time a seat is held before the app may free it, e.g. 1h (none: the policy's)"},
}

// overridesPatch reads the override flags: absent stays, "none" clears.
func overridesPatch(a verbArgs) (licensing.OverridesPatch, error) {
	var p licensing.OverridesPatch
	num := func(flag string, dst *licensing.Nullable[int]) error {
		s := a.str(flag)
		if s == "" || s == "none" {
			dst.Set = s == "none"
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return i18n.Say("cli.override_number", "flag", flag, "value", strconv.Quote(s))
		}
		*dst = licensing.Nullable[int]{Set: true, Value: &n}
		return nil
	}
	secs := func(flag string, dst *licensing.Nullable[int64]) error {
		s := a.str(flag)
		if s == "" || s == "none" {
			dst.Set = s == "none"
			return nil
		}
		d, err := parseDuration(s)
		if err != nil || d < 0 || d%time.Second != 0 {
			return i18n.Say("cli.override_duration", "flag", flag, "value", strconv.Quote(s))
		}
		n := int64(d / time.Second)
		*dst = licensing.Nullable[int64]{Set: true, Value: &n}
		return nil
	}
	if err := errors.Join(num("seats", &p.Seats), secs("lease-ttl", &p.LeaseTTLSeconds), secs("heartbeat-window", &p.HeartbeatWindowSeconds),
		secs("grace", &p.GraceSeconds), num("max-activations", &p.MaxActivations), num("max-deactivations", &p.MaxDeactivations),
		secs("limit-period", &p.LimitPeriodSeconds), secs("min-seat-hold", &p.MinSeatHoldSeconds)); err != nil {
		return p, err
	}
	if s := a.str("expiry-action"); s != "" {
		p.ExpiryAction.Set = true
		if s != "none" {
			act := licensing.ExpiryAction(s)
			p.ExpiryAction.Value = &act
		}
	}
	return p, nil
}

// randomKey is a fresh Idempotency-Key.
func randomKey() string { return apiclient.RandomKey() }

// apiCaller is the checked -url/-token of an admin command (the admin
// verbs, release publish, activate-offline).
type apiCaller struct {
	base, token string
	client      *http.Client // nil: the API client's default
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
		return i18n.Say("cli.no_url")
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return i18n.Say("cli.bad_url", "url", strconv.Quote(c.base))
	}
	if c.token == "" {
		return i18n.Say("cli.no_token")
	}
	return nil
}

// api is the typed API client of the caller (validate has passed).
func (c *apiCaller) api() *apiclient.Client {
	cl, err := apiclient.New(c.base, c.token)
	if err != nil {
		panic(err) // validate checked the same
	}
	cl.HTTP, cl.UserAgent = c.client, "narcidi-cli"
	return cl
}

// do sends one request through the API client and returns a 2xx answer;
// any other answer is an *apiclient.Error.
func (c *apiCaller) do(ctx context.Context, method, path string, body any, header http.Header) (int, []byte, error) {
	var answer apiclient.Answer
	if err := c.api().Do(ctx, method, path, body, nil, apiclient.Header(header), apiclient.Capture(&answer)); err != nil {
		return 0, nil, err
	}
	return answer.Status, answer.Body, nil
}

// printAnswer prints a successful answer.
func printAnswer(pr *i18n.Printer, v verb, pos []string, status int, answer []byte, asJSON bool, stdout, stderr io.Writer) error {
	if status == http.StatusNoContent || len(bytes.TrimSpace(answer)) == 0 {
		if !asJSON {
			key, id := v.done, ""
			if key == "" {
				key = "cli.done"
			}
			if len(pos) > 0 {
				id = apiclient.Clean(pos[0])
			}
			fmt.Fprintln(stdout, pr.T(key, "id", id))
		}
		return nil
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(answer))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return i18n.Say("cli.not_json", "error", err)
	}
	if v.list {
		if next, _ := doc["next_cursor"].(string); next != "" {
			fmt.Fprintln(stderr, pr.T("cli.next_cursor", "cursor", apiclient.Clean(next)))
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
	// A secret the answer does not hold (a subscription over existing
	// licenses creates no key) is not announced.
	if secret, _ := doc[v.secret].(string); v.secret != "" && secret != "" {
		fmt.Fprintf(stdout, "\n%s\n\n    %s\n\n", pr.T("cli.secret_once", "what", pr.T(v.label)), apiclient.Clean(secret))
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
			fmt.Fprint(tw, apiclient.Clean(c.format(row[c.field])))
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

// joined prints a list as comma-separated values.
func joined(v any) string {
	items, _ := v.([]any)
	if len(items) == 0 {
		return "-"
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprint(it)
	}
	return strings.Join(parts, ",")
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
