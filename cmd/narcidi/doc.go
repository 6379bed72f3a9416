// Command narcidi is Narcidi's one binary: the server (serve), the
// background worker on Redis (worker), schema migrations (migrate), key
// custody (keys: generate, list, jwks, root generate, certify, attach), the
// admin commands (licenses, machines, customers, tokens, subscriptions,
// activate-offline), console users (users create), release publishing
// (release), demo data (seed) and the container health check (healthcheck).
//
// It only parses configuration and wires the packages together; the logic
// lives in licensing, storage, keys, workers and api. Configuration is typed
// and checked once at load (config.go): each command reads only its own
// NARCIDI_* variables, a flag wins over its variable, and help and errors
// never show a secret's value. The admin commands call a running server
// through the typed client api/apiclient (cli.go). Before the keys are
// opened, the master key is checked against the database (masterkey.go), so
// a start with another key, or with master.key deleted, stops.
package main
