package console

import (
	"html/template"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The catalog's pages: products, their policies (plans) and entitlements.
// Forms are read into a form, turned into the same inputs and patches as
// the API's JSON bodies and handed to licensing.Catalog: the rules live
// there, the pages only show what it answers next to the field it names.

var catalogRoutes = []Route{
	{"products", "GET", "/products", licensing.ReadCatalog, (*Console).products},
	{"productNew", "GET", "/products/new", licensing.WriteCatalog, (*Console).productNew},
	{"productCreate", "POST", "/products", licensing.WriteCatalog, (*Console).productCreate},
	{"product", "GET", "/products/:id", licensing.ReadCatalog, (*Console).product},
	{"productUpdate", "POST", "/products/:id", licensing.WriteCatalog, (*Console).productUpdate},
	{"policies", "GET", "/policies", licensing.ReadCatalog, (*Console).policies},
	{"policyNew", "GET", "/policies/new", licensing.WriteCatalog, (*Console).policyNew},
	{"policyCreate", "POST", "/policies", licensing.WriteCatalog, (*Console).policyCreate},
	{"policy", "GET", "/policies/:id", licensing.ReadCatalog, (*Console).policy},
	{"policyUpdate", "POST", "/policies/:id", licensing.WriteCatalog, (*Console).policyUpdate},
	{"entitlements", "GET", "/entitlements", licensing.ReadCatalog, (*Console).entitlements},
	{"entitlementCreate", "POST", "/entitlements", licensing.WriteCatalog, (*Console).entitlementCreate},
	{"entitlement", "GET", "/entitlements/:id", licensing.ReadCatalog, (*Console).entitlement},
	{"entitlementUpdate", "POST", "/entitlements/:id", licensing.WriteCatalog, (*Console).entitlementUpdate},
	{"entitlementRetire", "POST", "/entitlements/:id/retire", licensing.WriteCatalog, (*Console).entitlementRetire},
}

// form is what a form page shows: the values entered (kept when the
// service refuses them), the error and the field it is about.
type form struct {
	Values map[string]string
	Multi  map[string][]string
	Error  string
	Field  string
	// Detail is the domain's English message under Error, on English
	// pages only.
	Detail string
	pr     *i18n.Printer // the reader's, for Error
}

// V is the value of field name.
func (f form) V(name string) string { return f.Values[name] }

// Has reports whether the multi-valued field name (checkboxes) holds v.
func (f form) Has(name, v string) bool { return slices.Contains(f.Multi[name], v) }

// Bad reports whether the error is about field name.
func (f form) Bad(name string) bool { return f.Error != "" && f.Field == name }

// readForm reads the single-valued fields and the multi-valued ones of
// the posted form.
func readForm(c *fiber.Ctx, single, multi []string) form {
	f := form{Values: map[string]string{}, Multi: map[string][]string{}, pr: printer(c)}
	for _, n := range single {
		f.Values[n] = strings.TrimSpace(c.FormValue(n))
	}
	args := c.Request().PostArgs()
	for _, n := range multi {
		for _, v := range args.PeekMulti(n) {
			f.Multi[n] = append(f.Multi[n], string(v))
		}
	}
	return f
}

// formStatus is the status of a form refused by the service: the API's,
// except that a missing thing the form refers to (a policy, a customer) is
// the form's mistake, not a missing page.
func formStatus(err error) int {
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return fiber.StatusUnprocessableEntity
	}
	return api.Status(err)
}

// refused reports whether err is one the form shows next to its fields
// (the caller's mistake), rather than an error page.
func refused(err error) bool {
	switch licensing.ErrorCode(err) {
	case licensing.EInvalid, licensing.ENotFound, licensing.EConflict, licensing.ESeatLimit:
		return true
	}
	return false
}

// withError sets the service's refusal on the form: a sentence in the
// reader's words naming the form's field (webui.FormError, the label
// "field.<form field>"), with the service's message in the form's units
// as the detail of English pages.
func (f *form) withError(err error, fields map[string]string) {
	f.Field = formField(err, fields)
	if f.pr == nil {
		f.pr = i18n.For("", "")
	}
	label := webui.FieldLabel(err)
	if f.Field != "" && i18n.Has("field."+f.Field) {
		label = "field." + f.Field
	}
	f.Error = webui.FormError(f.pr, err, label)
	if f.pr.Lang() == i18n.English {
		f.Detail = inFormUnits(licensing.ErrorMessage(err))
	}
}

