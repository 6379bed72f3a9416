// Package api is Narcidi's HTTP interface (fiber v2): the client API that
// apps call through the verifier SDK (/v1/client/...), the admin API
// (/v1/products, /v1/licenses, ...), the public key set
// (/.well-known/jwks.json), health checks, metrics (metrics.go) and the
// billing providers' webhooks (billing/). Subpackages: apiclient (the typed
// admin client the CLI uses) and console (the web console's pages).
//
// routes.go is the one route table: the router, the OpenAPI document and
// the permission of every route come from it. The handlers are thin: they
// decode strictly (decode.go, strictjson.go), call a licensing service and
// encode.
//
// errors.go is the one place where domain error codes become HTTP statuses
// and RFC 9457 problem documents.
package api
