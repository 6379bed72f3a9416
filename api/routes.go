package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// route is one operation of the API. The table below is the single source
// of both the router and the OpenAPI document, so they cannot drift apart.
type route struct {
	method, path string // fiber syntax: /v1/licenses/:id
	tag, summary string
	perm         licensing.Permission // "" for public routes
	in           any                  // request body type, nil if none
	out          any                  // success body type, nil if none
	status       int                  // success status
	query        []param
	idempotent   bool   // a creating POST that honours Idempotency-Key
	rate         string // rate rule: "client" (per IP) or "tokens" (per token)
	handler      func(s *Server, c *fiber.Ctx) error
}

type param struct{ name, desc string }

var pageParams = []param{{"cursor", "id after which the page starts (next_cursor of the previous page)"}, {"limit", "page size, 1-200 (default 50)"}}

func withPage(ps ...param) []param { return append(ps, pageParams...) }

// Public response shapes that exist only on the wire.
type (
	healthOut struct {
		Status string `json:"status"`
	}
	historyOut struct {
		Days []licensing.Rollup `json:"days"`
	}
	jwksOut struct {
		Keys []jwkOut `json:"keys"`
	}
	jwkOut struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Use string `json:"use,omitempty"`
		Alg string `json:"alg,omitempty"`
	}
)

