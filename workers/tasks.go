package workers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"
)

// Task types. They name work in Redis: only ever add.
const (
	TypeDispatch    = "event:dispatch" // payload: {"event_id"}; task id: the event id
	TypeDeliver     = "delivery:send"  // payload: {"delivery_id"}; task id: dlv:<id>:<generation>
	TypeScanExpiry  = "scan:expiry"
	TypeScanOffline = "scan:offline"
	TypeRollup      = "dashboard:rollup"
	TypeCleanup     = "outbox:cleanup"
)

type dispatchPayload struct {
	EventID string `json:"event_id"`
}

type deliverPayload struct {
	DeliveryID string `json:"delivery_id"`
}

func dispatchTask(eventID string) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(dispatchPayload{EventID: eventID})
	return asynq.NewTask(TypeDispatch, b), []asynq.Option{asynq.TaskID(eventID), asynq.MaxRetry(10)}
}

func deliverTask(id string, generation, retries int) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(deliverPayload{DeliveryID: id})
	return asynq.NewTask(TypeDeliver, b), []asynq.Option{asynq.TaskID("dlv:" + id + ":" + strconv.Itoa(generation)), asynq.MaxRetry(retries)}
}

// decode reads a task payload strictly. A payload that does not decode can
// never succeed: it is archived at once (SkipRetry) instead of retried.
func decode(t *asynq.Task, v any, field func() string) error {
	if err := strictUnmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("bad payload for %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if field() == "" {
		return fmt.Errorf("bad payload for %s: missing id: %w", t.Type(), asynq.SkipRetry)
	}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