// apiUnits are the API's fields in seconds, as the policy form shows them.
var apiUnits = []struct {
	field, label string
	unit         int64
}{
	{"duration_seconds", "Duration (days)", day},
	{"lease_ttl_seconds", "Lease lifetime (minutes)", minute},
	{"heartbeat_window_seconds", "Heartbeat window (minutes)", minute},
	{"grace_seconds", "Grace (days)", day},
	{"offline_release_seconds", "Free an offline machine's seat after (hours)", hour},
}

var wholeNumber = regexp.MustCompile(`\b\d+\b`)

// inFormUnits says a service message about the API's seconds in the
// form's words: the fields by their labels and, when it is about one
// field, its numbers in that field's unit ("lease_ttl_seconds must be
// between 300 and 2592000" → "Lease lifetime (minutes) must be between 5
// and 43200").
func inFormUnits(msg string) string {
	var about []int64
	for _, u := range apiUnits {
		if strings.Contains(msg, u.field) {
			msg = strings.ReplaceAll(msg, u.field, u.label)
			about = append(about, u.unit)
		}
	}
	if len(about) != 1 {
		return msg
	}
	return wholeNumber.ReplaceAllStringFunc(msg, func(s string) string {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return s
		}
		return inUnit(n, about[0])
	})
}

// formField is the form's field an error is about: the field the error
// names (licensing.ErrorField, the problem's invalid_params, in the API's
// names) looked up in the form's table, whole or by its first segment
// ("entitlements.0" → entitlements, "contacts.1.email" → contacts), or
// kept when it is already one of the form's fields; nil fields: the form's
// fields are the API's names.
func formField(err error, fields map[string]string) string {
	ef := licensing.ErrorField(err)
	if ef == "" || fields == nil {
		return ef
	}
	head, _, _ := strings.Cut(ef, ".")
	for _, name := range []string{ef, head} {
		if v, ok := fields[name]; ok {
			return v
		}
	}
	for _, v := range fields {
		if v == ef {
			return v
		}
	}
	return ""
}

// invalid is a refusal of the page itself (a number that does not parse).
func (f *form) invalid(field, format string, args ...any) error {
	err := licensing.FieldErrorf(field, format, args...)
	f.withError(err, nil)
	return err
}

// number reads a non-negative decimal of field in unit seconds per unit
// (days, minutes), rounded to whole seconds; "" is 0.
func (f *form) number(field, label string, unit int64) (int64, error) {
	s := f.V(field)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v > float64(licensing.MaxDurationSeconds)/float64(unit) {
		return 0, f.invalid(field, "%s must be a number of at least 0", label)
	}
	return int64(math.Round(v * float64(unit))), nil
}

// inUnit shows seconds in unit (no trailing zeros).
func inUnit(seconds, unit int64) string {
	return strconv.FormatFloat(float64(seconds)/float64(unit), 'f', -1, 64)
}

// ---- products

type productsData struct {
	Products []licensing.Product
	Next     template.URL
	CanWrite bool
}

