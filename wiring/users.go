package wiring

import (
	"context"
	"strings"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
)

// FirstAdminEmail is the console's first admin, made on first start when
// there is no console user (its set-password link is printed).
const FirstAdminEmail = "admin@localhost"

// OpenUsers builds the console users service; TOTP secrets are sealed with
// a key derived from the master key.
// Its "forgot password" links go out through the alerts' SMTP mailer
// (nil: the console says they cannot be mailed).
func OpenUsers(st *storage.Store, master []byte, clock licensing.Clock, mailer *workers.Mailer) (*users.Service, error) {
	box, err := keys.NewSecretBox(master, keys.BoxConsoleTOTP)
	if err != nil {
		return nil, err
	}
	cfg := users.Config{Store: st.Users(), Box: box, Clock: clock}
	if mailer != nil { // a nil *Mailer in the interface would look configured
		cfg.Mailer = mailer
	}
	return users.NewService(cfg)
}

// staffLocale reads the console users' preferences for the staff alert
// mails (workers.Config.StaffLocale).
func staffLocale(st *storage.Store) func(context.Context, string) (string, string, error) {
	return func(ctx context.Context, email string) (string, string, error) {
		return users.Locale(ctx, st.Users(), email)
	}
}

// openConsole builds the web console over the same services and limiter
// as the API.
func openConsole(us *users.Service, svc *licensing.Services, releases *release.Service, scores *insights.Scores, limiter api.RateLimiter, a *App) *console.Console {
	// Behind a TLS-terminating proxy the requests arrive as plain HTTP:
	// the public URL says the browser uses https.
	secure := strings.HasPrefix(a.Config.PublicURL, "https://")
	return console.New(console.Config{Users: us, Services: svc, Releases: releases, Limiter: limiter, Logger: a.Log, SecureCookies: secure, Queues: a.queueReporter(), BaseURL: a.publicURL,
		Insights: scores, Thresholds: a.Config.Insights.thresholds()})
}

// PasswordLink is the console URL that redeems a set-password secret.
func PasswordLink(base, secret string) string { return console.SetPasswordLink(base, secret) }
