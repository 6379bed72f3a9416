package licensing

import "encoding/json"

// Snapshot is how a value is written into an audit event's before/after:
// its JSON, or nothing. Exported so that other domain packages (release)
// record their changes exactly as licensing does.
func Snapshot(v any) json.RawMessage { return snapshot(v) }
