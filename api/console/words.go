package console

import (
	"strings"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The words the pages use for actions and events: the API's names are
// kept on the wire, people read the catalog's ("console.verb.suspend",
// "console.done.suspend", "console.event.license.renewed").

// word is the catalog's text of prefix+name, name itself when the catalog
// has none (a new action reads as its wire name until it has words).
func word(pr *i18n.Printer, prefix, name string) string {
	if i18n.Has(prefix + name) {
		return pr.T(prefix + name)
	}
	return name
}

// dangerous actions are drawn red: they take something away that is hard
// to give back.
var dangerous = map[string]bool{"revoke": true, "suspend": true, "delete": true, "block": true, "deactivate": true, "disable": true, "yank": true}

// eventLabel is an audit action as the timeline shows it: its words in
// the catalog, else its name with spaces.
func eventLabel(pr *i18n.Printer, action string) string {
	if k := "console.event." + action; i18n.Has(k) {
		return pr.T(k)
	}
	return strings.ReplaceAll(action, "_", " ")
}
