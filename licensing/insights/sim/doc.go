// Package sim writes simulated license histories with known ground truth,
// in the history import format of licensing/insights, for the tests and
// benchmarks of the insights models (issue 14).
//
// Every license gets one behaviour (a profile), in the proportions
// configured, exactly (a seeded shuffle assigns them):
//
//   - steady: uses part of its seats most days and is extended at expiry;
//     a tenth of them take a quiet spell of two to three weeks (a holiday),
//     so a dip in use alone does not mean churn.
//   - churner: behaves as steady until 20 to 70 days before expiry, then
//     its use fades (fewer active days, machines deactivated) and it is
//     not extended: it churns.
//   - grower: keeps every seat taken, and new machines are refused for the
//     seat limit on about a third of the days; it is extended.
//   - sharer: fingerprints cycle through its seats (a machine is
//     deactivated and a new one activated every few days), from many
//     networks; it is extended.
//
// The same Config (seed included) always writes the same bytes.
package sim
