// Package subscription is the subscription domain of Narcidi: a customer's
// subscription to a plan (policy) for an interval (month, year or N days),
// its status (trialing, active, past_due, canceled, expired), its current
// period, and the licenses it governs.
//
// A subscription drives its licenses through licensing's own paths
// (licensing.Licenses bound to the subscription's transaction with Within):
// a paid period extends them to the period's end (the policy's grace then
// applies as for any license); a failed payment opens a dunning window
// (policy metadata dunning_days, else the installation default) with
// notices, after which the licenses are suspended; a payment reinstates
// them; a cancellation at period end lets them run out; an immediate cancel
// or refund expires or revokes them (policy metadata cancel_action). Every
// step is an audit event (the subscription.* actions of licensing), so
// webhooks and emails follow through the outbox.
//
// Billing providers (Stripe, or a local provider through the generic
// signed endpoint) report what happened as ProviderEvents; Apply turns them
// into the same lifecycle. A provider's subscription follows the
// provider's state by one rule, Decide (rule.go): status, items (price and
// quantity), period, trial end, cancel date and pause map to the plan, the
// seats, the licenses' expiry and whether they run, are suspended or end.
// Each unit of quantity buys the policy's seats; more than one unit gives
// the licenses their own seat count (License.SeatsOverride, applySeats).
// Events only say that the state changed: a subscription is brought to the
// newest state seen, judged by the object's own period, time and status
// order, not by delivery order. Apply is idempotent by provider event id (a
// unique claim in the subscription's transaction) and writes a row only
// column by column over the version it read. Invoices record payments (the
// period a subscription line pays, never a proration's); refunds and
// disputes do what the policy's refund_action and dispute_action say. A
// plan the licenses cannot take (fewer seats than machines) is applied and
// flagged (OverSeats), never refused.

// Trials are policies with trial metadata (licensing.Policy.Trial); the
// one-trial-per-machine rule is enforced at activation (licensing).
//
// Like licensing/release, the package depends on licensing only; its Store
// is implemented by storage.
package subscription
