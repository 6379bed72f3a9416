// Package docs holds no code: its tests keep README.md and CHANGELOG.md true
// to the tree (every package named in the README's Layout, every migration
// in the CHANGELOG), so the documents fail the build when they drift.
// docs/runbook.md and docs/screenshots are the operator's runbook and the
// console's screenshots.
package docs
