package i18n_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// TestEveryKeyInEveryLanguage: each English key has a translation in
// every language (itself or through its base), with the same placeholders
// in every variant, and no language has a key English lacks. Plural
// messages stay plural.
func TestEveryKeyInEveryLanguage(t *testing.T) {
	cats := i18n.Catalogs()
	en := cats[i18n.English]
	if len(en.Messages) < 50 {
		t.Fatalf("English has %d messages", len(en.Messages))
	}
	for code, c := range cats {
		for key := range c.Messages {
			if _, ok := en.Messages[key]; !ok {
				t.Errorf("%s: %q is not an English key", code, key)
			}
		}
		if code == i18n.English {
			continue
		}
		for key, want := range en.Messages {
			got, ok := lookup(cats, code, key)
			if !ok {
				t.Errorf("%s: no translation of %q", code, key)
				continue
			}
			if (want.Forms == nil) != (got.Forms == nil) {
				t.Errorf("%s: %q is plural in one language and not in the other", code, key)
			}
			ph := i18n.Placeholders(strings.Join(want.Variants(), " "))
			for _, v := range got.Variants() {
				if have := i18n.Placeholders(v); !slices.Equal(have, ph) && !(want.Forms != nil && slices.Equal(have, without(ph, "{n}"))) {
					t.Errorf("%s: %q has placeholders %v, English %v: %q", code, key, have, ph, v)
				}
			}
		}
	}
}

func without(s []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == x })
}

func lookup(cats map[string]*i18n.Catalog, code, key string) (i18n.Message, bool) {
	for c := cats[code]; c != nil; c = cats[c.Base] {
		if m, ok := c.Messages[key]; ok {
			return m, true
		}
		if c.Base == "" {
			break
		}
	}
	return i18n.Message{}, false
}

// TestPTBRDiffersWhereReadersNotice: the Brazilian catalog overrides the
// words a Brazilian reader would notice, and inherits the rest.
func TestPTBRDiffersWhereReadersNotice(t *testing.T) {
	pt, br := i18n.For("pt-PT", ""), i18n.For("pt-BR", "")
	for key, words := range map[string][2]string{
		"common.password":          {"Palavra-passe", "Senha"},
		"portal.offline.file":      {"Ficheiro de pedido de ativação", "Arquivo de pedido de ativação"},
		"portal.nav.contacts":      {"Contactos", "Contatos"},
		"portal.contacts.submit":   {"Guardar contactos", "Salvar contatos"},
		"portal.page.downloads":    {"Transferências", "Downloads"},
		"portal.license.about":     {"Sobre esta licença", "Sobre esta licença"}, // inherited
		"mail.expiring.subject":    {"A sua licença {product} expira a {date}", "Sua licença {product} expira em {date}"},
		"signin.redeem.submit":     {"Entrar", "Entrar"},
		"portal.notice.seat_freed": {"O lugar ficou livre: a máquina foi desativada.", "O lugar foi liberado: a máquina foi desativada."},
	} {
		if got := pt.T(key); got != words[0] {
			t.Errorf("pt-PT %s = %q, want %q", key, got, words[0])
		}
		if got := br.T(key); got != words[1] {
			t.Errorf("pt-BR %s = %q, want %q", key, got, words[1])
		}
	}
}

func TestChoose(t *testing.T) {
	t.Cleanup(func() { _ = i18n.SetDefault("en") })
	for _, c := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"pt-BR", "pt-PT"}, "pt-BR"},                  // the customer's preference first
		{[]string{"", "PT-pt"}, "pt-PT"},                       // then the user's, any case
		{[]string{"", "", "pt-AO,pt;q=0.9,en;q=0.5"}, "pt-PT"}, // Angola reads European Portuguese
		{[]string{"pt-MZ"}, "pt-PT"},
		{[]string{"pt"}, "pt-BR"}, // CLDR: plain pt is Brazilian
		{[]string{"en-US,en;q=0.9"}, "en"},
		{[]string{"fr-FR, pt-BR;q=0.5"}, "pt-BR"},
		{[]string{"xx-?? garbage"}, "en"},
		{[]string{"de"}, "en"},
		{nil, "en"},
	} {
		if got := i18n.Choose(c.prefs...); got != c.want {
			t.Errorf("Choose(%q) = %q, want %q", c.prefs, got, c.want)
		}
	}
	if err := i18n.SetDefault("pt-PT"); err != nil {
		t.Fatal(err)
	}
	if got := i18n.Choose("de", ""); got != "pt-PT" {
		t.Errorf("with default pt-PT, Choose(de) = %q", got)
	}
	if err := i18n.SetDefault("fr"); err == nil {
		t.Error("SetDefault(fr) worked")
	}
}

