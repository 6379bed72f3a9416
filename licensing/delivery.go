package licensing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// FanOut turns one event into its deliveries: one per enabled webhook
// endpoint that wants the action, and one email alert when email says the
// action is mailed. It is idempotent (deliveries are unique per event and
// destination) and marks the event dispatched in the same transaction, so
// a fan-out that runs twice after a lost hand-off creates nothing twice.
// It returns the deliveries created now.
func (s *Notifications) FanOut(ctx context.Context, eventID string, email func(action string) bool, attemptLimit int) ([]Delivery, error) {
	e, err := s.store.GetEvent(ctx, eventID)
	if err != nil {
		return nil, err
	}
	var hooks []WebhookEndpoint
	page := Page{Limit: MaxPageLimit}
	for {
		ws, err := s.store.ListWebhooks(ctx, page)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			if e.Action == ActionWebhookTest {
				// A test goes to the endpoint it names, subscribed or not.
				if w.Enabled && w.ID == e.TargetID {
					hooks = append(hooks, w)
				}
				continue
			}
			if w.Enabled && w.Wants(e.Action) {
				hooks = append(hooks, w)
			}
		}
		if len(ws) < page.Limit {
			break
		}
		page.After = ws[len(ws)-1].ID
	}
	now := s.clock()
	var made []Delivery
	err = s.store.InTx(ctx, func(tx NotificationsStore) error {
		made = made[:0]
		add := func(ch DeliveryChannel, endpoint string) error {
			d := Delivery{EventID: e.ID, Action: e.Action, Channel: ch, EndpointID: endpoint, Status: DeliveryPending,
				AttemptLimit: attemptLimit, CreatedAt: now, UpdatedAt: now}
			switch err := tx.CreateDelivery(ctx, &d); ErrorCode(err) {
			case "":
				made = append(made, d)
			case EConflict:
			default:
				return err
			}
			return nil
		}
		for _, w := range hooks {
			if err := add(ChannelWebhook, w.ID); err != nil {
				return err
			}
		}
		if email != nil && email(e.Action) && e.Action != ActionWebhookTest {
			if err := add(ChannelEmail, ""); err != nil {
				return err
			}
		}
		return tx.MarkEventDispatched(ctx, e.ID, now)
	})
	return made, err
}

// MarkEnqueued records that the queue took the deliveries ids, so the relay
// does not hand them over again before they go stale (the dispatch task
// hands the deliveries it made over at once, without waiting for the relay).
func (s *Notifications) MarkEnqueued(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.store.MarkDeliveriesEnqueued(ctx, ids, s.clock())
}

// AttemptResult is the outcome of one try of a delivery.
type AttemptResult struct {
	StatusCode int
	Err        error // nil: delivered
	Duration   time.Duration
	// RequestBody and ResponseBody are what was sent and answered (webhooks);
	// kept cut at MaxAttemptBody.
	RequestBody, ResponseBody []byte
}

