// Package portal is customers signing in to their self-service portal.
//
// A customer (its email, or one of its contacts' emails) asks for a magic
// link: a random single-use secret, stored as its SHA-256, that works for
// LinkTTL (15 minutes) and is mailed through the same SMTP mailer as the
// alerts; the one-time link core the console's set-password links share
// issues and spends it (licensing.LinkCore; a Link embeds
// licensing.OneTimeLink). Redeeming it opens a session: a server-side row found by the hash
// of the cookie's secret, with an idle and an absolute timeout and a
// synchronizer CSRF token: the session core the console shares
// (licensing.SessionCore; a Session embeds licensing.BrowserSession).
//
// A signed-in person may also set a password for their email (one per
// address, argon2id as the console users', licensing.HashPassword): email
// and password then open a session as a redeemed link does, or, when the
// email belongs to several customers, one-time links to choose from. The
// customers are found at every sign-in, so a disabled customer or an
// email taken off its contacts opens nothing, whatever its password.
//
// A session stands for licensing.CustomerActor: role customer, scoped to
// its customer and bounded by the customer record's permissions. Every
// page then calls the ordinary domain services, which already hide other
// customers' data as not found; nothing here widens what a customer token
// could do.
//
// Requests for unknown emails, used or expired links, wrong passwords,
// password changes and sign-outs are in the audit log; neither the answer
// to a link request nor a refused password says whether the email is known.
// Like licensing/users, the package depends on licensing only; its Store
// is implemented by storage.
package portal
