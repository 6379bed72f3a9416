package webui

import (
	"net/url"
	"regexp"
	"strings"
)

// Targets is the allowlist of an app's redirect targets: local paths of
// its GET pages. A Location header is written only from Safe's answer, so
// no form field, query or path parameter can put CR/LF into a response
// (a second response on a kept-alive connection) or send a browser to
// another host.
type Targets struct {
	pages    []*regexp.Regexp
	fallback string
}

// param is what a route parameter may hold in a redirect: ids, codes and
// versions, nothing that changes the path's meaning.
const param = `[A-Za-z0-9][A-Za-z0-9._~-]{0,127}`

// NewTargets allows the GET route patterns (":name" is one path segment)
// below prefix; Safe answers fallback for anything else.
func NewTargets(prefix, fallback string, patterns ...string) *Targets {
	t := &Targets{fallback: fallback}
	for _, p := range patterns {
		segs := strings.Split(strings.Trim(p, "/"), "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = param
			} else {
				segs[i] = regexp.QuoteMeta(s)
			}
		}
		re := regexp.QuoteMeta(prefix) + "/" + strings.Join(segs, "/")
		t.pages = append(t.pages, regexp.MustCompile("^"+re+"$"))
	}
	return t
}

// Safe returns to when it is Allowed, and the fallback otherwise.
func (t *Targets) Safe(to string) string {
	if t.Allowed(to) {
		return to
	}
	return t.fallback
}

// Allowed says whether to is an allowed page with an optional query of
// printable characters.
func (t *Targets) Allowed(to string) bool {
	for i := 0; i < len(to); i++ {
		if c := to[i]; c < 0x21 || c >= 0x7f || c == '\\' || c == '#' {
			return false // control characters, spaces, non-ASCII, backslashes, fragments
		}
	}
	path, query, _ := strings.Cut(to, "?")
	if _, err := url.ParseQuery(query); err != nil {
		return false
	}
	for _, re := range t.pages {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}
