// Package storage implements the narrow stores of the licensing services
// (views.go), the release store and the idempotency records of the API
// (idempotency.go, wired to api by cmd) with gorm, on PostgreSQL in
// production and on a SQLite file (pure Go, no cgo) as the embedded default.
//
// The schema is built by versioned migrations (migrations.go) that run on
// both databases; rows are mapped to domain types in models.go, and database
// failures are translated to licensing error codes in errors.go.
package storage
