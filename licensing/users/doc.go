// Package users is the console's people: the staff who sign in to the web
// console with an email, a password (argon2id) and, when enrolled or made
// mandatory, a TOTP second factor with hashed recovery codes.
//
// A console user has one of the API token roles (admin, support,
// read-only): Service.Authenticate turns a session into a licensing.Actor of
// that role, so every page goes through the same permission table
// (licensing/roles.go) and the same domain services as the JSON API, and the
// audit log names the user ("user:<id>").
//
// Sessions are server-side rows found by the hash of a random secret (the
// cookie), with an idle and an absolute timeout and a synchronizer CSRF
// token, run by the session core the portal shares (licensing.SessionCore:
// a Session embeds licensing.BrowserSession), and a stage of their own: a
// session that has passed the password but still owes its TOTP code is
// "pending" and opens nothing but the code form. Sign-out revokes one
// session; sign-out everywhere revokes all of a user's.
//
// A user starts without a password: CreateUser returns a one-time
// set-password link token (as the bootstrap admin token is printed), which
// SetPassword redeems once before it expires: the one-time link core the
// portal's sign-in links share (licensing.LinkCore; a PasswordToken embeds
// licensing.OneTimeLink).
//
// Like licensing/subscription, the package depends on licensing only; its
// Store is implemented by storage.
package users