func (cn *Console) products(c *fiber.Ctx) error {
	ps, err := cn.cfg.Services.Catalog.Products(c.UserContext(), licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d := productsData{Products: ps, CanWrite: current(c).Actor.Allows(licensing.WriteCatalog)}
	if len(ps) > 0 {
		d.Next = nextPage(ps, func(p *licensing.Product) string { return p.ID }, url.Values{})
	}
	return cn.render(c, fiber.StatusOK, "products", "console.page.products", d)
}

// policyRow is a policy in a list, with its durations for people.
type policyRow struct{ licensing.Policy }

// Duration is the license duration in days ("" when licenses never expire).
func (p policyRow) Duration() string {
	if p.DurationSeconds == 0 {
		return ""
	}
	return inUnit(p.DurationSeconds, day)
}

// Lease is the lease lifetime in minutes.
func (p policyRow) Lease() string { return inUnit(p.LeaseTTLSeconds, minute) }

func policyRows(ps []licensing.Policy) []policyRow {
	rows := make([]policyRow, len(ps))
	for i, p := range ps {
		rows[i] = policyRow{p}
	}
	return rows
}

type productData struct {
	form
	Product    *licensing.Product
	Policies   []policyRow
	More       bool // the product has more policies than shown
	Saved      bool
	CanWrite   bool
	CanLicense bool
	Adoption   adoptionData
}

// productFields maps the API's fields (licensing.Error.Field) to the
// product form's: its metadata has no input of its own.
var productFields = map[string]string{"code": "code", "name": "name", "metadata": "name"}

func (cn *Console) productNew(c *fiber.Ctx) error {
	return cn.render(c, fiber.StatusOK, "product-form", "console.page.product_new", productData{form: form{Values: map[string]string{}}})
}

func (cn *Console) productCreate(c *fiber.Ctx) error {
	f := readForm(c, []string{"code", "name"}, nil)
	p, err := cn.cfg.Services.Catalog.CreateProduct(c.UserContext(), licensing.ProductInput{Code: f.V("code"), Name: f.V("name")})
	if refused(err) {
		f.withError(err, productFields)
		return cn.render(c, formStatus(err), "product-form", "console.page.product_new", productData{form: f})
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/products/"+p.ID+"?saved=1")
}

func (cn *Console) product(c *fiber.Ctx) error {
	p, err := cn.cfg.Services.Catalog.Product(c.UserContext(), c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.showProduct(c, fiber.StatusOK, p, form{Values: map[string]string{"name": p.Name}}, c.Query("saved") != "")
}

func (cn *Console) showProduct(c *fiber.Ctx, status int, p *licensing.Product, f form, saved bool) error {
	pols, err := cn.cfg.Services.Catalog.Policies(c.UserContext(), licensing.PolicyFilter{ProductID: p.ID}, licensing.Page{Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	adoption, err := cn.adoption(c, p.ID)
	if err != nil {
		return cn.fail(c, err)
	}
	a := current(c).Actor
	return cn.render(c, status, "product", "console.page.product", productData{form: f, Product: p, Policies: policyRows(pols), More: len(pols) == PageSize, Saved: saved,
		CanWrite: a.Allows(licensing.WriteCatalog), CanLicense: a.Allows(licensing.WriteLicenses), Adoption: adoption})
}

func (cn *Console) productUpdate(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	f := readForm(c, []string{"name"}, nil)
	name := f.V("name")
	_, err := cn.cfg.Services.Catalog.UpdateProduct(ctx, id, licensing.ProductPatch{Name: &name})
	if refused(err) && licensing.ErrorCode(err) != licensing.ENotFound {
		p, gerr := cn.cfg.Services.Catalog.Product(ctx, id)
		if gerr != nil {
			return cn.fail(c, gerr)
		}
		f.withError(err, productFields)
		return cn.showProduct(c, formStatus(err), p, f, false)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/products/"+id+"?saved=1")
}

// ---- policies

type policiesData struct {
	Policies []policyRow
	Products []licensing.Product
	Product  string
	Next     template.URL
	CanWrite bool
}

func (cn *Console) policies(c *fiber.Ctx) error {
	ctx := c.UserContext()
	d := policiesData{Product: c.Query("product"), CanWrite: current(c).Actor.Allows(licensing.WriteCatalog)}
	ps, err := cn.cfg.Services.Catalog.Policies(ctx, licensing.PolicyFilter{ProductID: d.Product}, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Policies = policyRows(ps)
	if d.Products, err = cn.cfg.Services.Catalog.Products(ctx, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	if n := len(d.Policies); n > 0 {
		d.Next = nextPage(d.Policies, func(p *policyRow) string { return p.ID }, url.Values{"product": {d.Product}})
	}
	return cn.render(c, fiber.StatusOK, "policies", "console.page.policies", d)
}

type policyData struct {
	form
	Product      *licensing.Product
	Policy       *licensing.Policy // nil for a new one
	Entitlements []licensing.Entitlement
	Saved        bool
	CanWrite     bool
}

// The policy form's fields: durations are in days, minutes and hours for
// people; the service gets seconds.
var (
	policyFields = []string{"product_id", "name", "duration_days", "max_machines", "floating", "lease_ttl_minutes",
		"heartbeat_minutes", "grace_days", "expiry_action", "expiry_notice_days", "offline_release_hours",
		"trial_days", "trial_start", "dunning_days", "cancel_action", "refund_action", "dispute_action", "offline_max_days", // subscriptions.go
		"rule_matching", "rule_uniqueness", "rule_max_activations", "rule_max_deactivations", "rule_limit_period_hours",
		"rule_min_seat_hold_hours", "rule_overage_factor", "rule_overage_seats"} // activation rules (issue 27)
	// policyErrorFields maps the API's fields (licensing.Error.Field) to
	// the policy form's.
	policyErrorFields = map[string]string{
		"product_id": "product_id", "name": "name", "duration_seconds": "duration_days", "max_machines": "max_machines",
		"lease_ttl_seconds": "lease_ttl_minutes", "heartbeat_window_seconds": "heartbeat_minutes",
		"grace_seconds": "grace_days", "expiry_action": "expiry_action", "expiry_notice_days": "expiry_notice_days",
		"offline_release_seconds": "offline_release_hours", "entitlements": "entitlements",
		"metadata." + licensing.MetaTrialSeconds: "trial_days", "metadata." + licensing.MetaTrialStart: "trial_start",
		"metadata." + licensing.MetaDunningDays: "dunning_days", "metadata." + licensing.MetaCancelAction: "cancel_action",
		"metadata." + licensing.MetaRefundAction: "refund_action", "metadata." + licensing.MetaDisputeAction: "dispute_action",
		"metadata." + licensing.OfflineTTLMetadata: "offline_max_days",
		"rules.matching": "rule_matching", "rules.uniqueness": "rule_uniqueness", "rules.max_activations": "rule_max_activations",
		"rules.max_deactivations": "rule_max_deactivations", "rules.limit_period_seconds": "rule_limit_period_hours",
		"rules.min_seat_hold_seconds": "rule_min_seat_hold_hours", "rules.overage_factor": "rule_overage_factor",
		"rules.overage_seats": "rule_overage_seats",
	}
	// ruleFields are the form's fields of the policy's rules: a change to
	// any sends the rules as a whole.
	ruleFields = []string{"rule_matching", "rule_uniqueness", "rule_max_activations", "rule_max_deactivations",
		"rule_limit_period_hours", "rule_min_seat_hold_hours", "rule_overage_factor", "rule_overage_seats"}
)

const (
	day    = 86400
	hour   = 3600
	minute = 60
)

// policyValues are the form's values of an existing policy.
func policyValues(p *licensing.Policy) form {
	days := make([]string, len(p.ExpiryNoticeDays))
	for i, d := range p.ExpiryNoticeDays {
		days[i] = strconv.Itoa(d)
	}
	floating := ""
	if p.Floating {
		floating = "on"
	}
	return billingValues(form{Values: map[string]string{
		"product_id": p.ProductID, "name": p.Name, "duration_days": inUnit(p.DurationSeconds, day),
		"max_machines": strconv.Itoa(p.MaxMachines), "floating": floating, "lease_ttl_minutes": inUnit(p.LeaseTTLSeconds, minute),
		"heartbeat_minutes": inUnit(p.HeartbeatWindowSeconds, minute), "grace_days": inUnit(p.GraceSeconds, day),
		"expiry_action": string(p.ExpiryAction), "expiry_notice_days": strings.Join(days, ", "),
		"offline_release_hours": inUnit(p.OfflineReleaseSeconds, hour),
		"rule_matching":         string(p.Rules.Matching), "rule_uniqueness": string(p.Rules.Uniqueness),
		"rule_max_activations": strconv.Itoa(p.Rules.MaxActivations), "rule_max_deactivations": strconv.Itoa(p.Rules.MaxDeactivations),
		"rule_limit_period_hours": inUnit(p.Rules.LimitPeriodSeconds, hour), "rule_min_seat_hold_hours": inUnit(p.Rules.MinSeatHoldSeconds, hour),
		"rule_overage_factor": overageText(p.Rules.OverageFactor), "rule_overage_seats": strconv.Itoa(p.Rules.OverageSeats),
	}, Multi: map[string][]string{"entitlements": p.Entitlements}}, p.Metadata)
}

// policyInput reads the form into the API's input (what a new policy
// gets; for an edit, only the fields that changed are sent).
func policyInput(f *form) (licensing.PolicyInput, error) {
	in := licensing.PolicyInput{ProductID: f.V("product_id"), Name: f.V("name"), Floating: f.V("floating") != "",
		ExpiryAction: licensing.ExpiryAction(f.V("expiry_action")), Entitlements: f.Multi["entitlements"]}
	if in.Entitlements == nil {
		in.Entitlements = []string{}
	}
	var err error
	for _, n := range []struct {
		field, label string
		unit         int64
		dst          *int64
	}{
		{"duration_days", "Duration (days)", day, &in.DurationSeconds},
		{"lease_ttl_minutes", "Lease lifetime (minutes)", minute, &in.LeaseTTLSeconds},
		{"heartbeat_minutes", "Heartbeat window (minutes)", minute, &in.HeartbeatWindowSeconds},
		{"grace_days", "Grace (days)", day, &in.GraceSeconds},
		{"offline_release_hours", "Free an offline machine's seat after (hours)", hour, &in.OfflineReleaseSeconds},
	} {
		if *n.dst, err = f.number(n.field, n.label, n.unit); err != nil {
			return in, err
		}
	}
	if s := f.V("max_machines"); s != "" {
		if in.MaxMachines, err = strconv.Atoi(s); err != nil || in.MaxMachines < 1 {
			// 0 would be taken as the default (1): say so rather than save 1.
			return in, f.invalid("max_machines", "Seats must be a whole number of at least 1")
		}
	}
	notices := []int{}
	for _, s := range strings.FieldsFunc(f.V("expiry_notice_days"), func(r rune) bool { return r == ',' || r == ' ' }) {
		d, err := strconv.Atoi(s)
		if err != nil {
			return in, f.invalid("expiry_notice_days", "Expiry notices are whole numbers of days, separated by commas")
		}
		notices = append(notices, d)
	}
	in.ExpiryNoticeDays = &notices
	if in.Metadata, err = billingMetadata(f, nil); err != nil {
		return in, err
	}
	r := licensing.PolicyRules{Matching: licensing.MatchingRule(f.V("rule_matching")), Uniqueness: licensing.UniquenessScope(f.V("rule_uniqueness"))}
	for _, n := range []struct {
		field, label string
		dst          *int
	}{
		{"rule_max_activations", "Activations per period", &r.MaxActivations},
		{"rule_max_deactivations", "Deactivations per period", &r.MaxDeactivations},
		{"rule_overage_seats", "Overage seats", &r.OverageSeats},
	} {
		if s := f.V(n.field); s != "" {
			if *n.dst, err = strconv.Atoi(s); err != nil {
				return in, f.invalid(n.field, "%s must be a whole number", n.label)
			}
		}
	}
	if r.LimitPeriodSeconds, err = f.number("rule_limit_period_hours", "Limit period (hours)", hour); err != nil {
		return in, err
	}
	if r.MinSeatHoldSeconds, err = f.number("rule_min_seat_hold_hours", "Minimum seat hold (hours)", hour); err != nil {
		return in, err
	}
	if s := f.V("rule_overage_factor"); s != "" {
		if r.OverageFactor, err = strconv.ParseFloat(s, 64); err != nil {
			return in, f.invalid("rule_overage_factor", "Overage must be 1, 1.25, 1.5 or 2")
		}
	}
	in.Rules = &r
	return in, nil
}

// overageText shows an overage factor in the form (none: 1).
func overageText(f float64) string {
	if f == 0 {
		return "1"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// policyPatch is the patch of the fields of in whose form value differs
// from the policy's: a value the form shows rounded is not saved back
// unless someone changed it.
//
// One test per form field, alike by shape: each sets its own patch field.
func policyPatch(f form, old form, in licensing.PolicyInput) licensing.PolicyPatch {
	var p licensing.PolicyPatch
	changed := func(field string) bool { return f.V(field) != old.V(field) }
	if changed("name") {
		p.Name = &in.Name
	}
	if changed("duration_days") {
		p.DurationSeconds = &in.DurationSeconds
	}
	if changed("max_machines") {
		p.MaxMachines = &in.MaxMachines
	}
	if changed("floating") {
		p.Floating = &in.Floating
	}
	if changed("lease_ttl_minutes") {
		p.LeaseTTLSeconds = &in.LeaseTTLSeconds
	}
	if changed("heartbeat_minutes") {
		p.HeartbeatWindowSeconds = &in.HeartbeatWindowSeconds
	}
	if changed("grace_days") {
		p.GraceSeconds = &in.GraceSeconds
	}
	if changed("expiry_action") {
		p.ExpiryAction = &in.ExpiryAction
	}
	if changed("expiry_notice_days") {
		p.ExpiryNoticeDays = in.ExpiryNoticeDays
	}
	if changed("offline_release_hours") {
		p.OfflineReleaseSeconds = &in.OfflineReleaseSeconds
	}
	if !slices.Equal(f.Multi["entitlements"], old.Multi["entitlements"]) {
		p.Entitlements = &in.Entitlements
	}
	if slices.ContainsFunc(ruleFields, changed) {
		p.Rules = in.Rules
	}
	return p
}

// policyPage gathers what the policy form shows besides its values.
func (cn *Console) policyPage(c *fiber.Ctx, status int, d policyData) error {
	ctx := c.UserContext()
	productID := d.V("product_id")
	if d.Policy != nil {
		productID = d.Policy.ProductID
	}
	if productID != "" {
		if p, err := cn.cfg.Services.Catalog.Product(ctx, productID); err == nil {
			d.Product = p
		} else if licensing.ErrorCode(err) != licensing.ENotFound {
			return cn.fail(c, err)
		}
	}
	ents, err := cn.cfg.Services.Catalog.Entitlements(ctx, licensing.Page{Limit: licensing.MaxPageLimit})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Entitlements = withChosen(ents, d.Multi["entitlements"])
	d.CanWrite = current(c).Actor.Allows(licensing.WriteCatalog)
	title, name := "console.page.policy_new", ""
	if d.Policy != nil {
		title, name = "console.page.policy", d.Policy.Name
	}
	if d.Product == nil && d.Policy == nil {
		// A new policy without a product: choose one first.
		ps, err := cn.cfg.Services.Catalog.Products(ctx, licensing.Page{Limit: licensing.MaxPageLimit})
		if err != nil {
			return cn.fail(c, err)
		}
		return cn.render(c, status, "policy-product", title, policyProductData{form: d.form, Products: ps}, "name", name)
	}
	return cn.render(c, status, "policy", title, d, "name", name)
}

type policyProductData struct {
	form
	Products []licensing.Product
}

// withChosen adds to the entitlements offered the chosen codes past the
// first page, so that a policy's own entitlements are always shown.
func withChosen(ents []licensing.Entitlement, chosen []string) []licensing.Entitlement {
	for _, code := range chosen {
		if !slices.ContainsFunc(ents, func(e licensing.Entitlement) bool { return e.Code == code }) {
			ents = append(ents, licensing.Entitlement{Code: code, Name: code})
		}
	}
	return ents
}

func (cn *Console) policyNew(c *fiber.Ctx) error {
	f := form{Values: map[string]string{"product_id": c.Query("product"), "max_machines": "1", "lease_ttl_minutes": "1440",
		"heartbeat_minutes": "0", "duration_days": "365", "grace_days": "0", "expiry_action": string(licensing.ExpiryRestrict),
		"expiry_notice_days": "30, 7, 1", "offline_release_hours": "0"}}
	return cn.policyPage(c, fiber.StatusOK, policyData{form: f})
}

func (cn *Console) policyCreate(c *fiber.Ctx) error {
	f := readForm(c, policyFields, []string{"entitlements"})
	in, err := policyInput(&f)
	if err == nil {
		var p *licensing.Policy
		if p, err = cn.cfg.Services.Catalog.CreatePolicy(c.UserContext(), in); err == nil {
			return cn.redirect(c, Prefix+"/policies/"+p.ID+"?saved=1")
		}
		f.withError(err, policyErrorFields)
	}
	if !refused(err) {
		return cn.fail(c, err)
	}
	return cn.policyPage(c, formStatus(err), policyData{form: f})
}

func (cn *Console) policy(c *fiber.Ctx) error {
	p, err := cn.cfg.Services.Catalog.Policy(c.UserContext(), c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.policyPage(c, fiber.StatusOK, policyData{form: policyValues(p), Policy: p, Saved: c.Query("saved") != ""})
}

func (cn *Console) policyUpdate(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	p, err := cn.cfg.Services.Catalog.Policy(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	f := readForm(c, policyFields, []string{"entitlements"})
	f.Values["product_id"] = p.ProductID
	in, err := policyInput(&f)
	if err == nil {
		patch := policyPatch(f, policyValues(p), in)
		if billingChanged(f, policyValues(p)) {
			// The settings live in the metadata: the policy's other keys stay.
			md, _ := billingMetadata(&f, p.Metadata)
			patch.Metadata = &md
		}
		if _, err = cn.cfg.Services.Catalog.UpdatePolicy(ctx, id, patch); err == nil {
			return cn.redirect(c, Prefix+"/policies/"+id+"?saved=1")
		}
		f.withError(err, policyErrorFields)
	}
	if !refused(err) || licensing.ErrorCode(err) == licensing.ENotFound {
		return cn.fail(c, err)
	}
	return cn.policyPage(c, formStatus(err), policyData{form: f, Policy: p})
}

// ---- entitlements

type entitlementsData struct {
	form
	Entitlements []licensing.Entitlement
	Next         template.URL
	Created      string
	CanWrite     bool
}

var entitlementFields = map[string]string{"code": "code", "name": "name", "description": "description"}

func (cn *Console) entitlementList(c *fiber.Ctx, status int, f form) error {
	es, err := cn.cfg.Services.Catalog.Entitlements(c.UserContext(), licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d := entitlementsData{form: f, Entitlements: es, Created: c.Query("created"), CanWrite: current(c).Actor.Allows(licensing.WriteCatalog)}
	if n := len(es); n > 0 {
		d.Next = nextPage(es, func(e *licensing.Entitlement) string { return e.ID }, url.Values{})
	}
	return cn.render(c, status, "product-entitlements", "console.page.entitlements", d)
}

func (cn *Console) entitlements(c *fiber.Ctx) error {
	return cn.entitlementList(c, fiber.StatusOK, form{Values: map[string]string{}})
}

// entitlementCreate names a feature.
func (cn *Console) entitlementCreate(c *fiber.Ctx) error {
	f := readForm(c, []string{"code", "name", "description"}, nil)
	e, err := cn.cfg.Services.Catalog.CreateEntitlement(c.UserContext(),
		licensing.EntitlementInput{Code: f.V("code"), Name: f.V("name"), Description: f.V("description")})
	if refused(err) {
		f.withError(err, entitlementFields)
		return cn.entitlementList(c, formStatus(err), f)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/entitlements?created="+url.QueryEscape(e.Code))
}

type entitlementData struct {
	form
	Entitlement *licensing.Entitlement
	Saved       bool
	CanWrite    bool
}

func (cn *Console) entitlement(c *fiber.Ctx) error {
	e, err := cn.cfg.Services.Catalog.Entitlement(c.UserContext(), c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	f := form{Values: map[string]string{"name": e.Name, "description": e.Description}}
	return cn.showEntitlement(c, fiber.StatusOK, e, f, c.Query("saved") != "")
}

func (cn *Console) showEntitlement(c *fiber.Ctx, status int, e *licensing.Entitlement, f form, saved bool) error {
	return cn.render(c, status, "product-entitlement", "console.page.entitlement",
		entitlementData{form: f, Entitlement: e, Saved: saved, CanWrite: current(c).Actor.Allows(licensing.WriteCatalog)})
}

// entitlementUpdate renames or redescribes an entitlement; its code
// stays (policies, licenses and releases refer to it).
func (cn *Console) entitlementUpdate(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	f := readForm(c, []string{"name", "description"}, nil)
	name, desc := f.V("name"), f.V("description")
	_, err := cn.cfg.Services.Catalog.UpdateEntitlement(ctx, id, licensing.EntitlementPatch{Name: &name, Description: &desc})
	if refused(err) && licensing.ErrorCode(err) != licensing.ENotFound {
		e, gerr := cn.cfg.Services.Catalog.Entitlement(ctx, id)
		if gerr != nil {
			return cn.fail(c, gerr)
		}
		f.withError(err, entitlementFields)
		return cn.showEntitlement(c, formStatus(err), e, f, false)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/entitlements/"+id+"?saved=1")
}

// entitlementRetire retires an entitlement, confirmed first: every policy
// and license stops granting it.
func (cn *Console) entitlementRetire(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	e, err := cn.cfg.Services.Catalog.Entitlement(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: "retire", Target: printer(c).T("console.target.entitlement", "code", e.Code), Path: c.Path(), Cancel: Prefix + "/entitlements/" + id,
		NeedReason: true, Reason: reason(c), Detail: printer(c).T("console.detail.retire")}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	if _, err := cn.cfg.Services.Catalog.RetireEntitlement(ctx, id, cf.Reason); err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/entitlements/"+id+"?saved=1")
}
