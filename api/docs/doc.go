// Package docs serves the API reference at /docs: Swagger UI rendering the
// server's own /openapi.json, interactively (operations, request and
// response schemas, the problem+json error codes, "try it out").
//
// Swagger UI (Apache-2.0, github.com/swagger-api/swagger-ui) comes
// vendored in the Go module github.com/swaggo/files/v2, pinned in go.mod:
// the binary serves every file, and the page makes no request to another
// host — the validator badge is off (validatorUrl "none"), there is no CDN
// and no web font, and a Content-Security-Policy of its own allows only
// this server. The initializer is a served file (static/init.js), not an
// inline script.
package docs
