package wiring

import (
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/portal"
	"github.com/nzilacode/narcidicontrole/licensing"
	portalsignin "github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
)

// OpenPortalSignIn builds the portal's sign-in service, shared by the
// portal and the console's "send / copy sign-in link".
func OpenPortalSignIn(st *storage.Store, mailer *workers.Mailer) *portalsignin.Service {
	cfg := portalsignin.Config{Store: st.Portal(), Clock: time.Now}
	if mailer != nil { // a nil *Mailer in the interface would look configured
		cfg.Mailer = mailer
	}
	signIn, err := portalsignin.NewService(cfg)
	if err != nil {
		panic(err) // only a missing store, a wiring mistake
	}
	return signIn
}

// openPortal builds the customer portal over the same services, limiter
// and release downloads as the API. Its sign-in links go out through the
// alerts' SMTP mailer (NARCIDI_SMTP_URL), sent by serve itself in both
// modes: a link must not wait for a queue. Without a mailer the sign-in
// page says links cannot be sent.
func openPortal(signIn *portalsignin.Service, svc *licensing.Services, releases *release.Service, limiter api.RateLimiter, a *App) *portal.Portal {
	return portal.New(portal.Config{SignIn: signIn, Services: svc, Releases: releases, Limiter: limiter, Logger: a.Log,
		BaseURL: a.publicURL, SecureCookies: strings.HasPrefix(a.Config.PublicURL, "https://")})
}
