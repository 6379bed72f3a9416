// Command narcidi is Narcidi's one binary: the server (serve), the
// background worker on Redis (worker), schema migrations (migrate), key
// custody (keys: generate, list, jwks, root generate, certify, attach), the
// admin commands (licenses, machines, customers, tokens, subscriptions,
// activate-offline), console users (users create), release publishing
// (release), demo data (seed) and the container health check (healthcheck).
//
// It only dispatches commands: the application is built by package wiring
// (configuration, stores, services, keys, workers, server), the logic lives
// in licensing, storage, keys, workers and api. The admin commands call a
// running server through the typed client api/apiclient (cli.go).
// compat.go keeps the names the tests use for what moved to wiring.
package main
