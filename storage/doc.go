// Package storage implements the narrow stores of the licensing services
// (views.go), the release store and the idempotency records of the API
// (idempotency.go, wired to api by cmd) with gorm, on PostgreSQL in
// production and on a SQLite file (pure Go, no cgo) as the embedded default.
//
// The schema is built by versioned migrations (migrations.go) that run on
// both databases; rows are mapped to domain types in models.go, and database
// failures are translated to licensing error codes in errors.go.
//
// # Writes: never a whole row read earlier
//
// A request that reads a row, changes it in memory and writes every column
// back undoes whatever another request committed in between: a session's
// revocation, a user's disabling, a spent one-time code. PostgreSQL runs at
// READ COMMITTED, so a read inside a transaction does not stop that. Every
// write therefore does one of:
//
//   - set only the columns its use case changes, conditionally on the state
//     it depends on (UPDATE ... SET col = ? WHERE id = ? AND <state read>),
//     and check the rows affected: none means another request won, which
//     the method reports with a licensing code (ENotFound, EConflict) named
//     in its interface comment. One-time secrets (TOTP steps, recovery
//     codes, links) are spent this way, so only one request can win;
//   - or read the row with a lock (SELECT ... FOR UPDATE: LockLicense,
//     LockSubscription) inside the transaction that writes it.
//
// SQLite serializes transactions (one connection, BEGIN IMMEDIATE), but a
// read outside a transaction followed by a write is as racy there as on
// PostgreSQL. Tests force the interleaving (a hook between the read and the
// write, or two transactions) on both databases: users_test.go and
// licensing/users/race_test.go show the pattern.
//
// Look-alikes, kept apart on purpose: a table's row struct and the struct
// its migration declares list the same columns (the migration's is frozen
// as it created the table); every repository (Users, Portal, Releases...)
// is the same few lines of a view over Store; the SQLite and PostgreSQL
// branches of a bulk write say one statement in two dialects. What they
// share is a function: getRow, listRows, whereEqual, listLog, valueRows,
// linkTable and sessionTable.
package storage
