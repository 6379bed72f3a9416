// Package portal is the customers' self-service portal under /portal:
// sign-in with a mailed one-time link or with the email's password
// (licensing/portal; set on the Password page once signed in), then their
// licenses with seats used and allowed, their machines (free a seat), the
// releases their licenses may download (through the license-gated
// download, a short-lived URL), the offline-activation exchange (a request
// file in, a lease file out) and their contacts.
//
// A session acts as licensing.CustomerActor, so every page calls the same
// domain services as the API with an actor that sees only its own customer
// and only what the customer record permits: another customer's license or
// machine id in a URL answers 404, as through a customer API token.
// Pages are server-rendered templates with one stylesheet and no script,
// under the strict headers, cookies and CSRF checks of api/webui.
package portal
