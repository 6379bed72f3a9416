// Package workerstest holds the real peers that tests of the workers talk
// to: an SMTP server (go-smtp) on loopback that keeps the mail it gets, and
// a webhook receiver that checks signatures as a customer's would.
package workerstest
