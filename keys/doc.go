// Package keys is Narcidi's key custody: the Ed25519 keys that sign leases,
// each named by a kid (its RFC 7638 thumbprint), whose private part is sealed
// with AES-256-GCM under a key derived from the master key. The server keeps
// them in its database (OpenStore, through the Store interface), so every
// instance with the database and the master key signs with the same key;
// Open reads a keys folder of 0600 files, the form of earlier versions, which
// ImportDir copies into the database as it is. It signs leases (implementing licensing.LeaseSigner) and
// publishes the public set as a JWKS (RFC 8037 OKP keys).
//
// Rotation: Generate makes a new key active and retires the previous one;
// retired keys stay in the JWKS so the leases they signed verify until they
// end. Private key bytes never appear in errors, logs or fmt output.
//
// Root key (cert.go): GenerateRoot writes an offline root key pair that apps
// pin; RootKey.Certify signs a certificate for a signing key's public key
// and window; AttachCertificate stores it as <kid>.cert beside the key, and
// from then on SignLease puts it in every lease's "ncert" header. The root's
// private part is never read by the server.
//
// Several processes may share a database: the Store keeps one active key at
// most and rotates in one transaction. Several may share a keys folder: changes (Generate,
// EnsureActive) hold an exclusive flock on dir/.lock and readers (Open,
// Reload) a shared one, so two processes starting at once end with one
// active key and no reader sees a rotation half done. A Keyring is safe for
// concurrent use.
package keys
