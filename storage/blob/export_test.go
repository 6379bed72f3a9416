package blob

// SetCopyLimits lowers the single-copy limit and the part size of S3's Move
// so a test exercises the part copy with small objects; it returns the undo.
func SetCopyLimits(maxSingle, part int64) func() {
	m, p := maxCopy, copyPartSize
	maxCopy, copyPartSize = maxSingle, part
	return func() { maxCopy, copyPartSize = m, p }
}
