// Package api is Narcidi's HTTP interface (fiber v2): the client API that
// apps call through the verifier SDK (/v1/client/...), the admin API
// (/v1/products, /v1/licenses, ...), the public key set
// (/.well-known/jwks.json) and health checks.
//
// errors.go is the one place where domain error codes become HTTP statuses
// and RFC 9457 problem documents.
package api
