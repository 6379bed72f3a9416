package i18n

import (
	"regexp"
	"strings"
	"unicode"
)

var (
	actions     = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	comments    = regexp.MustCompile(`(?s)<!--.*?-->`)
	visibleAttr = regexp.MustCompile(`(?i)\s(?:aria-label|placeholder|title|alt|data-label)="([^"]*)"`)
	tags        = regexp.MustCompile(`(?s)<[^>]*>`)
	// buttonInput is an input drawn as a button, whose value people read
	// (the value of any other input or option is data, not words).
	buttonInput = regexp.MustCompile(`(?is)<input\s[^>]*\btype="(?:submit|button|reset)"[^>]*>`)
	valueAttr   = regexp.MustCompile(`(?i)\svalue="([^"]*)"`)
	entities    = regexp.MustCompile(`&#?[a-zA-Z0-9]+;`)
)

// Literal lists the user-visible words a template writes itself instead
// of taking them from the catalog: its text outside actions ({{...}}) and,
// when html, outside tags, plus the values of the attributes people read
// (aria-label, placeholder, title, alt, a table cell's data-label, and
// the value of an input drawn as a button). Names in allowed (brands:
// "NzilaCode") are not words to translate. The extraction check of every
// translated template calls it.
func Literal(src string, html bool, allowed ...string) []string {
	src = actions.ReplaceAllString(src, " ")
	var found []string
	if html {
		src = comments.ReplaceAllString(src, " ")
		for _, m := range visibleAttr.FindAllStringSubmatch(src, -1) {
			found = append(found, words(m[1], allowed)...)
		}
		for _, in := range buttonInput.FindAllString(src, -1) {
			if m := valueAttr.FindStringSubmatch(in); m != nil {
				found = append(found, words(m[1], allowed)...)
			}
		}
		src = entities.ReplaceAllString(tags.ReplaceAllString(src, " "), " ")
	}
	return append(found, words(src, allowed)...)
}

// words are the runs of src with a letter, but for those of allowed.
func words(src string, allowed []string) []string {
	var out []string
	for _, f := range strings.Fields(src) {
		f = strings.Trim(f, ".,:;!?()[]—–-…·\"'“”")
		if f == "" || strings.HasPrefix(f, "/") || !strings.ContainsFunc(f, unicode.IsLetter) { // a path is no word
			continue
		}
		ok := false
		for _, a := range allowed {
			if f == a {
				ok = true
			}
		}
		if !ok {
			out = append(out, f)
		}
	}
	return out
}
