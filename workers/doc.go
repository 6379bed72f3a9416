// Package workers is Narcidi's background automation: the relay that hands
// outbox events and pending deliveries to the queue, the task handlers
// (fan-out, webhook and email delivery, the expiry and offline scans, the
// subscription sweep, the dashboard roll-up, clean-up) and the two ways of
// running them:
//
//   - Worker: asynq on Redis, for `narcidi worker`. Any number of worker
//     processes can run at once: task ids (the event id, the delivery id and
//     its generation) keep the queue free of duplicates, periodic tasks are
//     unique per run, and every change a task makes is conditional in the
//     database, so two workers never both send a notice.
//   - Local: the same handlers in-process, for `narcidi serve` without
//     Redis (make run). The database stays the source of truth, so what
//     was pending when the process stopped is picked up at the next start.
//
// The database is the outbox: an event or a delivery is handed to the queue
// until it is done, and handed again when its hand-off is older than
// Config.StaleAfter (Redis restarted empty, say). Redis down therefore
// delays alerts and loses none; the receiver may see an event twice only if
// a send succeeded and its result could not be recorded, and de-duplicates
// by the event id in the payload.
package workers
