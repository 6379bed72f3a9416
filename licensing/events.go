package licensing

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one entry of the append-only audit log: every change, who made
// it, why, and the target before and after. Events are written in the same
// transaction as the change they describe, so the log never misses one and
// never tells of a change that was rolled back.
type Event struct {
	ID         string          `json:"id"`
	Time       time.Time       `json:"time"`
	Action     string          `json:"action"` // e.g. "license.suspended"
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Actor      string          `json:"actor"` // "token:<id>", "user:<id>", "license:<id>" or "system"
	ActorName  string          `json:"actor_name,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// Event actions. They cross the wire (API, webhooks): only ever add.
const (
	ActionProductCreated     = "product.created"
	ActionProductUpdated     = "product.updated"
	ActionPolicyCreated      = "policy.created"
	ActionPolicyUpdated      = "policy.updated"
	ActionEntitlementCreated = "entitlement.created"
	ActionEntitlementUpdated = "entitlement.updated"
	ActionEntitlementRetired = "entitlement.retired"
	// Entitlements attached to or detached from one policy or license
	// after issue (after names them: attached, detached).
	ActionPolicyEntitlements  = "policy.entitlements_changed"
	ActionLicenseEntitlements = "license.entitlements_changed"
	// Meters of a license (target: the license): created, bound changed,
	// reset (by an admin, or at a new subscription period).
	ActionMeterCreated        = "meter.created"
	ActionMeterUpdated        = "meter.updated"
	ActionMeterReset          = "meter.reset"
	ActionCustomerCreated     = "customer.created"
	ActionCustomerUpdated     = "customer.updated"
	ActionLicenseCreated      = "license.created"
	ActionLicenseUpdated      = "license.updated"
	ActionLicenseSuspended    = "license.suspended"
	ActionLicenseReinstated   = "license.reinstated"
	ActionLicenseRevoked      = "license.revoked"
	ActionLicenseRenewed      = "license.renewed"
	ActionLicensePolicyChange = "license.policy_changed"
	ActionLicenseTransferred  = "license.transferred"
	ActionMachineActivated    = "machine.activated"
	ActionMachineDeactivated  = "machine.deactivated"
	ActionMachineBlocked      = "machine.blocked"
	ActionMachineUnblocked    = "machine.unblocked"
	ActionMachineHeartbeatRst = "machine.heartbeat_reset"
	// Activation rules (issue 27).
	ActionMachineFingerprintChanged = "machine.fingerprint_changed" // a drifted machine matched by its components kept its seat
	ActionLicenseActivationLimited  = "license.activation_limited"  // an activation or deactivation refused by the abuse caps
	ActionLicenseSeatLimitReached   = "license.seat_limit_reached"  // an activation refused: no seat left (overage included)
	ActionLicenseOverageEntered     = "license.overage_entered"     // the machines in use went past the seats, into the overage allowed
	ActionTokenCreated              = "token.created"
	ActionTokenRevoked              = "token.revoked"
)

// Release actions, recorded by licensing/release (declared here so the one
// registry below holds them).
const (
	ActionReleaseCreated    = "release.created"
	ActionReleasePublished  = "release.published"
	ActionReleaseYanked     = "release.yanked"
	ActionReleaseDeleted    = "release.deleted"
	ActionArtifactAdded     = "artifact.added"
	ActionArtifactFinalized = "artifact.finalized"
	ActionArtifactAbandoned = "artifact.abandoned"
	ActionArtifactRejected  = "artifact.rejected"
)

// Console user actions, recorded by licensing/users.
const (
	ActionUserCreated      = "user.created"
	ActionUserUpdated      = "user.updated" // role, status or mandatory TOTP changed
	ActionUserPasswordSet  = "user.password_set"
	ActionUserTOTPEnabled  = "user.totp_enabled"
	ActionUserSignedIn     = "user.signed_in"
	ActionUserSignInFailed = "user.sign_in_failed"
	ActionUserSignedOut    = "user.signed_out" // one session, or every one (reason says)
	ActionUserRecoveryUsed = "user.recovery_code_used"
	// ActionUserPasswordLink: a new set-password link was issued (mailed
	// on a "forgot password" request, or shown to an admin; reason says).
	ActionUserPasswordLink = "user.password_link_issued"
)

// Customer portal actions, recorded by licensing/portal.
const (
	ActionPortalLinkSent     = "portal.link_sent"
	ActionPortalSignedIn     = "portal.signed_in"
	ActionPortalSignInFailed = "portal.sign_in_failed" // an unknown email, a used or expired link, a wrong password
	ActionPortalSignedOut    = "portal.signed_out"
	ActionPortalPasswordSet  = "portal.password_set" // a signed-in customer set or changed the password of their email
)

// Insight actions, recorded by the insights scoring job (licensing/insights)
// when a license's score of that kind crosses the installation's threshold
// upward: once per crossing, with the score and its reasons in After.
const (
	ActionInsightChurnRisk        = "insight.churn_risk"
	ActionInsightBlockRisk        = "insight.block_risk"
	ActionInsightUpgradeSuggested = "insight.upgrade_suggested"
	ActionInsightSharingSuspected = "insight.sharing_suspected"
)

// Actions is the one registry of event actions: what webhooks may subscribe
// to. Every Action* constant of this package and of licensing/release is in
// it (a test walks the sources): a new action is declared above and added
// here.
var Actions = []string{
	ActionProductCreated, ActionProductUpdated, ActionPolicyCreated, ActionPolicyUpdated, ActionEntitlementCreated, ActionEntitlementUpdated,
	ActionEntitlementRetired, ActionPolicyEntitlements, ActionLicenseEntitlements,
	ActionMeterCreated, ActionMeterUpdated, ActionMeterReset,
	ActionCustomerCreated, ActionCustomerUpdated, ActionLicenseCreated, ActionLicenseUpdated, ActionLicenseSuspended,
	ActionLicenseReinstated, ActionLicenseRevoked, ActionLicenseRenewed, ActionLicensePolicyChange, ActionLicenseTransferred,
	ActionLicenseExpiring, ActionLicenseExpired, ActionMachineActivated, ActionMachineDeactivated, ActionMachineBlocked,
	ActionMachineUnblocked, ActionMachineHeartbeatRst, ActionMachineOffline, ActionTokenCreated, ActionTokenRevoked,
	ActionWebhookCreated, ActionWebhookUpdated, ActionWebhookDeleted, ActionWebhookDisabled, ActionDeliveryRedelivered, ActionWebhookTest,
	ActionReleaseCreated, ActionReleasePublished, ActionReleaseYanked, ActionReleaseDeleted, ActionArtifactAdded, ActionArtifactFinalized,
	ActionArtifactAbandoned, ActionArtifactRejected,
	ActionSubscriptionCreated, ActionSubscriptionUpdated, ActionSubscriptionRenewed, ActionSubscriptionPastDue,
	ActionSubscriptionDunning, ActionSubscriptionSuspended, ActionSubscriptionPlanChanged, ActionSubscriptionCanceled,
	ActionSubscriptionResumed, ActionSubscriptionExpired, ActionTrialStarted, ActionTrialEnding,
	ActionSubscriptionOverSeats, ActionSubscriptionRefunded, ActionSubscriptionDisputed,
	ActionLicenseKeyRotated,
	ActionUserCreated, ActionUserUpdated, ActionUserPasswordSet, ActionUserTOTPEnabled, ActionUserSignedIn,
	ActionUserSignInFailed, ActionUserSignedOut, ActionUserRecoveryUsed, ActionUserPasswordLink,
	ActionPortalLinkSent, ActionPortalSignedIn, ActionPortalSignInFailed, ActionPortalSignedOut, ActionPortalPasswordSet,
	ActionInsightChurnRisk, ActionInsightBlockRisk, ActionInsightUpgradeSuggested, ActionInsightSharingSuspected,
	ActionMachineFingerprintChanged, ActionLicenseActivationLimited, ActionLicenseSeatLimitReached, ActionLicenseOverageEntered,
}

// EventFilter narrows an audit log listing.
type EventFilter struct {
	TargetType string
	TargetID   string
	Actor      string
	Action     string
	Since      *time.Time
	Until      *time.Time
	// Newest lists newest first (the console); the API lists oldest first.
	Newest bool
}

type actorKey struct{}

// WithActor returns a context that carries who is acting.
func WithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx, or the system actor.
func ActorFrom(ctx context.Context) *Actor {
	if a, ok := ctx.Value(actorKey{}).(*Actor); ok && a != nil {
		return a
	}
	return &Actor{Name: "system"}
}

func snapshot(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
