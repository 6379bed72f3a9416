// Package custmail renders the mails NzilaCode's customers get about their
// licenses (expiry notice, expired, suspended, reinstated, revoked,
// extended) from templates: a text part (text/template) and an HTML part
// (html/template), with the product's name, the key's hint, dates in
// words and a link to the customer portal, and a subject a customer
// understands ("Your Acme Pro license expires on 14 December 2026"): no
// event names, no ids.
//
// Each mail is written in the customer's language and time zone
// (licensing/i18n's catalogs), as is the portal's sign-in link mail
// (RenderSignIn). It is pure (no I/O), so the workers that send the mails
// and the console that previews them (with Sample) share one rendering.
package custmail
