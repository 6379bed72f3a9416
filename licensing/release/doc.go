// Package release is the release domain of Narcidi: the version history of
// each product (semver, channel, status), the artifacts of a release (one
// per platform and architecture, hashed and signed by the publisher's release
// key), their upload straight to blob storage, the signed release metadata
// the server publishes per product and channel, and license-gated downloads
// through short-lived URLs.
//
// It builds on package licensing (a download is allowed by a license key or
// a lease checked against the license's current state) and shares its error
// vocabulary. Blob storage and persistence are interfaces implemented by
// storage/blob and storage; the bytes of an artifact never pass through this
// package except when Finalize streams the stored object once to check it.
package release