func routeTable() []route {
	return []route{
		{method: "GET", path: "/healthz", tag: "health", summary: "The process is up", out: healthOut{}, status: 200, handler: (*Server).healthz},
		{method: "GET", path: "/readyz", tag: "health", summary: "The database is reachable (503 if not)", out: healthOut{}, status: 200, handler: (*Server).ready},
		{method: "GET", path: "/.well-known/jwks.json", tag: "keys", summary: "Public keys that verify leases (RFC 8037 OKP)", out: jwksOut{}, status: 200, handler: (*Server).jwks},

		{method: "POST", path: "/v1/client/activate", tag: "client", summary: "Bind this machine's fingerprint to the license and get a lease (201 new seat, 200 same machine again)", in: verifier.MachineRequest{}, out: verifier.LeaseResponse{}, status: 201, rate: "client", handler: (*Server).activate},
		{method: "POST", path: "/v1/client/renew", tag: "client", summary: "Get a new lease for an activated machine", in: verifier.MachineRequest{}, out: verifier.LeaseResponse{}, status: 200, rate: "client", handler: (*Server).renew},
		{method: "POST", path: "/v1/client/heartbeat", tag: "client", summary: "Tell the server the machine is alive", in: verifier.MachineRequest{}, out: verifier.HeartbeatResponse{}, status: 200, rate: "client", handler: (*Server).heartbeat},
		{method: "POST", path: "/v1/client/deactivate", tag: "client", summary: "Free this machine's seat", in: verifier.MachineRequest{}, status: 204, rate: "client", handler: (*Server).deactivate},
		{method: "POST", path: "/v1/client/meters/use", tag: "client", summary: "Spend uses of a meter of the license (counted once per id; 409 meter_exhausted past its bound; report: uses spent offline, always counted)", in: verifier.UseRequest{}, out: verifier.UseResponse{}, status: 200, rate: "client", handler: (*Server).useMeter},
		{method: "POST", path: "/v1/client/validate", tag: "client", summary: "Online check of a license (and of this machine's seat)", in: verifier.MachineRequest{}, out: verifier.ValidateResponse{}, status: 200, rate: "client", handler: (*Server).validate},

		{method: "POST", path: "/v1/products", tag: "catalog", summary: "Create a product", perm: licensing.WriteCatalog, in: licensing.ProductInput{}, out: licensing.Product{}, status: 201, idempotent: true, handler: (*Server).createProduct},
		{method: "GET", path: "/v1/products", tag: "catalog", summary: "List products", perm: licensing.ReadCatalog, out: listResponse[licensing.Product]{}, status: 200, query: pageParams, handler: (*Server).listProducts},
		{method: "GET", path: "/v1/products/:id", tag: "catalog", summary: "Get a product", perm: licensing.ReadCatalog, out: licensing.Product{}, status: 200, handler: (*Server).getProduct},
		{method: "PATCH", path: "/v1/products/:id", tag: "catalog", summary: "Change a product", perm: licensing.WriteCatalog, in: licensing.ProductPatch{}, out: licensing.Product{}, status: 200, handler: (*Server).updateProduct},
		{method: "POST", path: "/v1/policies", tag: "catalog", summary: "Create a policy (plan)", perm: licensing.WriteCatalog, in: licensing.PolicyInput{}, out: licensing.Policy{}, status: 201, idempotent: true, handler: (*Server).createPolicy},
		{method: "GET", path: "/v1/policies", tag: "catalog", summary: "List policies", perm: licensing.ReadCatalog, out: listResponse[licensing.Policy]{}, status: 200, query: withPage(param{"product_id", "only this product's"}), handler: (*Server).listPolicies},
		{method: "GET", path: "/v1/policies/:id", tag: "catalog", summary: "Get a policy", perm: licensing.ReadCatalog, out: licensing.Policy{}, status: 200, handler: (*Server).getPolicy},
		{method: "PATCH", path: "/v1/policies/:id", tag: "catalog", summary: "Change a policy (its licenses follow from their next lease)", perm: licensing.WriteCatalog, in: licensing.PolicyPatch{}, out: licensing.Policy{}, status: 200, handler: (*Server).updatePolicy},
		{method: "POST", path: "/v1/policies/:id/entitlements", tag: "catalog", summary: "Attach entitlements to, or detach them from, the policy (every license of it, from its next lease)", perm: licensing.WriteCatalog, in: licensing.EntitlementChange{}, out: licensing.Policy{}, status: 200, handler: (*Server).changePolicyEntitlements},
		{method: "POST", path: "/v1/entitlements", tag: "catalog", summary: "Create an entitlement (a named feature)", perm: licensing.WriteCatalog, in: licensing.EntitlementInput{}, out: licensing.Entitlement{}, status: 201, idempotent: true, handler: (*Server).createEntitlement},
		{method: "GET", path: "/v1/entitlements", tag: "catalog", summary: "List entitlements", perm: licensing.ReadCatalog, out: listResponse[licensing.Entitlement]{}, status: 200, query: pageParams, handler: (*Server).listEntitlements},
		{method: "GET", path: "/v1/entitlements/:id", tag: "catalog", summary: "Get an entitlement", perm: licensing.ReadCatalog, out: licensing.Entitlement{}, status: 200, handler: (*Server).getEntitlement},
		{method: "POST", path: "/v1/entitlements/:id/actions/retire", tag: "catalog", summary: "Retire an entitlement: every policy and license stops granting it (from their next lease), none may be given it again; it stays in history", perm: licensing.WriteCatalog, in: licensing.ReasonInput{}, out: licensing.Entitlement{}, status: 200, handler: (*Server).retireEntitlement},
		{method: "PATCH", path: "/v1/entitlements/:id", tag: "catalog", summary: "Rename or redescribe an entitlement (its code stays)", perm: licensing.WriteCatalog, in: licensing.EntitlementPatch{}, out: licensing.Entitlement{}, status: 200, handler: (*Server).updateEntitlement},

		{method: "POST", path: "/v1/customers", tag: "customers", summary: "Create a customer", perm: licensing.WriteCustomers, in: licensing.CustomerInput{}, out: licensing.Customer{}, status: 201, idempotent: true, handler: (*Server).createCustomer},
		{method: "GET", path: "/v1/customers", tag: "customers", summary: "List customers (a customer token sees itself)", perm: licensing.ReadCustomers, out: listResponse[licensing.Customer]{}, status: 200, query: pageParams, handler: (*Server).listCustomers},
		{method: "GET", path: "/v1/customers/:id", tag: "customers", summary: "Get a customer", perm: licensing.ReadCustomers, out: licensing.Customer{}, status: 200, handler: (*Server).getCustomer},
		{method: "PATCH", path: "/v1/customers/:id", tag: "customers", summary: "Change a customer's profile, contacts, status or token permissions", perm: licensing.WriteCustomers, in: licensing.CustomerPatch{}, out: licensing.Customer{}, status: 200, handler: (*Server).updateCustomer},

		{method: "POST", path: "/v1/licenses", tag: "licenses", summary: "Create a license (the key is in the answer, once)", perm: licensing.WriteLicenses, in: licensing.LicenseInput{}, out: licensing.CreatedLicense{}, status: 201, idempotent: true, handler: (*Server).createLicense},
		{method: "GET", path: "/v1/licenses", tag: "licenses", summary: "List licenses", perm: licensing.ReadLicenses, out: listResponse[licensing.License]{}, status: 200,
			query: withPage(param{"customer_id", "filter"}, param{"product_id", "filter"}, param{"policy_id", "filter"}, param{"status", "active, suspended, expired or revoked"}, param{"expires_before", "RFC 3339 time"}), handler: (*Server).listLicenses},
		{method: "GET", path: "/v1/licenses/:id", tag: "licenses", summary: "Get a license", perm: licensing.ReadLicenses, out: licensing.License{}, status: 200, handler: (*Server).getLicense},
		{method: "PATCH", path: "/v1/licenses/:id", tag: "licenses", summary: "Change a license's name or metadata", perm: licensing.WriteLicenses, in: licensing.LicensePatch{}, out: licensing.License{}, status: 200, handler: (*Server).updateLicense},
		{method: "POST", path: "/v1/licenses/:id/entitlements", tag: "licenses", summary: "Attach entitlements to, or detach them from, the license (on top of its policy's; the next lease carries the change)", perm: licensing.WriteLicenses, in: licensing.EntitlementChange{}, out: licensing.License{}, status: 200, handler: (*Server).changeLicenseEntitlements},
		{method: "GET", path: "/v1/licenses/:id/meters", tag: "licenses", summary: "List the license's meters (all of them, one page)", perm: licensing.ReadLicenses, out: listResponse[licensing.Meter]{}, status: 200, handler: (*Server).listMeters},
		{method: "POST", path: "/v1/licenses/:id/meters", tag: "licenses", summary: "Add a meter to the license (of one of its entitlements, or of the license itself)", perm: licensing.WriteLicenses, in: licensing.MeterInput{}, out: licensing.Meter{}, status: 201, idempotent: true, handler: (*Server).createMeter},
		{method: "GET", path: "/v1/meters/:id", tag: "licenses", summary: "Get a meter", perm: licensing.ReadLicenses, out: licensing.Meter{}, status: 200, handler: (*Server).getMeter},
		{method: "PATCH", path: "/v1/meters/:id", tag: "licenses", summary: "Change a meter's bound (max_uses; 0: none)", perm: licensing.WriteLicenses, in: licensing.MeterPatch{}, out: licensing.Meter{}, status: 200, handler: (*Server).updateMeter},
		{method: "POST", path: "/v1/meters/:id/actions/reset", tag: "licenses", summary: "Start a new period: uses back to 0 (the total stays)", perm: licensing.WriteLicenses, in: licensing.ReasonInput{}, out: licensing.Meter{}, status: 200, handler: (*Server).resetMeter},
		{method: "GET", path: "/v1/licenses/:id/machines", tag: "licenses", summary: "List a license's machines", perm: licensing.ReadMachines, out: listResponse[licensing.Machine]{}, status: 200, query: pageParams, handler: (*Server).listLicenseMachines},
		{method: "POST", path: "/v1/licenses/:id/actions/suspend", tag: "licenses", summary: "Suspend: no new lease until reinstated; reason is internal, message optional and for the customer", perm: licensing.WriteLicenses, in: licensing.SuspendInput{}, out: licensing.License{}, status: 200, handler: (*Server).suspendLicense},
		{method: "POST", path: "/v1/licenses/:id/actions/reinstate", tag: "licenses", summary: "Lift a suspension", perm: licensing.WriteLicenses, in: licensing.ReasonInput{}, out: licensing.License{}, status: 200, handler: (*Server).reinstateLicense},
		{method: "POST", path: "/v1/licenses/:id/actions/revoke", tag: "licenses", summary: "Revoke for good", perm: licensing.WriteLicenses, in: licensing.ReasonInput{}, out: licensing.License{}, status: 200, handler: (*Server).revokeLicense},
		{method: "POST", path: "/v1/licenses/:id/actions/extend", tag: "licenses", summary: "Renew: move the expiry later (to a date, by a duration, or by the policy's duration)", perm: licensing.WriteLicenses, in: licensing.ExtendInput{}, out: licensing.License{}, status: 200, handler: (*Server).extendLicense},
		{method: "POST", path: "/v1/licenses/:id/actions/change-policy", tag: "licenses", summary: "Upgrade or downgrade to another policy of the same product", perm: licensing.WriteLicenses, in: licensing.ChangePolicyInput{}, out: licensing.License{}, status: 200, handler: (*Server).changePolicy},
		{method: "POST", path: "/v1/licenses/:id/actions/rotate-key", tag: "licenses", summary: "Replace the license's key with a generated one, in the answer once (the old key stops working; how a billing provider's license gets its key)", perm: licensing.RotateLicenseKeys, in: licensing.ReasonInput{}, out: licensing.CreatedLicense{}, status: 200, idempotent: true, handler: (*Server).rotateLicenseKey},
		{method: "POST", path: "/v1/licenses/:id/actions/transfer", tag: "licenses", summary: "Give the license to another customer", perm: licensing.WriteLicenses, in: licensing.TransferInput{}, out: licensing.License{}, status: 200, handler: (*Server).transferLicense},

		{method: "GET", path: "/v1/machines", tag: "machines", summary: "List machines", perm: licensing.ReadMachines, out: listResponse[licensing.Machine]{}, status: 200,
			query: withPage(param{"license_id", "filter"}, param{"customer_id", "filter"}, param{"status", "active, offline or blocked"}), handler: (*Server).listMachines},
		{method: "GET", path: "/v1/machines/:id", tag: "machines", summary: "Get a machine", perm: licensing.ReadMachines, out: licensing.Machine{}, status: 200, handler: (*Server).getMachine},
		{method: "DELETE", path: "/v1/machines/:id", tag: "machines", summary: "Deactivate a machine, freeing its seat", perm: licensing.WriteMachines, status: 204, handler: (*Server).deactivateMachine},
		{method: "POST", path: "/v1/machines/:id/actions/block", tag: "machines", summary: "Block the fingerprint on its license (frees the seat; it cannot activate again)", perm: licensing.WriteLicenses, in: licensing.ReasonInput{}, out: licensing.Machine{}, status: 200, handler: (*Server).blockMachine},
		{method: "POST", path: "/v1/machines/:id/actions/unblock", tag: "machines", summary: "Lift the block (the machine may activate again)", perm: licensing.WriteLicenses, in: licensing.ReasonInput{}, status: 204, handler: (*Server).unblockMachine},
		{method: "POST", path: "/v1/machines/:id/actions/reset-heartbeat", tag: "machines", summary: "Forget the last heartbeat", perm: licensing.WriteMachines, out: licensing.Machine{}, status: 200, handler: (*Server).resetHeartbeat},

		{method: "POST", path: "/v1/tokens", tag: "tokens", summary: "Create an API token (the secret is in the answer, once)", perm: licensing.WriteTokens, in: licensing.TokenInput{}, out: licensing.CreatedToken{}, status: 201, idempotent: true, rate: "tokens", handler: (*Server).createToken},
		{method: "GET", path: "/v1/tokens", tag: "tokens", summary: "List API tokens (never their secrets)", perm: licensing.ReadTokens, out: listResponse[licensing.APIToken]{}, status: 200, query: pageParams, handler: (*Server).listTokens},
		{method: "DELETE", path: "/v1/tokens/:id", tag: "tokens", summary: "Revoke an API token", perm: licensing.WriteTokens, status: 204, handler: (*Server).revokeToken},

		{method: "GET", path: "/v1/users", tag: "users", summary: "List console users (never their secrets)", perm: licensing.ReadTokens, out: listResponse[users.User]{}, status: 200, query: pageParams, handler: (*Server).listUsers},
		{method: "GET", path: "/v1/users/:id", tag: "users", summary: "Get a console user", perm: licensing.ReadTokens, out: users.User{}, status: 200, handler: (*Server).getUser},
		{method: "PATCH", path: "/v1/users/:id", tag: "users", summary: "Set a console user's language and time zone (a field left out stays; \"\" clears it): their console pages and staff mails follow them", perm: licensing.WriteTokens, in: userPatch{}, out: users.User{}, status: 200, handler: (*Server).updateUser},

		{method: "GET", path: "/v1/events", tag: "events", summary: "The audit log, oldest first", perm: licensing.ReadEvents, out: listResponse[licensing.Event]{}, status: 200,
			query: withPage(param{"target_type", "license, machine, customer, ..."}, param{"target_id", "filter"}, param{"actor", "token:<id> or license:<id>"}, param{"action", "e.g. license.suspended"}, param{"since", "RFC 3339"}, param{"until", "RFC 3339"}), handler: (*Server).listEvents},
		{method: "POST", path: "/v1/offline-activations", tag: "licenses", summary: "Air-gapped activation: turn a machine's activation request file into a lease file (longer TTL, capped by the policy)", perm: licensing.WriteLicenses, in: offlineActivationIn{}, out: offlineActivationOut{}, status: 201, handler: (*Server).activateOffline},
		{method: "GET", path: "/v1/dashboard", tag: "dashboard", summary: "Figures for the dashboard", perm: licensing.ReadDashboard, out: licensing.Stats{}, status: 200, handler: (*Server).dashboard},
		{method: "GET", path: "/v1/dashboard/history", tag: "dashboard", summary: "Daily roll-ups of the dashboard figures", perm: licensing.ReadDashboard, out: historyOut{}, status: 200,
			query: []param{{"days", "how many days back, 1-366 (default 30)"}}, handler: (*Server).dashboardHistory},

		{method: "POST", path: "/v1/webhooks", tag: "webhooks", summary: "Register a webhook endpoint (its signing secret is in the answer, once)", perm: licensing.WriteWebhooks, in: licensing.WebhookInput{}, out: licensing.CreatedWebhook{}, status: 201, idempotent: true, handler: (*Server).createWebhook},
		{method: "GET", path: "/v1/webhooks", tag: "webhooks", summary: "List webhook endpoints", perm: licensing.ReadWebhooks, out: listResponse[licensing.WebhookEndpoint]{}, status: 200, query: pageParams, handler: (*Server).listWebhooks},
		{method: "GET", path: "/v1/webhooks/:id", tag: "webhooks", summary: "Get a webhook endpoint", perm: licensing.ReadWebhooks, out: licensing.WebhookEndpoint{}, status: 200, handler: (*Server).getWebhook},
		{method: "PATCH", path: "/v1/webhooks/:id", tag: "webhooks", summary: "Change an endpoint's URL, event types, or enable/disable it", perm: licensing.WriteWebhooks, in: licensing.WebhookPatch{}, out: licensing.WebhookEndpoint{}, status: 200, handler: (*Server).updateWebhook},
		{method: "POST", path: "/v1/webhooks/:id/actions/test", tag: "webhooks", summary: "Send a webhook.test event to this endpoint alone (whatever it subscribes to); its delivery follows in the log", perm: licensing.WriteWebhooks, in: testEventInput{}, out: licensing.Event{}, status: 200, handler: (*Server).sendTestEvent},
		{method: "DELETE", path: "/v1/webhooks/:id", tag: "webhooks", summary: "Remove an endpoint and its delivery log", perm: licensing.WriteWebhooks, status: 204, handler: (*Server).deleteWebhook},
		{method: "GET", path: "/v1/deliveries", tag: "webhooks", summary: "The delivery log: one entry per event and destination (webhook or email)", perm: licensing.ReadWebhooks, out: listResponse[licensing.Delivery]{}, status: 200,
			query: withPage(param{"endpoint_id", "filter"}, param{"event_id", "filter"}, param{"status", "pending, delivered or failed"}), handler: (*Server).listDeliveries},
		{method: "GET", path: "/v1/deliveries/:id", tag: "webhooks", summary: "Get a delivery with every attempt", perm: licensing.ReadWebhooks, out: licensing.Delivery{}, status: 200, handler: (*Server).getDelivery},
		{method: "POST", path: "/v1/deliveries/:id/actions/redeliver", tag: "webhooks", summary: "Try a finished delivery again (3 more attempts; the payload keeps its event id)", perm: licensing.WriteWebhooks, in: licensing.ReasonInput{}, out: licensing.Delivery{}, status: 200, handler: (*Server).redeliver},

		{method: "POST", path: "/v1/releases", tag: "releases", summary: "Create a draft release of a product", perm: licensing.WriteReleases, in: release.ReleaseInput{}, out: release.Release{}, status: 201, idempotent: true, handler: (*Server).createRelease},
		{method: "GET", path: "/v1/releases", tag: "releases", summary: "The version history (releases with their artifacts)", perm: licensing.ReadReleases, out: listResponse[release.Release]{}, status: 200,
			query: withPage(param{"product_id", "filter"}, param{"channel", "stable, beta, alpha or dev"}, param{"status", "draft, published or yanked"}, param{"version", "exact version"}), handler: (*Server).listReleases},
		{method: "GET", path: "/v1/releases/:id", tag: "releases", summary: "Get a release and its artifacts", perm: licensing.ReadReleases, out: release.Release{}, status: 200, handler: (*Server).getRelease},
		{method: "DELETE", path: "/v1/releases/:id", tag: "releases", summary: "Delete a draft release with its artifacts (a published one can only be yanked)", perm: licensing.WriteReleases, status: 204, handler: (*Server).deleteRelease},
		{method: "POST", path: "/v1/releases/:id/artifacts", tag: "releases", summary: "Add a hashed, signed artifact to a draft release: answers presigned upload URL(s)", perm: licensing.WriteReleases, in: release.ArtifactInput{}, out: release.Upload{}, status: 201, handler: (*Server).addArtifact},
		{method: "POST", path: "/v1/releases/:id/artifacts/:artifact_id/finalize", tag: "releases", summary: "Complete the upload and check the stored size and hashes", perm: licensing.WriteReleases, in: release.FinalizeInput{}, out: release.Artifact{}, status: 200, handler: (*Server).finalizeArtifact},
		{method: "POST", path: "/v1/releases/:id/actions/publish", tag: "releases", summary: "Publish a draft release (re-signs the channel metadata)", perm: licensing.WriteReleases, out: release.Release{}, status: 200, handler: (*Server).publishRelease},
		{method: "POST", path: "/v1/releases/:id/actions/yank", tag: "releases", summary: "Withdraw a published release", perm: licensing.WriteReleases, in: licensing.ReasonInput{}, out: release.Release{}, status: 200, handler: (*Server).yankRelease},
		{method: "POST", path: "/v1/client/releases/metadata", tag: "client", summary: "The signed release metadata of the licensed product on a channel", in: verifier.ReleaseCheckRequest{}, out: verifier.SignedMetadata{}, status: 200, rate: "client", handler: (*Server).releaseMetadata},
		{method: "POST", path: "/v1/client/releases/download", tag: "client", summary: "303 to a short-lived URL of a release artifact (latest or a version)", in: verifier.ReleaseDownloadRequest{}, status: 303, rate: "client", handler: (*Server).downloadRelease},
		{method: "GET", path: "/v1/client/releases/keys", tag: "client", summary: "The public keys that sign release metadata", out: releaseKeysOut{}, status: 200, handler: (*Server).releaseKeys},
		{method: "POST", path: "/v1/subscriptions", tag: "subscriptions", summary: "Start a manual subscription (a trial under a trial policy; the key of a created license is in the answer, once)", perm: licensing.WriteSubscriptions, in: subscription.CreateInput{}, out: subscription.Created{}, status: 201, idempotent: true, handler: (*Server).createSubscription},
		{method: "GET", path: "/v1/subscriptions", tag: "subscriptions", summary: "List subscriptions", perm: licensing.ReadSubscriptions, out: listResponse[subscription.Subscription]{}, status: 200,
			query: withPage(param{"customer_id", "filter"}, param{"status", "trialing, active, past_due, canceled or expired"}, param{"provider", "manual, stripe, ..."}), handler: (*Server).listSubscriptions},
		{method: "GET", path: "/v1/subscriptions/:id", tag: "subscriptions", summary: "Get a subscription", perm: licensing.ReadSubscriptions, out: subscription.Subscription{}, status: 200, handler: (*Server).getSubscription},
		{method: "POST", path: "/v1/subscriptions/:id/actions/change-plan", tag: "subscriptions", summary: "Move a manual subscription and its licenses to another policy (machines stay; a trial converts to paid)", perm: licensing.WriteSubscriptions, in: subscription.ChangePlanInput{}, out: subscription.Subscription{}, status: 200, handler: (*Server).changePlan},
		{method: "POST", path: "/v1/subscriptions/:id/actions/cancel", tag: "subscriptions", summary: "Cancel a manual subscription at period end or at once", perm: licensing.WriteSubscriptions, in: subscription.CancelInput{}, out: subscription.Subscription{}, status: 200, handler: (*Server).cancelSubscription},
		{method: "POST", path: "/v1/subscriptions/:id/actions/resume", tag: "subscriptions", summary: "Undo a cancellation at period end", perm: licensing.WriteSubscriptions, in: licensing.ReasonInput{}, out: subscription.Subscription{}, status: 200, handler: (*Server).resumeSubscription},
		{method: "POST", path: "/v1/billing/stripe/webhook", tag: "billing", summary: "Stripe's webhook (Stripe-Signature checked; idempotent by event id)", out: subscription.Outcome{}, status: 200, handler: (*Server).stripeWebhook},
		{method: "POST", path: "/v1/billing/events", tag: "billing", summary: "A billing event from another provider (Narcidi-Billing-Signature: t=..,v1=HMAC-SHA256)", in: subscription.ProviderEvent{}, out: subscription.Outcome{}, status: 200, handler: (*Server).billingEvent},
		{method: "GET", path: "/v1/insights", tag: "insights", summary: "The latest insight scores of the active licenses (by id), with their reasons", perm: licensing.ReadInsights, out: listResponse[insights.ScoreRecord]{}, status: 200,
			query: insightParams(param{"customer_id", "filter"}, param{"product_id", "filter"}, param{"license_id", "filter"}), handler: (*Server).listInsights},
		{method: "GET", path: "/v1/licenses/:id/insights", tag: "insights", summary: "A license's latest insight scores, with their reasons", perm: licensing.ReadInsights, out: listResponse[insights.ScoreRecord]{}, status: 200, query: insightParams(), handler: (*Server).licenseInsights},
		{method: "GET", path: "/v1/customers/:id/insights", tag: "insights", summary: "The latest insight scores of a customer's licenses, with their reasons", perm: licensing.ReadInsights, out: listResponse[insights.ScoreRecord]{}, status: 200, query: insightParams(), handler: (*Server).customerInsights},
	}
}

func (s *Server) routes() {
	for _, r := range routeTable() {
		var chain []fiber.Handler
		if r.perm != "" {
			chain = append(chain, s.authenticate, require(r.perm))
		} else {
			chain = append(chain, clientActor)
		}
		switch r.rate {
		case "client":
			chain = append(chain, s.limit(s.clientRate, byIP))
		case "tokens":
			chain = append(chain, s.limit(s.tokenRate, byToken))
		}
		if r.idempotent {
			chain = append(chain, s.idempotent)
		}
		chain = append(chain, checkQuery(r))
		h := r.handler
		chain = append(chain, func(c *fiber.Ctx) error { return h(s, c) })
		s.app.Add(r.method, r.path, chain...)
	}
	s.app.Get("/openapi.json", s.openapi)
}
