package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	Body        []byte // the answer, sealed by the Server before it is stored
	CreatedAt   time.Time
}

// IdempotencyStore keeps idempotency records (storage implements it,
// through a conversion in cmd). Errors
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

// sealedPrefix starts every stored answer: it is sealed (AES-GCM, see
// Config.IdempotencyBox), because the answers of creating requests hold
// secrets shown once (API token secrets, license keys, webhook secrets)
// that must never rest in clear. Answers stored in clear by versions
// before sealing are JSON, so they never start with it; answers sealed by
// versions whose seal left the status out ("sealed-v1:") are not replayed
// either (the status column could have been altered).
const sealedPrefix = "sealed-v2:"

// replayAAD binds a sealed answer to its record and its status: a sealed
// body copied onto another owner, key or request does not open, nor one
// whose stored status was changed (a refusal replayed as a success).
func replayAAD(r *IdempotencyRecord) []byte {
	return fmt.Appendf(nil, "idempotency replay v2\x00%d:%s\x00%d:%s\x00%s\x00%d", len(r.Owner), r.Owner, len(r.Key), r.Key, r.RequestHash, r.Status)
}

// sealReplay seals the answer body of r in place.
func (s *Server) sealReplay(r *IdempotencyRecord) error {
	sealed, err := s.idempotencyBox.Seal(r.Body, replayAAD(r))
	if err != nil {
		return &licensing.Error{Code: licensing.EInternal, Message: "cannot store the answer for replay", Err: err, Op: "api.sealReplay"}
	}
	r.Body = append([]byte(sealedPrefix), sealed...)
	return nil
}

// openReplay returns the answer body of a finished record, or ok false for
// an answer stored in clear by an older version (unusable: the caller
// forgets it, as if it had expired). A sealed answer that does not open
// (altered or moved in the database, or another master key) is an internal
// error: nothing of it is sent.
func (s *Server) openReplay(r *IdempotencyRecord) (body []byte, ok bool, err error) {
	sealed, found := bytes.CutPrefix(r.Body, []byte(sealedPrefix))
	if !found {
		return nil, false, nil
	}
	body, err = s.idempotencyBox.Open(sealed, replayAAD(r))
	if err != nil {
		return nil, false, &licensing.Error{Code: licensing.EInternal, Message: "the stored answer of this Idempotency-Key cannot be read",
			Err: err, Op: "api.openReplay"}
	}
	return body, true, nil
}

// claim claims the Idempotency-Key of rec, or returns the record to answer
// with (its body opened). An answer stored in clear by an older version is
// forgotten first, so the request runs again and no clear secret is replayed
// or left at rest.
func (s *Server) claim(ctx context.Context, rec *IdempotencyRecord) (*IdempotencyRecord, error) {
	for range 2 {
		prev, err := s.idempotency.ClaimIdempotencyKey(ctx, rec)
		if err != nil || prev == nil || prev.Status == 0 || prev.RequestHash != rec.RequestHash {
			return prev, err
		}
		body, ok, err := s.openReplay(prev)
		if err != nil {
			return nil, err
		}
		if ok {
			prev.Body = body
			return prev, nil
		}
		if err := s.idempotency.ReleaseIdempotencyKey(ctx, prev.Owner, prev.Key); err != nil {
			return nil, err
		}
	}
	// Another request stored a clear answer again in between: only an older
	// version of the server still running beside this one does that.
	return nil, licensing.Errorf(licensing.EConflict, "a request with this Idempotency-Key is still being processed")
}

// idempotent makes a creating POST safe to retry: with an Idempotency-Key
// header, the first answer is stored (sealed) and replayed for the same key
// and request, secrets included, so a client that lost the answer gets the
// secret it needs; the same key with another request is refused (422), and
// a retry while the first is still running gets 409. Server errors are not
// stored, so they can be retried. Without an IdempotencyStore the header is
// ignored.
func (s *Server) idempotent(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	if key == "" || s.idempotency == nil {
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
	rec := &IdempotencyRecord{Owner: a.TokenID, Key: key, RequestHash: hex.EncodeToString(h.Sum(nil)), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	ctx := c.UserContext()
	prev, err := s.claim(ctx, rec)
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
		if err := s.sealReplay(rec); err != nil {
			return errors.Join(err, s.idempotency.ReleaseIdempotencyKey(ctx, rec.Owner, rec.Key))
		}
		return s.idempotency.CompleteIdempotencyKey(ctx, rec)
	}
	return s.idempotency.ReleaseIdempotencyKey(ctx, rec.Owner, rec.Key)
}
