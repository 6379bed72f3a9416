package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/invopop/jsonschema"
	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// The OpenAPI 3.1 document is generated from the route table and the Go
// types the handlers decode and encode (JSON Schema 2020-12 by
// invopop/jsonschema), so it describes exactly what the server does.

var pathParam = regexp.MustCompile(`:([a-z_]+)`)

func openapiPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

func operationID(r route) string {
	id := strings.ToLower(r.method)
	for _, part := range strings.FieldsFunc(r.path, func(c rune) bool { return c == '/' || c == '-' || c == '.' || c == ':' }) {
		if part == "v1" || part == "actions" {
			continue
		}
		id += strings.ToUpper(part[:1]) + part[1:]
	}
	return id
}

var rawJSON = reflect.TypeOf(json.RawMessage{})

func schemaOf(v any) map[string]any {
	r := &jsonschema.Reflector{
		DoNotReference: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == rawJSON {
				return &jsonschema.Schema{} // any JSON value
			}
			// licensing.Nullable[T]: T or null (null clears the value).
			if n, ok := reflect.New(t).Elem().Interface().(interface{ NullableOf() any }); ok {
				inner := (&jsonschema.Reflector{DoNotReference: true}).Reflect(n.NullableOf())
				inner.Version, inner.ID = "", ""
				return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{inner, {Type: "null"}}}
			}
			return nil
		},
	}
	b, err := json.Marshal(r.Reflect(v))
	if err != nil {
		panic("openapi: " + err.Error()) // the types are fixed at build time; a failure is a bug
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "$schema")
	delete(m, "$id")
	return m
}

func buildOpenAPI() []byte {
	paths := map[string]map[string]any{}
	for _, r := range routeTable() {
		op := map[string]any{
			"operationId": operationID(r),
			"summary":     r.summary,
			"tags":        []string{r.tag},
		}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": false, "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if r.idempotent {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": false,
				"description": "retrying with the same key replays the first answer", "schema": map[string]any{"type": "string", "maxLength": 255}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.in != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": schemaOf(r.in)}},
			}
		}
		success := map[string]any{"description": httpText(r.status)}
		if r.out != nil {
			success["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(r.out)}}
		}
		responses := map[string]any{
			strconv.Itoa(r.status): success,
			"default":              map[string]any{"$ref": "#/components/responses/Problem"},
		}
		if r.path == "/v1/client/activate" {
			responses["200"] = success // the same machine activating again
		}
		if r.path == "/.well-known/jwks.json" {
			success["content"] = map[string]any{"application/jwk-set+json": map[string]any{"schema": schemaOf(r.out)}}
		}
		op["responses"] = responses
		if r.perm != "" {
			op["security"] = []map[string][]string{{"bearer": {}}}
			op["x-permission"] = string(r.perm)
		}
		p := openapiPath(r.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Narcidi API",
			"version": "1",
			"description": "License and release control for NzilaCode software. Errors are application/problem+json (RFC 9457) " +
				"with a stable code. Admin routes take a bearer token whose role must grant the operation's x-permission.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"responses": map[string]any{"Problem": map[string]any{
				"description": problemDescription(),
				"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemSchema()}},
			}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("openapi: " + err.Error())
	}
	return b
}

func httpText(status int) string {
	switch status {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	}
	return strconv.Itoa(status)
}

func (s *Server) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.openapiDoc)
}

// problemDescription lists every code with its HTTP status (the table of
// errors.go), so the rendered reference shows them with the schema.
func problemDescription() string {
	var b strings.Builder
	b.WriteString("An error (application/problem+json). Switch on `code`, which is stable:\n\n| code | HTTP status |\n| --- | --- |\n")
	for _, c := range licensing.Codes {
		fmt.Fprintf(&b, "| `%s` | %d |\n", c, Status(licensing.Errorf(c, "")))
	}
	return b.String()
}

// problemSchema is the problem+json schema with its code listed: the whole
// vocabulary, so clients can switch on it.
func problemSchema() map[string]any {
	sch := schemaOf(verifier.Problem{})
	if props, ok := sch["properties"].(map[string]any); ok {
		if code, ok := props["code"].(map[string]any); ok {
			code["enum"] = licensing.Codes
		}
	}
	return sch
}
