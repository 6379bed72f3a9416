package keys

import (
	"encoding/base64"
	"errors"
)

// The master-key check is a value sealed with the master key and kept in
// the database the first time a server uses it. A later start that cannot
// open it runs with another master key: its leases would not verify
// against the keys the apps know, webhook secrets would not open, and
// release metadata would change signer. Such a start must stop instead.

// masterCheckText is what the check seals; the aad ties it to its use.
const (
	masterCheckText = "narcidi master key check v1"
	masterCheckAAD  = "master key check"
)

// ErrWrongMasterKey says the master key is not the one the database was
// used with.
var ErrWrongMasterKey = errors.New("the master key is not the one this database was used with")

// NewMasterCheck seals the check value of master (base64 text for the
// database).
func NewMasterCheck(master []byte) (string, error) {
	box, err := NewSecretBox(master, boxMasterCheck)
	if err != nil {
		return "", err
	}
	sealed, err := box.Seal([]byte(masterCheckText), []byte(masterCheckAAD))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// VerifyMasterCheck returns ErrWrongMasterKey unless check was made by
// NewMasterCheck with master.
func VerifyMasterCheck(master []byte, check string) error {
	box, err := NewSecretBox(master, boxMasterCheck)
	if err != nil {
		return err
	}
	sealed, err := base64.StdEncoding.DecodeString(check)
	if err != nil {
		return ErrWrongMasterKey
	}
	plain, err := box.Open(sealed, []byte(masterCheckAAD))
	if err != nil || string(plain) != masterCheckText {
		return ErrWrongMasterKey
	}
	return nil
}
