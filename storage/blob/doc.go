// Package blob keeps release artifacts' bytes, behind release.BlobStore:
//
//   - S3 stores them in any S3-compatible service through aws-sdk-go-v2
//     (endpoint override and path-style addressing for MinIO, versitygw...),
//     and hands out SigV4 presigned URLs: the store itself refuses an
//     expired or tampered URL.
//   - Local stores them in a folder (the embedded default of `make run`).
//     Its Handler serves the same kinds of URLs, signed with an HMAC key and
//     an expiry, with the same meaning: PUT of a whole object or of a part,
//     GET of an object, 403 for a bad or expired signature.
//
// Either way the API server only presigns; the bytes go straight between the
// client and the store, except when finalize streams an object once to hash it.
package blob
