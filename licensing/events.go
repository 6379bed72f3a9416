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
	Actor      string          `json:"actor"` // "token:<id>", "license:<id>" or "system"
	ActorName  string          `json:"actor_name,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// Event actions. They cross the wire (API, webhooks): only ever add.
const (
	ActionProductCreated      = "product.created"
	ActionProductUpdated      = "product.updated"
	ActionPolicyCreated       = "policy.created"
	ActionPolicyUpdated       = "policy.updated"
	ActionEntitlementCreated  = "entitlement.created"
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
	ActionTokenCreated        = "token.created"
	ActionTokenRevoked        = "token.revoked"
)

// EventFilter narrows an audit log listing.
type EventFilter struct {
	TargetType string
	TargetID   string
	Actor      string
	Action     string
	Since      *time.Time
	Until      *time.Time
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

// record appends an audit event for a change made in tx.
func (s *Service) record(ctx context.Context, tx Repo, action, targetType, targetID, reason string, before, after any) error {
	a := ActorFrom(ctx)
	e := &Event{
		Time: s.clock(), Action: action, TargetType: targetType, TargetID: targetID,
		Actor: a.Label(), ActorName: a.Name, Reason: reason, RequestID: a.RequestID,
		Before: snapshot(before), After: snapshot(after),
	}
	return tx.AppendEvent(ctx, e)
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
