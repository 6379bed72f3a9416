// Package custmail renders the mails NzilaCode's customers get about their
// licenses (expiry notice, expired, suspended, reinstated, revoked,
// extended) from templates: a text part (text/template) and an HTML part
// (html/template), with the product's name, the key's hint, dates in
// words and a link to the customer portal, and a subject a customer
// understands ("Your Acme Pro license expires on 14 December 2026"): no
// event names, no ids.
//
// It is pure (standard library only), so the workers that send the mails
// and the console that previews them (with Sample) share one rendering.
package custmail
