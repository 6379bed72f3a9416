package licensing

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebhookEndpoint is an admin-registered URL that receives signed events.
type WebhookEndpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes filters what is sent: action names, or "*" for all.
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says why an endpoint was turned off (by an admin or
	// after too many failures in a row).
	DisabledReason      string    `json:"disabled_reason,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	SealedSecret        []byte    `json:"-"` // the signing secret, encrypted at rest
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// Wants reports whether the endpoint subscribes to action.
func (w *WebhookEndpoint) Wants(action string) bool {
	return slices.Contains(w.EventTypes, "*") || slices.Contains(w.EventTypes, action)
}

// CreatedWebhook is a new endpoint with its signing secret, shown once.
type CreatedWebhook struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// WebhookInput is what an admin gives to register an endpoint.
type WebhookInput struct {
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	EventTypes  []string `json:"event_types"`
}

// WebhookPatch changes an endpoint; nil fields stay. Enabling an endpoint
// resets its failure count.
type WebhookPatch struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// DeliveryChannel is how an event reaches someone outside.
type DeliveryChannel string

const (
	ChannelWebhook DeliveryChannel = "webhook"
	ChannelEmail   DeliveryChannel = "email"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed" // gave up after its attempts (redeliver to try again)
)

// Delivery is one event to one destination (a webhook endpoint, or the
// email alert of the event). It is unique per event and destination, so a
// fan-out that runs twice creates nothing twice.
type Delivery struct {
	ID         string          `json:"id"`
	EventID    string          `json:"event_id"`
	Action     string          `json:"action"`
	Channel    DeliveryChannel `json:"channel"`
	EndpointID string          `json:"endpoint_id,omitempty"`
	Status     DeliveryStatus  `json:"status"`
	Attempts   int             `json:"attempts"`
	// AttemptLimit is when to give up; a redelivery raises it.
	AttemptLimit int `json:"attempt_limit"`
	// Generation counts redeliveries; it is part of the queue task id.
	Generation     int        `json:"generation"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	EnqueuedAt     *time.Time `json:"enqueued_at,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Log is the attempts, oldest first (filled when getting one delivery).
	Log []DeliveryAttempt `json:"log,omitempty"`
}

// DeliveryAttempt is one try of a delivery, kept for the delivery log.
type DeliveryAttempt struct {
	ID         string    `json:"id"`
	DeliveryID string    `json:"delivery_id"`
	Number     int       `json:"number"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	// RequestBody is what a webhook attempt sent, ResponseBody what the
	// endpoint answered, each cut at MaxAttemptBody bytes.
	RequestBody  string `json:"request_body,omitempty"`
	ResponseBody string `json:"response_body,omitempty"`
}

// MaxAttemptBody bounds the bodies kept per attempt (4 KiB each): enough
// to read an event or an error page, not a store for whatever an endpoint
// answers.
const MaxAttemptBody = 4 << 10

// DeliveryFilter narrows a delivery listing.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	Status     DeliveryStatus
	Action     string
	// Since and Until bound the creation time (Until exclusive).
	Since, Until *time.Time
	// Newest lists newest first (the console); the API lists oldest first.
	Newest bool
}

// SecretBox encrypts secrets that must be read back (webhook signing
// secrets), bound to what they belong to by aad. Implemented by keys.
type SecretBox interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// NotificationsStore is the data notifications need: webhook endpoints,
// deliveries with their attempt log, and the audit log they are made from.
// Every method returns ENotFound when a row is missing, EConflict when a
// unique rule is broken, EUnavailable when the database cannot be reached,
// EInternal otherwise. Safe for concurrent use.
type NotificationsStore interface {
	Tx[NotificationsStore]
	EventAppender
	GetEvent(ctx context.Context, id string) (*Event, error)
	ListEvents(ctx context.Context, filter EventFilter, page Page) ([]Event, error)
	// MarkEventDispatched records that the event was fanned out.
	MarkEventDispatched(ctx context.Context, id string, now time.Time) error

	CreateWebhook(ctx context.Context, w *WebhookEndpoint) error
	GetWebhook(ctx context.Context, id string) (*WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, page Page) ([]WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, w *WebhookEndpoint) error
	// DeleteWebhook removes the endpoint and its deliveries.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookFailed counts a failed attempt; at limit failures in a row it
	// disables the endpoint and reports true (once).
	WebhookFailed(ctx context.Context, id string, limit int, now time.Time) (bool, error)
	WebhookSucceeded(ctx context.Context, id string) error

	// CreateDelivery adds a delivery; EConflict if the event already has one
	// for that destination.
	CreateDelivery(ctx context.Context, d *Delivery) error
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	ListDeliveries(ctx context.Context, filter DeliveryFilter, page Page) ([]Delivery, error)
	UpdateDelivery(ctx context.Context, d *Delivery) error
	MarkDeliveriesEnqueued(ctx context.Context, ids []string, now time.Time) error
	AppendAttempt(ctx context.Context, a *DeliveryAttempt) error
	// ListAttempts lists a delivery's attempts, oldest first.
	ListAttempts(ctx context.Context, deliveryID string) ([]DeliveryAttempt, error)

	// For the email recipients of an event, and what its mail says.
	GetMachine(ctx context.Context, id string) (*Machine, error)
	GetLicense(ctx context.Context, id string) (*License, error)
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	GetProduct(ctx context.Context, id string) (*Product, error)
}