// RecordAttempt logs one try of delivery id and moves it on: delivered, or
// failed once its attempts are used up, or still pending (the queue retries
// it). For webhooks it keeps the endpoint's count of failures in a row and
// disables it at disableAfter, recording webhook.disabled. All in one
// transaction. It returns the delivery as it now is.
func (s *Notifications) RecordAttempt(ctx context.Context, id string, r AttemptResult, disableAfter int) (*Delivery, error) {
	var out *Delivery
	err := s.store.InTx(ctx, func(tx NotificationsStore) error {
		d, err := tx.GetDelivery(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock()
		d.Attempts++
		a := DeliveryAttempt{DeliveryID: id, Number: d.Attempts, At: now, StatusCode: r.StatusCode, DurationMS: r.Duration.Milliseconds(),
			RequestBody: cutBody(r.RequestBody), ResponseBody: cutBody(r.ResponseBody)}
		d.LastStatusCode, d.LastError, d.UpdatedAt = r.StatusCode, "", now
		if r.Err != nil {
			a.Error = truncate(r.Err.Error(), 1000)
			d.LastError = a.Error
		}
		if err := tx.AppendAttempt(ctx, &a); err != nil {
			return err
		}
		switch {
		case r.Err == nil:
			d.Status, d.DeliveredAt = DeliveryDelivered, &now
		case d.Attempts >= d.AttemptLimit:
			d.Status = DeliveryFailed
		}
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		out = d
		if d.Channel != ChannelWebhook {
			return nil
		}
		if r.Err == nil {
			return tx.WebhookSucceeded(ctx, d.EndpointID)
		}
		disabled, err := tx.WebhookFailed(ctx, d.EndpointID, disableAfter, now)
		if err != nil || !disabled {
			return err
		}
		return s.record(ctx, tx, ActionWebhookDisabled, "webhook", d.EndpointID, "disabled after repeated delivery failures", nil, nil)
	})
	return out, err
}

// GiveUp marks a pending delivery failed without an attempt (its endpoint
// is gone or disabled).
func (s *Notifications) GiveUp(ctx context.Context, id, reason string) error {
	return s.store.InTx(ctx, func(tx NotificationsStore) error {
		d, err := tx.GetDelivery(ctx, id)
		if err != nil || d.Status != DeliveryPending {
			return err
		}
		d.Status, d.LastError, d.UpdatedAt = DeliveryFailed, reason, s.clock()
		return tx.UpdateDelivery(ctx, d)
	})
}

// Recipients is who gets the email alert of an event about a license or a
// machine: the license's customer (its email and contacts), deduplicated.
func (s *Notifications) Recipients(ctx context.Context, e *Event) ([]string, *Customer, error) {
	licenseID := ""
	switch e.TargetType {
	case "license":
		licenseID = e.TargetID
	case "machine":
		m, err := s.store.GetMachine(ctx, e.TargetID)
		if ErrorCode(err) == ENotFound {
			// A freed seat: the machine row is gone; its snapshot says the license.
			return s.recipientsFromSnapshot(ctx, e)
		} else if err != nil {
			return nil, nil, err
		}
		licenseID = m.LicenseID
	default:
		return nil, nil, nil
	}
	return s.licenseRecipients(ctx, licenseID)
}

func (s *Notifications) recipientsFromSnapshot(ctx context.Context, e *Event) ([]string, *Customer, error) {
	var m Machine
	if len(e.Before) == 0 || json.Unmarshal(e.Before, &m) != nil || m.LicenseID == "" {
		return nil, nil, nil
	}
	return s.licenseRecipients(ctx, m.LicenseID)
}

func (s *Notifications) licenseRecipients(ctx context.Context, licenseID string) ([]string, *Customer, error) {
	l, err := s.store.GetLicense(ctx, licenseID)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.store.GetCustomer(ctx, l.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	to := []string{c.Email}
	for _, ct := range c.Contacts {
		to = append(to, ct.Email)
	}
	slices.Sort(to)
	return slices.Compact(to), c, nil
}

// LicenseFacts reads what a customer mail about a license says: the
// license as it is now, its policy (plan) and product. ENotFound.
func (s *Notifications) LicenseFacts(ctx context.Context, licenseID string) (*License, *Policy, *Product, error) {
	l, err := s.store.GetLicense(ctx, licenseID)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := s.store.GetPolicy(ctx, l.PolicyID)
	if err != nil {
		return nil, nil, nil, err
	}
	prod, err := s.store.GetProduct(ctx, p.ProductID)
	if err != nil {
		return nil, nil, nil, err
	}
	return l, p, prod, nil
}

// cutBody keeps at most MaxAttemptBody bytes of b as valid UTF-8 (the
// columns are text): a rune cut at the end is dropped, invalid bytes
// become "?" (never longer than what they replace).
func cutBody(b []byte) string {
	if len(b) > MaxAttemptBody {
		b = b[:MaxAttemptBody]
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "?")
}
