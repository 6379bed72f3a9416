package keys

import (
	"bytes"
	"errors"
	"testing"
)

func TestMasterCheck(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	check, err := NewMasterCheck(master)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		master []byte
		check  string
		want   error
	}{
		{"same key", master, check, nil},
		{"another key", bytes.Repeat([]byte{8}, MasterKeySize), check, ErrWrongMasterKey},
		{"not base64", master, "!!", ErrWrongMasterKey},
		{"truncated", master, check[:10], ErrWrongMasterKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyMasterCheck(tc.master, tc.check); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// With NoGenerate a missing master.key is an error, and none is written.
func TestLoadMasterKeyNoGenerate(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadMasterKey(MasterKeyConfig{DataDir: dir, NoGenerate: true}); !errors.Is(err, ErrMasterKeyMissing) {
		t.Fatalf("got %v", err)
	}
	if _, generated, err := LoadMasterKey(MasterKeyConfig{DataDir: dir}); !generated || err != nil {
		t.Fatalf("without NoGenerate: %v %v", generated, err)
	}
	if _, generated, err := LoadMasterKey(MasterKeyConfig{DataDir: dir, NoGenerate: true}); generated || err != nil {
		t.Fatalf("existing key with NoGenerate: %v %v", generated, err)
	}
}