// Notifications tells the outside about events: webhook endpoints, the
// fan-out of each event into deliveries (webhooks and email), the delivery
// log, and the audit log itself. Safe for concurrent use.
type Notifications struct {
	core
	store        NotificationsStore
	box          SecretBox
	allowPrivate bool
	lookup       func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewNotifications builds the notifications service. box seals webhook
// signing secrets (nil: webhooks cannot be created, EUnavailable);
// allowPrivate lets endpoints point at loopback or private networks (off in
// production: no SSRF into the intranet).
func NewNotifications(store NotificationsStore, box SecretBox, allowPrivate bool, clock Clock) *Notifications {
	return &Notifications{core: newCore(clock), store: store, box: box, allowPrivate: allowPrivate, lookup: lookupHost}
}

// Event returns an audit event. ENotFound.
func (s *Notifications) Event(ctx context.Context, id string) (*Event, error) {
	return s.store.GetEvent(ctx, id)
}

// Events lists the audit log, oldest first.
func (s *Notifications) Events(ctx context.Context, f EventFilter, page Page) ([]Event, error) {
	return s.store.ListEvents(ctx, f, page)
}

// Webhook returns an endpoint. ENotFound.
func (s *Notifications) Webhook(ctx context.Context, id string) (*WebhookEndpoint, error) {
	return s.store.GetWebhook(ctx, id)
}

// Webhooks lists endpoints by id.
func (s *Notifications) Webhooks(ctx context.Context, page Page) ([]WebhookEndpoint, error) {
	return s.store.ListWebhooks(ctx, page)
}

// Deliveries lists the delivery log (without attempts).
func (s *Notifications) Deliveries(ctx context.Context, f DeliveryFilter, page Page) ([]Delivery, error) {
	return s.store.ListDeliveries(ctx, f, page)
}

// CheckWebhookURL validates an endpoint URL: http(s), a host, no user info,
// and (unless private networks are allowed) only public addresses. The
// worker checks the address again when it connects, against DNS rebinding.
func (s *Notifications) CheckWebhookURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2000 {
		return FieldErrorf("url", "url must be an absolute http or https URL without credentials or fragment")
	}
	if s.allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return FieldErrorf("url", "webhook URLs may not point at loopback or private networks")
	} else {
		lookup := s.lookup
		if lookup == nil {
			lookup = lookupHost
		}
		if addrs, err = lookup(ctx, host); err != nil || len(addrs) == 0 {
			return FieldErrorf("url", "the url's host %q does not resolve", host)
		}
	}
	for _, a := range addrs {
		if !PublicAddress(a) {
			return FieldErrorf("url", "webhook URLs may not point at loopback or private networks")
		}
	}
	return nil
}

func lookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func checkEventTypes(types []string) error {
	if len(types) == 0 {
		return FieldErrorf("event_types", "event_types needs at least one action (or \"*\")")
	}
	for _, t := range types {
		if t != "*" && !slices.Contains(Actions, t) {
			return FieldErrorf("event_types", "unknown event type %q", t)
		}
	}
	return nil
}

func webhookAAD(id string) []byte { return []byte("webhook:" + id) }

