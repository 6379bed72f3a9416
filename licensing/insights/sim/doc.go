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
//     networks; three in ten instead re-activate one machine image under
//     new host names (cloned machines), and one in five reports clock
//     tampering; it is extended.
//   - delinquent: a payment fails 15 to 45 days before expiry (a payment
//     record, past_due); three in four are suspended for it 1 to 20 days
//     before expiry, their renewals are refused from then on and they are
//     not extended (churned, and blocked: the block-risk ground truth);
//     the others pay within 3 to 10 days and are extended.
//
// Steady licenses carry noise the models must not mistake for the other
// profiles: holidays, travellers whose machines use many networks, a
// machine replaced now and then, a seat-limit refusal on 1% of the days
// all seats are held, a payment a few days late (3%), and rarely a clock
// tampering report. Extensions happen the day before expiry. Activations
// name the machine's host name.
//
// Config.Mix adds the profiles of issue 26 (ExtraProfiles; named mixes in
// Mixes): quiet non-renewers (35-60 % less use than their own normal, no
// machine leaving, not extended), seasonal and erratic users (loyal, with
// slack months or weeks drawn afresh), large-plan sharers (25 seats
// rotated through outsiders' machines), growers on the largest plan (50
// seats), VM farms (one machine image on managed hosts of one network),
// CI fleets (runners activated and deactivated the same day, within the
// seats) and card lapses (a card failing 3-7 days before expiry, retried
// with attempts and a dunning window, not extended). The traps (erratic,
// seasonal, VM farms, CI fleets) renew: a score raised on them is a false
// positive.
//
// The same Config (seed included) always writes the same bytes.
package sim
