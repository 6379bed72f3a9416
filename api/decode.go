package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"reflect"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// decodeJSON reads the request body into v strictly: the content type must
// be JSON, exactly one JSON value is allowed, and member names must be
// exactly v's json names, each at most once, with no NUL character in any
// string (see checkStrict).
// Nothing is written before the whole body is decoded, so a bad body changes
// no state.
func decodeJSON(c *fiber.Ctx, v any) error {
	return decodeBody(c.Get(fiber.HeaderContentType), c.Body(), v)
}

// decodeBody is decodeJSON without fiber, so it can be fuzzed directly.
func decodeBody(contentType string, body []byte, v any) error {
	if !isJSONMediaType(contentType) {
		return licensing.Errorf(licensing.EUnsupportedMedia, "the body must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return licensing.Errorf(licensing.EMalformed, "the body must hold a single JSON object")
	}
	// After encoding/json, so that syntax and type errors are reported as
	// such; v is thrown away on an error here, as on any other.
	return checkStrict(body, reflect.TypeOf(v))
}

// isJSONMediaType tells whether contentType names application/json. The
// two spellings every client sends are matched as strings; anything else is
// parsed (case, parameters, spaces), which allocates.
func isJSONMediaType(contentType string) bool {
	if contentType == fiber.MIMEApplicationJSON || contentType == fiber.MIMEApplicationJSONCharsetUTF8 {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == fiber.MIMEApplicationJSON
}

// decodeError is the refusal of a body encoding/json did not decode. When
// it is about the body's members (EInvalid: an unknown one, which
// encoding/json names one at a time and without its path, a type, a
// value's own UnmarshalJSON) the strict walk speaks first if it refuses the
// body too: it names every unknown member, as invalid_params.
func decodeError(err error, body []byte, t reflect.Type) error {
	refusal := jsonError(err)
	if licensing.ErrorCode(refusal) == licensing.EInvalid {
		if strict := checkStrictTokens(body, t); strict != nil {
			return strict
		}
	}
	return refusal
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return licensing.Errorf(licensing.EMalformed, "the body is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return licensing.Errorf(licensing.EMalformed, "the body is not valid JSON")
	case errors.As(err, &typ):
		return licensing.Errorf(licensing.EInvalid, "field %q must be of JSON type %s", typ.Field, typ.Type.Kind())
	}
	// json reports unknown fields as: json: unknown field "x" (decodeError
	// asks the strict walk first, which names them all)
	return licensing.Errorf(licensing.EInvalid, "%s", trimJSONPrefix(err.Error()))
}

func trimJSONPrefix(s string) string {
	const p = "json: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
