package users_test

import (
	"os"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// TestMain makes the package's password hashes cheap (argon2id at its
// smallest cost): the tests here make many, and the real cost is tested
// in licensing.
func TestMain(m *testing.M) {
	licensing.UseCheapPasswordHashes()
	os.Exit(m.Run())
}
