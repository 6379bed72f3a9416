package users

import (
	"encoding/json"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The argon2id hashing and the length rule are licensing's, shared with
// the customer portal's passwords.
var hashPassword, verifyPassword, checkPassword = licensing.HashPassword, licensing.VerifyPassword, licensing.CheckPassword

func snapshot(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