// TestFromEnv: a command-line reader's language comes from
// NARCIDI_LANGUAGE, then the first set of LC_ALL, LC_MESSAGES and LANG (a
// POSIX locale name), then NARCIDI_DEFAULT_LANGUAGE, then English.
func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "en"},
		{map[string]string{"LANG": "pt_BR.UTF-8"}, "pt-BR"},
		{map[string]string{"LANG": "pt_PT.UTF-8@euro"}, "pt-PT"},
		{map[string]string{"LANG": "pt_AO.UTF-8"}, "pt-PT"},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "pt_PT.UTF-8"}, "pt-PT"},
		{map[string]string{"LC_MESSAGES": "pt_PT.UTF-8", "LC_ALL": "pt_BR"}, "pt-BR"}, // LC_ALL wins
		{map[string]string{"LC_ALL": "en_GB.UTF-8", "NARCIDI_LANGUAGE": "pt-PT"}, "pt-PT"},
		{map[string]string{"LANG": "C.UTF-8", "NARCIDI_DEFAULT_LANGUAGE": "pt-BR"}, "pt-BR"},
		{map[string]string{"LANG": "fr_FR.UTF-8", "NARCIDI_DEFAULT_LANGUAGE": "pt-PT"}, "pt-PT"},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, "en"},
		{map[string]string{"LANG": "POSIX", "NARCIDI_LANGUAGE": "klingon"}, "en"},
	} {
		if got := i18n.FromEnv(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("FromEnv(%v) = %q, want %q", c.env, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"": "", " pt-br ": "pt-BR", "EN": "en", "pt-pt": "pt-PT"} {
		if got, err := i18n.Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"pt", "fr", "pt_BR", "english"} {
		if _, err := i18n.Normalize(bad); err == nil || !strings.Contains(err.Error(), "en, pt-BR, pt-PT") {
			t.Errorf("Normalize(%q): %v", bad, err)
		}
	}
	for in, ok := range map[string]bool{"": true, "Africa/Luanda": true, "America/Sao_Paulo": true, "Europe/Lisbon": true, "UTC": true,
		"Local": false, "Mars/Olympus": false, "../etc/passwd": false, "GMT+1": false} {
		if _, err := i18n.NormalizeZone(in); (err == nil) != ok {
			t.Errorf("NormalizeZone(%q): %v", in, err)
		}
	}
}

// TestFormats: golden strings of dates, times, numbers, money and
// durations per language.
func TestFormats(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 5, 0, 0, time.UTC)
	en, pt, br := i18n.For("en", ""), i18n.For("pt-PT", "Africa/Luanda"), i18n.For("pt-BR", "America/Sao_Paulo")
	for _, c := range []struct{ got, want string }{
		{en.Date(at), "7 December 2026"},
		{pt.Date(at), "7 de dezembro de 2026"},
		{br.Date(at), "7 de dezembro de 2026"},
		{i18n.For("pt-PT", "Pacific/Auckland").Date(at), "8 de dezembro de 2026"}, // the reader's day
		{en.Time(at), "13:05"},
		{pt.Time(at), "14:05"},
		{br.Time(at), "10:05"},
		{en.DateTime(at), "7 December 2026, 13:05 UTC"},
		{pt.DateTime(at), "7 de dezembro de 2026, às 14:05 WAT"},
		{br.DateTime(at), "7 de dezembro de 2026, às 10:05 -03"},
		{en.Int(1234567), "1,234,567"},
		{pt.Int(1234567), "1.234.567"},
		{pt.Int(-999), "-999"},
		{pt.Int(1000), "1.000"},
		{en.Decimal(123456, 2), "1,234.56"},
		{pt.Decimal(-5, 2), "-0,05"},
		{pt.Money(123456, "AOA"), "1.234,56 Kz"},
		{pt.Money(123456, "EUR"), "1.234,56 €"},
		{br.Money(123456, "BRL"), "R$ 1.234,56"},
		{en.Money(123456, "EUR"), "€1,234.56"},
		{en.Money(123456, "AOA"), "Kz 1,234.56"},
		{en.Money(100, "XYZ"), "XYZ 1.00"},
		{pt.Money(5000, "JPY"), "5.000 ¥"},
		{en.Duration(15 * time.Minute), "15 minutes"},
		{pt.Duration(15 * time.Minute), "15 minutos"},
		{pt.Duration(time.Hour), "1 hora"},
		{br.Duration(72 * time.Hour), "3 dias"},
		{en.Duration(time.Minute), "1 minute"},
		{en.N("unit.days", 1), "1 day"},
		{pt.N("unit.days", 0), "0 dias"}, // pt-PT: only 1 is singular
		{br.N("unit.days", 0), "0 dia"},  // pt-BR: 0 and 1 are (CLDR)
		{pt.N("unit.bytes", 1048576), "1.048.576 bytes"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestMessages(t *testing.T) {
	pt := i18n.For("pt-PT", "")
	if got := pt.T("mail.expiring.subject", "product", "Acme Pro", "date", "7 de dezembro de 2026"); got != "A sua licença Acme Pro expira a 7 de dezembro de 2026" {
		t.Errorf("T: %q", got)
	}
	// Text leaves the markup out; HTML keeps it and escapes the values.
	if got := pt.T("mail.which", "product", "A&B"); got != "a sua licença A&B" {
		t.Errorf("T: %q", got)
	}
	if got := pt.HTML("mail.which", "product", "<A&B>"); got != "a sua licença <strong>&lt;A&amp;B&gt;</strong>" {
		t.Errorf("HTML: %q", got)
	}
	if got := pt.T("no.such.key"); got != "[no.such.key]" {
		t.Errorf("a missing key: %q", got)
	}
	if got := i18n.For("klingon", "").Lang(); got != i18n.Default() {
		t.Errorf("For(unknown) = %q", got)
	}
}

// TestLiteralFindsWordsOutsideTheCatalog: the extraction check sees text
// and readable attributes, not actions, tags or other attributes.
func TestLiteralFindsWordsOutsideTheCatalog(t *testing.T) {
	src := `<p class="card">{{t "a.b"}} Hello <a href="/portal/x" aria-label="Go back">{{.Name}}</a> NzilaCode · SHA-256 …{{.Hint}}</p>
<input placeholder="{{t "x"}}" value="{{.V}}"><!-- a comment -->`
	if got := i18n.Literal(src, true, "NzilaCode", "SHA-256"); !slices.Equal(got, []string{"Go", "back", "Hello"}) {
		t.Errorf("Literal = %q", got)
	}
	// An option's or a hidden input's value is data; a submit input's and
	// a cell's data-label are read.
	src = `<select><option value="restrict">{{t "x"}}</option></select><input type="hidden" name="confirm" value="yes"> &lt;{{.E}}&gt;
<input type="submit" value="Send now"><td data-label="Status">{{.S}}</td>`
	if got := i18n.Literal(src, true); !slices.Equal(got, []string{"Status", "Send", "now"}) {
		t.Errorf("Literal of values = %q", got)
	}
	if got := i18n.Literal("{{t \"k\"}}\n-- NzilaCode\n{{.X}}: {{.Y}}\nTime: {{.Z}}", false, "NzilaCode"); !slices.Equal(got, []string{"Time"}) {
		t.Errorf("Literal of a text template = %q", got)
	}
}