// CreateWebhook registers an endpoint and returns its signing secret once.
// EInvalid.
func (s *Notifications) CreateWebhook(ctx context.Context, in WebhookInput) (*CreatedWebhook, error) {
	if s.box == nil {
		return nil, Errorf(EUnavailable, "webhooks are not configured")
	}
	if err := s.CheckWebhookURL(ctx, in.URL); err != nil {
		return nil, err
	}
	if err := checkEventTypes(in.EventTypes); err != nil {
		return nil, err
	}
	if len(in.Description) > 500 {
		return nil, FieldErrorf("description", "description is longer than 500 characters")
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(raw)
	now := s.clock()
	w := WebhookEndpoint{ID: NewID(), URL: in.URL, Description: in.Description, EventTypes: slices.Compact(slices.Sorted(slices.Values(in.EventTypes))),
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	sealed, err := s.box.Seal([]byte(secret), webhookAAD(w.ID))
	if err != nil {
		return nil, Wrap(EInternal, err, "could not seal the webhook secret")
	}
	w.SealedSecret = sealed
	err = s.store.InTx(ctx, func(tx NotificationsStore) error {
		if err := tx.CreateWebhook(ctx, &w); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionWebhookCreated, "webhook", w.ID, "", nil, &w)
	})
	if err != nil {
		return nil, err
	}
	return &CreatedWebhook{WebhookEndpoint: w, Secret: secret}, nil
}

// WebhookSecret opens the signing secret of an endpoint (for the worker).
func (s *Notifications) WebhookSecret(w *WebhookEndpoint) ([]byte, error) {
	if s.box == nil {
		return nil, Errorf(EUnavailable, "webhooks are not configured")
	}
	return s.box.Open(w.SealedSecret, webhookAAD(w.ID))
}

// UpdateWebhook changes an endpoint. ENotFound, EInvalid.
func (s *Notifications) UpdateWebhook(ctx context.Context, id string, in WebhookPatch) (*WebhookEndpoint, error) {
	if in.URL != nil {
		if err := s.CheckWebhookURL(ctx, *in.URL); err != nil {
			return nil, err
		}
	}
	if in.EventTypes != nil {
		if err := checkEventTypes(*in.EventTypes); err != nil {
			return nil, err
		}
	}
	if in.Description != nil && len(*in.Description) > 500 {
		return nil, FieldErrorf("description", "description is longer than 500 characters")
	}
	var out *WebhookEndpoint
	err := s.store.InTx(ctx, func(tx NotificationsStore) error {
		w, err := tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		before := *w
		set(&w.URL, in.URL)
		set(&w.Description, in.Description)
		if in.EventTypes != nil {
			w.EventTypes = slices.Compact(slices.Sorted(slices.Values(*in.EventTypes)))
		}
		if in.Enabled != nil {
			w.Enabled = *in.Enabled
			if w.Enabled {
				w.DisabledReason, w.ConsecutiveFailures = "", 0
			} else if !before.Enabled {
				w.DisabledReason = before.DisabledReason
			} else {
				w.DisabledReason = "disabled by " + ActorFrom(ctx).Label()
			}
		}
		w.UpdatedAt = s.clock()
		if err := tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		out = w
		return s.record(ctx, tx, ActionWebhookUpdated, "webhook", id, "", &before, w)
	})
	return out, err
}

// DeleteWebhook removes an endpoint and its deliveries. ENotFound.
func (s *Notifications) DeleteWebhook(ctx context.Context, id string) error {
	return s.store.InTx(ctx, func(tx NotificationsStore) error {
		w, err := tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionWebhookDeleted, "webhook", id, "", w, nil)
	})
}

// SendTestEvent records a webhook.test event for endpoint id: the relay
// delivers it to that endpoint alone, through the same queue, signature
// and attempt log as any event. EConflict when the endpoint is disabled
// (nothing would be sent). It returns the event.
func (s *Notifications) SendTestEvent(ctx context.Context, id string) (*Event, error) {
	var out *Event
	err := s.store.InTx(ctx, func(tx NotificationsStore) error {
		w, err := tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if !w.Enabled {
			return Errorf(EConflict, "the webhook is disabled: enable it to send a test event")
		}
		test := struct {
			Message string `json:"message"`
			URL     string `json:"url"`
		}{"a test event sent from Narcidi; no action is needed", w.URL}
		a := ActorFrom(ctx)
		e := &Event{Time: s.clock(), Action: ActionWebhookTest, TargetType: "webhook", TargetID: id,
			Actor: a.Label(), ActorName: a.Name, RequestID: a.RequestID, After: snapshot(test)}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		out = e
		return nil
	})
	return out, err
}

// Delivery returns a delivery with its attempt log. ENotFound.
func (s *Notifications) Delivery(ctx context.Context, id string) (*Delivery, error) {
	d, err := s.store.GetDelivery(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Log, err = s.store.ListAttempts(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// RedeliveryAttempts is how many more tries a manual redelivery gets.
const RedeliveryAttempts = 3

// Redeliver puts a delivery back in line for RedeliveryAttempts more tries;
// the relay hands it to the queue under a new task id. A delivery still
// pending is left as it is (EConflict). ENotFound.
func (s *Notifications) Redeliver(ctx context.Context, id, reason string) (*Delivery, error) {
	if len(reason) > 500 {
		return nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	var out *Delivery
	err := s.store.InTx(ctx, func(tx NotificationsStore) error {
		d, err := tx.GetDelivery(ctx, id)
		if err != nil {
			return err
		}
		if d.Status == DeliveryPending {
			return Errorf(EConflict, "the delivery is still pending")
		}
		before := *d
		d.Status, d.Generation, d.AttemptLimit = DeliveryPending, d.Generation+1, d.Attempts+RedeliveryAttempts
		d.EnqueuedAt, d.UpdatedAt = nil, s.clock()
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		out = d
		return s.record(ctx, tx, ActionDeliveryRedelivered, "delivery", id, reason, &before, d)
	})
	return out, err
}
