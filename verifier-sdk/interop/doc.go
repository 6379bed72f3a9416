// Package interop holds the tests that check the lease format against
// verifiers that are not this SDK: the npm package jose under Node.js
// (node/), and the C ABI build with its C example and Python module
// (../cabi). It has no code of its own.
package interop
