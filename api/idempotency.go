package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// IdempotencyRecord remembers the answer to a create request sent with an
// Idempotency-Key, so a retry gets the same answer instead of a duplicate.
type IdempotencyRecord struct {
	Owner       string // who sent it: the API token id
	Key         string
	RequestHash string // method, path and body: the same key with another request is refused
	Status      int    // 0 while the first request is still running
	Body        []byte
	CreatedAt   time.Time
}

// IdempotencyStore keeps idempotency records (storage implements it). Errors
// are the licensing vocabulary (EUnavailable, EInternal). Safe for
// concurrent use.
type IdempotencyStore interface {
	// ClaimIdempotencyKey records r as in progress and returns nil, or
	// returns the existing record of the same owner and key: finished
	// (replay it) or still running (Status 0: the caller answers
	// conflict). Records older than a day, and claims unfinished for a
	// minute (their request presumably died), are replaced.
	ClaimIdempotencyKey(ctx context.Context, r *IdempotencyRecord) (*IdempotencyRecord, error)
	// CompleteIdempotencyKey stores the answer of a claimed record.
	CompleteIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error
	// ReleaseIdempotencyKey forgets a claim (its request failed and may be
	// retried).
	ReleaseIdempotencyKey(ctx context.Context, owner, key string) error
}

// idempotent makes a creating POST safe to retry: with an Idempotency-Key
// header, the first answer is stored and replayed for the same key and
// request; the same key with another request is refused (422), and a retry
// while the first is still running gets 409. Server errors are not stored,
// so they can be retried.
func (s *Server) idempotent(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	if key == "" {
		return c.Next()
	}
	if len(key) > 255 {
		return licensing.Errorf(licensing.EInvalid, "Idempotency-Key is longer than 255 characters")
	}
	a := actor(c)
	if a == nil {
		return c.Next()
	}
	h := sha256.New()
	h.Write([]byte(c.Method() + " " + c.Path() + "\n"))
	h.Write(c.Body())
	rec := &IdempotencyRecord{Owner: a.TokenID, Key: key, RequestHash: hex.EncodeToString(h.Sum(nil)), CreatedAt: time.Now().UTC()}
	ctx := c.UserContext()
	prev, err := s.idempotency.ClaimIdempotencyKey(ctx, rec)
	if err != nil {
		return err
	}
	if prev != nil {
		switch {
		case prev.RequestHash != rec.RequestHash:
			return licensing.Errorf(licensing.EInvalid, "this Idempotency-Key was used for another request")
		case prev.Status == 0:
			return licensing.Errorf(licensing.EConflict, "a request with this Idempotency-Key is still being processed")
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		if prev.Status >= 400 {
			c.Set(fiber.HeaderContentType, "application/problem+json")
		}
		return c.Status(prev.Status).Send(prev.Body)
	}
	err = c.Next()
	if err != nil {
		// Let the error handler write the answer now so it can be stored.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	if status := c.Response().StatusCode(); status < 500 {
		rec.Status, rec.Body = status, append([]byte(nil), c.Response().Body()...)
		return s.idempotency.CompleteIdempotencyKey(ctx, rec)
	}
	return s.idempotency.ReleaseIdempotencyKey(ctx, rec.Owner, rec.Key)
}
