package keys

// Purposes of the master key. Each names one key derived from the master
// key (HKDF-SHA256, DeriveKey), and the keys derived from them protect data
// that is stored: license key hashes, sealed secrets, signing-key files,
// signed release metadata. They are part of the stored format, so they live
// here, once, pinned by stored vectors (purposes_test.go): changing one makes
// everything written under it unreadable by every process.
const (
	// PurposeSecretHash hashes license keys and API tokens
	// (licensing.SecretHasher).
	PurposeSecretHash = "license key and API token hashing key v1"
	// PurposeReleaseMetadata signs release metadata.
	PurposeReleaseMetadata = "release metadata signing key v1"
	// PurposeLocalBlobURL signs the local blob store's upload and download URLs.
	PurposeLocalBlobURL = "local blob URL key v1"
	// purposeKeyFiles seals the lease signing keys' private parts.
	purposeKeyFiles = "keys v1"
	// secretBoxPurpose prefixes the purpose of every SecretBox.
	secretBoxPurpose = "secrets v1 "
)

// Secret boxes (NewSecretBox): what each one seals.
const (
	// BoxWebhooks seals webhook signing secrets.
	BoxWebhooks = "webhooks"
	// BoxConsoleTOTP seals console users' TOTP secrets.
	BoxConsoleTOTP = "console-totp"
	// BoxIdempotency seals the stored replies of idempotent requests.
	BoxIdempotency = "idempotency replays"
	// boxMasterCheck seals the value that tells whether a database was
	// first used with this master key (mastercheck.go).
	boxMasterCheck = "master key check"
)
