// Package insights is the insights concern of licensing (issue 14): the
// telemetry of the client API kept small, and (to come) the features and
// scores computed from it.
//
// Telemetry is daily roll-ups, per license and per machine, of what the
// client API answered (activations, renewals, heartbeats, validations, the
// distinct /24 or /48 networks and platforms seen, each a small bounded
// set), and one event per refusal that matters (an activation refused for
// the seat limit, by the policy's activation cap or for a blocked machine,
// a refused renewal or heartbeat). The seat-limit refusals feed the
// upgrade score and the activation-cap refusals the sharing score: they
// are the refusals behind the license.seat_limit_reached and
// license.activation_limited events, counted one by one where the events
// are written at most once an hour.
// Leasing hands uses and refusals to a Recorder (licensing.TelemetryRecorder)
// that answers at once and writes them behind in batches, as the last-seen
// stamps are (storage.LastSeenBatcher): one statement per table per batch,
// counts added to the stored ones, so several instances can write the same
// day. Service.Cleanup enforces the retention.
//
// Job (job.go) is the scheduled scoring: it builds a Snapshot of every
// active license, trains a Scorer (the Engine) on the installation's past
// outcomes (its own, and those Import loaded from a history), stores the
// scores (ScoreStore) and announces each upward crossing of a kind's
// threshold once, as an insight.* event in the outbox. Scores reads them
// for the API.
//
// Issue 26: features read each license against its own normal and its
// plan's seats, and the payment and dunning state (PaymentStates, over the
// subscriptions); fleets are told from shared keys; evaluate prints
// reliability tables, rates per label profile and a rolling backtest of
// the daily job's logic (backtest.go); each run keeps a ModelReport for
// the console.
//
// Store is the narrow store of the concern (implemented by storage.Insights).
// The sim subpackage writes simulated histories with known ground truth in
// the JSON-lines import format (README, "Insights").
package insights
