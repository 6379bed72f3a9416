package storage

// NewLastSeenBatcherUnbounded is NewLastSeenBatcher without the bound on
// MaxDelay, so tests can tell a write on size or on Close from one on delay.
var NewLastSeenBatcherUnbounded = newLastSeenBatcher
