package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// statusOf is the only code-to-status table of Narcidi. Every code of
// licensing.Codes has a deliberate entry (TestStatusTableCoversVocabulary):
// a code left out would answer 500 for what may be a client mistake.
var statusOf = map[licensing.Code]int{
	licensing.EInvalid:          http.StatusUnprocessableEntity,
	licensing.EMalformed:        http.StatusBadRequest,
	licensing.ENotFound:         http.StatusNotFound,
	licensing.EConflict:         http.StatusConflict,
	licensing.EUnauthorized:     http.StatusUnauthorized,
	licensing.EForbidden:        http.StatusForbidden,
	licensing.ESeatLimit:        http.StatusConflict,
	licensing.ELicenseSuspended: http.StatusForbidden,
	licensing.ELicenseRevoked:   http.StatusForbidden,
	licensing.ELicenseExpired:   http.StatusForbidden,
	licensing.ENotActivated:     http.StatusNotFound,
	licensing.ETooLarge:         http.StatusRequestEntityTooLarge,
	licensing.EUnsupportedMedia: http.StatusUnsupportedMediaType,
	licensing.ERateLimited:      http.StatusTooManyRequests,
	licensing.EUnavailable:      http.StatusServiceUnavailable,
	licensing.EInternal:         http.StatusInternalServerError,
	licensing.ENotEntitled:      http.StatusForbidden,
	// A blocked machine is refused for good on this license (an admin must
	// unblock it): forbidden, like a revoked license.
	licensing.EMachineBlocked:   http.StatusForbidden,
	licensing.EMethodNotAllowed: http.StatusMethodNotAllowed,
	// One trial per machine per product: the machine's state clashes with
	// the request, as a duplicate would.
	licensing.ETrialUsed: http.StatusConflict,
	// Activation rules (issue 27): the fingerprint is taken in the
	// policy's uniqueness scope, as a duplicate; a cap of activations or
	// deactivations per period is a rate limit the license reached; a seat
	// held for less than its minimum clashes with the request.
	licensing.EFingerprintTaken:  http.StatusConflict,
	licensing.EActivationLimited: http.StatusTooManyRequests,
	licensing.ESeatHeld:          http.StatusConflict,
	// The meter's state clashes with the increment, as a full license's
	// does with an activation (seat_limit).
	licensing.EMeterExhausted: http.StatusConflict,
	// The license may keep running, not have this release: forbidden, as
	// a missing entitlement is.
	licensing.EUpdatesExpired: http.StatusForbidden,
}

// fiberCodes translates fiber's own errors (routing, body limit, protocol)
// into the domain vocabulary.
var fiberCodes = map[int]licensing.Code{
	fiber.StatusNotFound:                    licensing.ENotFound,
	fiber.StatusMethodNotAllowed:            licensing.EMethodNotAllowed, // fiber has set Allow
	fiber.StatusRequestEntityTooLarge:       licensing.ETooLarge,
	fiber.StatusRequestHeaderFieldsTooLarge: licensing.ETooLarge,
	fiber.StatusUnsupportedMediaType:        licensing.EUnsupportedMedia,
	fiber.StatusTooManyRequests:             licensing.ERateLimited,
	fiber.StatusRequestTimeout:              licensing.EMalformed,
	fiber.StatusBadRequest:                  licensing.EMalformed,
}

const problemType = "https://narcidi.nzilacode.com/problems/"

// errorHandler answers every error as application/problem+json and logs it
// once: server faults at error level with their cause, client mistakes at
// debug level.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code, message := licensing.ErrorCode(err), licensing.ErrorMessage(err)
		var fe *fiber.Error
		if errors.As(err, &fe) {
			code = fiberCodes[fe.Code]
			if code == "" {
				code = licensing.EInternal
			}
			message = fe.Message
		}
		status, ok := statusOf[code]
		if !ok {
			status = http.StatusInternalServerError
		}
		rid := requestID(c)
		if rid == "" {
			// Refused before the middleware ran (oversized body): still give
			// the caller an id to quote.
			rid = utils.UUIDv4()
			c.Set(fiber.HeaderXRequestID, rid)
		}
		if status >= 500 && !errors.Is(err, errDraining) { // draining is planned, not a failure
			log.Error("request failed", "request_id", rid, "method", c.Method(), "path", c.Path(), "code", code, "err", err)
		} else {
			log.Debug("request refused", "request_id", rid, "method", c.Method(), "path", c.Path(), "code", code, "detail", message)
		}
		// Every answer that asks the caller to come back says when; the rate
		// limiter sets its own, exact Retry-After before refusing.
		if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
			c.Set(fiber.HeaderRetryAfter, "5")
		}
		if status == http.StatusUnauthorized {
			challenge := `Bearer realm="narcidi"`
			if strings.HasPrefix(c.Path(), QueueMonitorPath) {
				// The queue monitor is used from a browser (see queues.go).
				challenge = `Basic realm="narcidi queues", charset="UTF-8"`
			}
			c.Set(fiber.HeaderWWWAuthenticate, challenge)
		}
		problem := verifier.Problem{
			Type: problemType + string(code), Title: http.StatusText(status), Status: status,
			Detail: localDetail(c.Get(fiber.HeaderAcceptLanguage), code, licensing.ErrorField(err), message, status), Code: string(code), RequestID: rid,
		}
		if status < 500 {
			problem.InvalidParams = invalidParams(err, message)
		}
		c.Set(fiber.HeaderContentType, "application/problem+json")
		return c.Status(status).JSON(problem, "application/problem+json")
	}
}

// invalidParams names the fields a refusal is about: every unknown member
// of a body (the strict reader's unknownMembers), else the error's Field
// with message as the reason; nil when it names none.
func invalidParams(err error, message string) []verifier.InvalidParam {
	var u *unknownMembers
	if errors.As(err, &u) {
		params := make([]verifier.InvalidParam, len(u.names))
		for i, name := range u.names {
			params[i] = verifier.InvalidParam{Name: name, Reason: "unknown field"}
		}
		return params
	}
	if field := licensing.ErrorField(err); field != "" {
		return []verifier.InvalidParam{{Name: field, Reason: message}}
	}
	return nil
}

// problemWords are the common refusals whose detail follows the caller's
// Accept-Language (the catalog keys of licensing/i18n); code never does.
var problemWords = map[licensing.Code]string{
	licensing.EInvalid: "problem.invalid", licensing.ENotFound: "problem.not_found", licensing.EUnauthorized: "problem.unauthorized",
	licensing.EForbidden: "problem.forbidden", licensing.ERateLimited: "problem.rate_limited", licensing.EConflict: "problem.conflict",
}

// localDetail is a problem's detail in the language of acceptLanguage: a
// caller that asks for none, or for English, gets the precise message;
// another language gets the catalog's sentence for a common refusal
// (naming the field of an invalid one), the message for any other.
func localDetail(acceptLanguage string, code licensing.Code, field, message string, status int) string {
	key, ok := problemWords[code]
	if acceptLanguage == "" || !ok || status >= 500 {
		return message
	}
	lang := i18n.Choose(acceptLanguage)
	if lang == i18n.English {
		return message
	}
	p := i18n.For(lang, "")
	if code == licensing.EInvalid && field != "" {
		return p.T("problem.invalid_field", "field", field)
	}
	return p.T(key)
}
