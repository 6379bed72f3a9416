package keys

import (
	"encoding/hex"
	"testing"
)

// The derived keys of every purpose for the master key 00 01 … 1f, as the
// first release wrote them. A purpose string changed anywhere makes its row
// fail: data written under the old key (hashes of license keys, sealed
// secrets, signing-key files) would no longer be readable.
var purposeVectors = []struct{ purpose, key string }{
	{PurposeSecretHash, "47aa7b3a6454676f7af6011b3af70b545b3066696cf0062f81c366fefe8112cd"},
	{PurposeReleaseMetadata, "3212a43ba4440e939d461ac5a297009cb2fcfe9450aaf609c74c686d8303dde7"},
	{PurposeLocalBlobURL, "aa25b3c42aee8932790025bc061397969182ad367443761f602f98eee386ed1c"},
	{purposeKeyFiles, "38fa3fee9a5bc6ae0e3162e7ddf0135214422c9bdfe390555390196e6de7aed8"},
	{secretBoxPurpose + BoxWebhooks, "909253945defdb73bb285b291299c7098558ae6cd8a827ace44a841e116c8704"},
	{secretBoxPurpose + BoxConsoleTOTP, "f278cdfb4ff95a5d011462595dd1b4a604f39c693918e555cfa6f2952d1b910b"},
	{secretBoxPurpose + BoxIdempotency, "860820b3d7fc69d6917cdda85ef5a4754faa6348a263829a604e408686cb0cfb"},
	{secretBoxPurpose + boxMasterCheck, "b89ed8160b062d24ba81accf26a3ffe0aa8e96b59549a190d6a0172959d12998"},
}

func vectorMaster() []byte {
	m := make([]byte, 32)
	for i := range m {
		m[i] = byte(i)
	}
	return m
}

func TestPurposesArePinned(t *testing.T) {
	seen := map[string]string{}
	for _, v := range purposeVectors {
		k, err := DeriveKey(vectorMaster(), v.purpose)
		if err != nil {
			t.Fatal(err)
		}
		got := hex.EncodeToString(k)
		if got != v.key {
			t.Errorf("purpose %q derives %s, want %s: stored data written under this purpose would not open", v.purpose, got, v.key)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("purposes %q and %q derive the same key", v.purpose, other)
		}
		seen[got] = v.purpose
	}
}

// A secret sealed by an earlier release opens today: the box's purpose,
// cipher and layout are all part of the stored format.
func TestSealedSecretVectorOpens(t *testing.T) {
	box, err := NewSecretBox(vectorMaster(), BoxWebhooks)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := hex.DecodeString(sealedWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := box.Open(sealed, []byte("webhook-1"))
	if err != nil || string(got) != "whsec_vector" {
		t.Fatalf("Open = %q, %v; want the secret an earlier release sealed", got, err)
	}
}

const sealedWebhookSecret = "04c6a5dbfe31bef23824a2b2634541f374a1e474c7d9ed5ccf8d04cf41b1c89c059d1cbf968081b5"
