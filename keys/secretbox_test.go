package keys

import (
	"bytes"
	"testing"
)

func TestSecretBox(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	box, err := NewSecretBox(master, "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal([]byte("whsec_x"), []byte("webhook:1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("whsec_x")) {
		t.Fatal("sealed value holds the clear secret")
	}
	if got, err := box.Open(sealed, []byte("webhook:1")); err != nil || string(got) != "whsec_x" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, []byte("webhook:2")); err == nil {
		t.Fatal("opened with another aad")
	}
	other, _ := NewSecretBox(master, "other")
	if _, err := other.Open(sealed, []byte("webhook:1")); err == nil {
		t.Fatal("opened with another purpose's key")
	}
	if _, err := NewSecretBox(master[:8], "x"); err == nil {
		t.Fatal("short master key accepted")
	}
}
