package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // time zones are checked and used on any host

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed catalogs/*.json
var catalogFS embed.FS

// English is the language every other falls back to, and the default
// until SetDefault.
const English = "en"

// Message is one catalog entry: a text, or plural forms by CLDR category
// ("one", "other", ...), of which "other" is required.
type Message struct {
	Text  string
	Forms map[string]string
}

// UnmarshalJSON reads "text" or {"one": "...", "other": "..."}.
func (m *Message) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &m.Text)
	}
	if err := json.Unmarshal(b, &m.Forms); err != nil {
		return err
	}
	if _, ok := m.Forms["other"]; !ok {
		return fmt.Errorf("plural message without an \"other\" form")
	}
	for k := range m.Forms {
		if !slices.Contains(formNames, k) {
			return fmt.Errorf("unknown plural form %q (want %s)", k, strings.Join(formNames, ", "))
		}
	}
	return nil
}

// Variants are the texts of m: its text, or each plural form.
func (m Message) Variants() []string {
	if m.Forms == nil {
		return []string{m.Text}
	}
	var out []string
	for _, k := range formNames {
		if v, ok := m.Forms[k]; ok {
			out = append(out, v)
		}
	}
	return out
}

var formNames = []string{"zero", "one", "two", "few", "many", "other"}

// Formats is how a language writes dates, numbers and money.
type Formats struct {
	// Months are the twelve month names as written inside a date.
	Months []string `json:"months"`
	// Date is the long date with {day}, {month}, {year}: "{day} de {month} de {year}".
	Date string `json:"date"`
	// Time is a Go layout of the time of day ("15:04").
	Time string `json:"time"`
	// DateTime joins them: "{date}, {time}".
	DateTime string `json:"datetime"`
	// Decimal and Group are the separators of numbers ("," and ".").
	Decimal string `json:"decimal"`
	Group   string `json:"group"`
	// Money places the amount and the currency symbol: "{amount} {symbol}".
	Money string `json:"money"`
}

// Catalog is one language's file.
type Catalog struct {
	// Language is the BCP 47 tag ("pt-PT"); the file is named after it.
	Language string `json:"language"`
	// Name is the language's name in itself, for language switches.
	Name string `json:"name"`
	// Base is the language whose messages and formats fill what this file
	// leaves out ("" for a complete catalog).
	Base     string             `json:"base,omitempty"`
	Formats  *Formats           `json:"formats,omitempty"`
	Messages map[string]Message `json:"messages"`

	tag language.Tag
}

// Language is a language readers may choose.
type Language struct {
	Code, Name string
}

var (
	catalogs  = map[string]*Catalog{}
	supported []language.Tag
	codes     []string
	matcher   language.Matcher
	fallback  atomic.Value // string: the server default
)

func init() {
	cats, err := load(catalogFS)
	if err != nil {
		panic(err)
	}
	for _, c := range cats {
		catalogs[c.Language] = c
		codes = append(codes, c.Language)
	}
	// English first: the matcher answers its first tag when nothing fits.
	sort.SliceStable(codes, func(i, j int) bool { return codes[i] == English || (codes[j] != English && codes[i] < codes[j]) })
	for _, c := range codes {
		supported = append(supported, catalogs[c].tag)
	}
	matcher = language.NewMatcher(supported)
	fallback.Store(English)
}

// load reads and checks every catalogs/*.json of fsys: the file's name is
// its language, every base exists, and English is complete.
func load(fsys fs.FS) ([]*Catalog, error) {
	names, err := fs.Glob(fsys, "catalogs/*.json")
	if err != nil {
		return nil, err
	}
	byCode := map[string]*Catalog{}
	var out []*Catalog
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		c := &Catalog{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", n, err)
		}
		if want := strings.TrimSuffix(path.Base(n), ".json"); c.Language != want {
			return nil, fmt.Errorf("i18n: %s says language %q: name the file after it", n, c.Language)
		}
		if c.tag, err = language.Parse(c.Language); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", n, err)
		}
		if c.Name == "" {
			return nil, fmt.Errorf("i18n: %s has no name", n)
		}
		byCode[c.Language] = c
		out = append(out, c)
	}
	en := byCode[English]
	if en == nil || en.Formats == nil {
		return nil, fmt.Errorf("i18n: catalogs/%s.json (with formats) is required", English)
	}
	for _, c := range out {
		seen := map[string]bool{}
		for b := c.Base; b != ""; b = byCode[b].Base {
			if byCode[b] == nil || seen[b] {
				return nil, fmt.Errorf("i18n: %s: base %q is not a catalog (or is a loop)", c.Language, b)
			}
			seen[b] = true
		}
		if c.Base == "" && c.Formats == nil {
			return nil, fmt.Errorf("i18n: %s: a catalog without a base needs formats", c.Language)
		}
	}
	return out, nil
}

// Languages lists the languages of the catalogs, English first.
func Languages() []Language {
	out := make([]Language, len(codes))
	for i, c := range codes {
		out[i] = Language{Code: c, Name: catalogs[c].Name}
	}
	return out
}

// Codes lists the languages' codes, English first.
func Codes() []string { return slices.Clone(codes) }

// Catalogs gives each language's catalog as its file says it (tests).
func Catalogs() map[string]*Catalog { return catalogs }

// Normalize checks a stored preference: "" (none) or a catalog's
// language, in any letter case ("PT-br" is "pt-BR"). The error lists the
// languages.
func Normalize(code string) (string, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return "", nil
	}
	for _, c := range codes {
		if strings.EqualFold(c, code) {
			return c, nil
		}
	}
	return "", fmt.Errorf("%q is not a language of this server (%s)", code, strings.Join(codes, ", "))
}

// NormalizeZone checks a stored time zone: "" (none: UTC) or an IANA name
// ("Africa/Luanda").
func NormalizeZone(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	if name == "Local" || len(name) > 64 {
		return "", fmt.Errorf("%q is not an IANA time zone name (like Africa/Luanda)", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return "", fmt.Errorf("%q is not an IANA time zone name (like Africa/Luanda)", name)
	}
	return name, nil
}

// SetDefault sets the server's default language (NARCIDI_DEFAULT_LANGUAGE),
// used when no preference and no Accept-Language match.
func SetDefault(code string) error {
	c, err := Normalize(code)
	if err != nil {
		return err
	}
	if c == "" {
		c = English
	}
	fallback.Store(c)
	return nil
}

// Default is the server's default language.
func Default() string { return fallback.Load().(string) }

// Choose picks the reader's language: the first of prefs that matches a
// catalog. A pref is a stored preference ("pt-BR") or an Accept-Language
// header ("pt-AO,pt;q=0.9,en;q=0.5"); empty ones are skipped. With none,
// the server default.
func Choose(prefs ...string) string {
	for _, p := range prefs {
		if c, ok := match(p); ok {
			return c
		}
	}
	return Default()
}

// match is the catalog language of a preference or Accept-Language
// header p, false when none fits.
func match(p string) (string, bool) {
	if strings.TrimSpace(p) == "" {
		return "", false
	}
	if c, err := Normalize(p); err == nil && c != "" {
		return c, true
	}
	tags, _, err := language.ParseAcceptLanguage(p)
	if err != nil || len(tags) == 0 {
		return "", false
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "", false
	}
	return codes[i], true
}

// FromEnv is the language of a command-line reader, from getenv
// (os.Getenv): NARCIDI_LANGUAGE, then the POSIX locale of messages (the
// first set of LC_ALL, LC_MESSAGES and LANG, as POSIX reads them:
// "pt_PT.UTF-8" is pt-PT), then NARCIDI_DEFAULT_LANGUAGE, then English.
// A value that names no language of the catalogs ("C", "fr_FR") is
// passed over.
func FromEnv(getenv func(string) string) string {
	prefs := []string{getenv("NARCIDI_LANGUAGE")}
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(name); v != "" {
			prefs = append(prefs, posixLanguage(v))
			break
		}
	}
	for _, p := range append(prefs, getenv("NARCIDI_DEFAULT_LANGUAGE")) {
		if c, ok := match(p); ok {
			return c
		}
	}
	return English
}

// posixLanguage turns a POSIX locale name (language[_territory][.codeset]
// [@modifier]) into a BCP 47 tag: "pt_BR.UTF-8" is "pt-BR"; "C" and
// "POSIX" name no language.
func posixLanguage(v string) string {
	v, _, _ = strings.Cut(v, "@")
	v, _, _ = strings.Cut(v, ".")
	if v == "C" || v == "POSIX" {
		return ""
	}
	return strings.ReplaceAll(v, "_", "-")
}

// Printer writes messages and values in one language and time zone. The
// zero value is not usable: get one with For.
type Printer struct {
	lang  string
	chain []*Catalog // the language, its bases, English
	fmt   *Formats
	loc   *time.Location
}

// For is the printer of lang (Choose's answer or a stored code; anything
// else is the default) in time zone zone (an IANA name; "" or a bad name
// is UTC).
func For(lang, zone string) *Printer {
	c, err := Normalize(lang)
	if err != nil || c == "" {
		c = Default()
	}
	p := &Printer{lang: c, loc: time.UTC}
	for code := c; code != ""; code = catalogs[code].Base {
		p.chain = append(p.chain, catalogs[code])
	}
	if c != English {
		p.chain = append(p.chain, catalogs[English])
	}
	for _, cat := range p.chain {
		if cat.Formats != nil {
			p.fmt = cat.Formats
			break
		}
	}
	if zone != "" {
		if loc, err := time.LoadLocation(zone); err == nil {
			p.loc = loc
		}
	}
	return p
}

// Lang is the printer's language code ("pt-BR"), for <html lang>.
func (p *Printer) Lang() string { return p.lang }

// Location is the printer's time zone.
func (p *Printer) Location() *time.Location { return p.loc }

func (p *Printer) lookup(key string) (Message, bool) {
	for _, c := range p.chain {
		if m, ok := c.Messages[key]; ok {
			return m, true
		}
	}
	return Message{}, false
}

// Has reports whether key is a message of the catalogs.
func Has(key string) bool {
	_, ok := catalogs[English].Messages[key]
	return ok
}

// T is the message key, as plain text, with its placeholders filled from args, given as
// name, value pairs: T("mail.subject.expired", "product", "Acme Pro"). A
// missing key is shown as "[key]" (the catalog test fails on any).
func (p *Printer) T(key string, args ...any) string {
	m, ok := p.lookup(key)
	if !ok {
		return "[" + key + "]"
	}
	return markup.ReplaceAllString(fill(m.Text, args, nil), "")
}

// markup is the few inline tags messages may hold for their HTML form
// (HTML, NHTML); T and N leave them out.
var markup = regexp.MustCompile(`</?(strong|code|em)>`)

// N is the plural message key for count n (placeholder {n}, written as a
// number of the language), with more args as for T.
func (p *Printer) N(key string, n int, args ...any) string {
	return markup.ReplaceAllString(fill(p.form(key, n), append([]any{"n", p.Int(n)}, args...), nil), "")
}

func (p *Printer) form(key string, n int) string {
	m, ok := p.lookup(key)
	if !ok {
		return "[" + key + "]"
	}
	if m.Forms == nil {
		return m.Text
	}
	tag, _ := language.Parse(p.lang)
	abs := n
	if abs < 0 {
		abs = -abs
	}
	f := formNames[formIndex(plural.Cardinal.MatchPlural(tag, abs, 0, 0, 0, 0))]
	if s, ok := m.Forms[f]; ok {
		return s
	}
	return m.Forms["other"]
}

func formIndex(f plural.Form) int {
	switch f {
	case plural.Zero:
		return 0
	case plural.One:
		return 1
	case plural.Two:
		return 2
	case plural.Few:
		return 3
	case plural.Many:
		return 4
	}
	return 5
}

// HTML is T for HTML: the message may hold markup (<strong>), the
// values are escaped unless they are template.HTML.
func (p *Printer) HTML(key string, args ...any) template.HTML {
	m, ok := p.lookup(key)
	if !ok {
		return template.HTML(html.EscapeString("[" + key + "]"))
	}
	return template.HTML(fill(m.Text, args, escape))
}

// NHTML is N for HTML.
func (p *Printer) NHTML(key string, n int, args ...any) template.HTML {
	return template.HTML(fill(p.form(key, n), append([]any{"n", p.Int(n)}, args...), escape))
}

func escape(v any) string {
	if h, ok := v.(template.HTML); ok {
		return string(h)
	}
	return html.EscapeString(fmt.Sprint(v))
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Placeholders lists the {names} of s, sorted, each once.
func Placeholders(s string) []string {
	found := placeholder.FindAllString(s, -1)
	slices.Sort(found)
	return slices.Compact(found)
}

func fill(s string, args []any, esc func(any) string) string {
	if len(args) == 0 {
		return s
	}
	vals := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		if esc != nil {
			vals[k] = esc(args[i+1])
		} else {
			vals[k] = fmt.Sprint(args[i+1])
		}
	}
	return placeholder.ReplaceAllStringFunc(s, func(ph string) string {
		if v, ok := vals[ph[1:len(ph)-1]]; ok {
			return v
		}
		return ph
	})
}

// Date is t's day in the printer's zone in words: "7 December 2026",
// "7 de dezembro de 2026".
func (p *Printer) Date(t time.Time) string {
	t = t.In(p.loc)
	return fill(p.fmt.Date, []any{"day", t.Day(), "month", p.fmt.Months[t.Month()-1], "year", t.Year()}, nil)
}

// Time is t's time of day in the printer's zone ("14:05").
func (p *Printer) Time(t time.Time) string { return t.In(p.loc).Format(p.fmt.Time) }

// DateTime is Date and Time with the zone's abbreviation: "7 de dezembro
// de 2026, 14:05 WAT".
func (p *Printer) DateTime(t time.Time) string {
	return fill(p.fmt.DateTime, []any{"date", p.Date(t), "time", p.Time(t)}, nil) + " " + t.In(p.loc).Format("MST")
}

// Int writes n with the language's group separator: "1.234" / "1,234".
func (p *Printer) Int(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(p.fmt.Group)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Decimal writes minor/10^digits with digits decimals: Decimal(123456, 2)
// is "1.234,56" in Portuguese.
func (p *Printer) Decimal(minor int64, digits int) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	div := int64(1)
	for range digits {
		div *= 10
	}
	s := p.Int(int(minor / div))
	if digits > 0 {
		s += p.fmt.Decimal + fmt.Sprintf("%0*d", digits, minor%div)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// currencies are the symbols and decimals of the currencies Narcidi
// writes; another ISO code is written as itself with 2 decimals.
var currencies = map[string]struct {
	symbol string
	digits int
}{
	"AOA": {"Kz", 2}, "BRL": {"R$", 2}, "EUR": {"€", 2}, "USD": {"US$", 2}, "MZN": {"MT", 2},
	"GBP": {"£", 2}, "CVE": {"CVE", 2}, "JPY": {"¥", 0},
}

// Money writes an amount in minor units (cents) of currency (ISO 4217):
// Money(123456, "AOA") is "1.234,56 Kz" in Portuguese, "Kz 1,234.56" in
// English.
func (p *Printer) Money(minor int64, currency string) string {
	currency = strings.ToUpper(currency)
	c, ok := currencies[currency]
	if !ok {
		c.symbol, c.digits = currency, 2
	}
	pattern := p.fmt.Money
	if r := []rune(c.symbol); strings.HasPrefix(pattern, "{symbol}{amount}") && isLetter(r[len(r)-1]) {
		pattern = strings.Replace(pattern, "{symbol}{amount}", "{symbol} {amount}", 1)
	}
	return fill(pattern, []any{"amount", p.Decimal(minor, c.digits), "symbol", c.symbol}, nil)
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// Duration says d in words: "15 minutes", "15 minutos", "1 hora", "3
// dias" (whole units: 90 minutes stay "90 minutes").
func (p *Printer) Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return p.N("unit.minutes", 0)
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return p.N("unit.days", int(d/(24*time.Hour)))
	case d%time.Hour == 0:
		return p.N("unit.hours", int(d/time.Hour))
	case d < time.Minute:
		return p.N("unit.seconds", int((d+time.Second-1)/time.Second))
	}
	return p.N("unit.minutes", int(d/time.Minute))
}

type ctxKey struct{}

// WithLanguage notes in ctx the language of the reader a request serves
// (the web layer's choice), for what it sends on their behalf (a sign-in
// link's mail) when the recipient has no preference of their own.
func WithLanguage(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, ctxKey{}, lang)
}

// LanguageFrom is the language WithLanguage noted, "" for none.
func LanguageFrom(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}
