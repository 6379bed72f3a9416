package keys

// The keyring's Prometheus series; the server registers them (wiring).

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// LeaseSigner signs lease claims: a Keyring, or a TimedSigner over one.
type LeaseSigner interface {
	SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error)
}

// timedSigner times every lease signature.
type timedSigner struct {
	next     LeaseSigner
	duration prometheus.Histogram
}

// NewTimedSigner is next with every signature timed, in the histogram
// narcidi_lease_signing_duration_seconds registered on reg.
func NewTimedSigner(reg prometheus.Registerer, next LeaseSigner) (LeaseSigner, error) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "narcidi_lease_signing_duration_seconds",
		Help:    "Time to sign a lease with the active key.",
		Buckets: prometheus.ExponentialBuckets(0.00002, 2, 14), // 20µs to about 160ms
	})
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	return timedSigner{next: next, duration: h}, nil
}

func (s timedSigner) SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error) {
	start := time.Now()
	tok, err := s.next.SignLease(ctx, claims)
	s.duration.Observe(time.Since(start).Seconds())
	return tok, err
}

// The signing keys' series, read from the keyring at scrape time.
var (
	descSigningKeys = prometheus.NewDesc("narcidi_signing_keys",
		"Lease signing keys by status (active, retired).", []string{"status"}, nil)
	descRootInUse = prometheus.NewDesc("narcidi_signing_root_in_use",
		"1 if any signing key has a root certificate attached (apps may pin the root), else 0.", nil, nil)
	descActiveCertified = prometheus.NewDesc("narcidi_signing_active_key_certified",
		"1 if the active signing key has a root certificate valid now, else 0.", nil, nil)
	descActiveCertExpiry = prometheus.NewDesc("narcidi_signing_active_key_certificate_expiry_timestamp_seconds",
		"Unix time at which the active key's root certificate ends (absent without one).", nil, nil)
)

type keysCollector struct {
	kr  *Keyring
	now func() time.Time
}

// NewCollector is the Prometheus collector of kr's series: keys by status,
// whether a root is in use, the active key's certificate and its expiry,
// read from the keyring at scrape time.
func NewCollector(kr *Keyring, now func() time.Time) prometheus.Collector {
	return keysCollector{kr: kr, now: now}
}

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSigningKeys, descRootInUse, descActiveCertified, descActiveCertExpiry} {
		ch <- d
	}
}

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	byStatus := map[string]int{StatusActive: 0, StatusRetired: 0}
	rootInUse := false
	for _, k := range c.kr.List() {
		byStatus[k.Status]++
		if _, ok := c.kr.Certificate(k.KID); ok {
			rootInUse = true
		}
	}
	for st, n := range byStatus {
		gauge(descSigningKeys, float64(n), st)
	}
	gauge(descRootInUse, b2f(rootInUse))
	certified := false
	if kid, ok := c.kr.Active(); ok {
		if nbf, exp, ok := c.kr.CertificateWindow(kid); ok {
			now := c.now()
			certified = !now.Before(nbf) && now.Before(exp)
			gauge(descActiveCertExpiry, float64(exp.Unix()))
		}
	}
	gauge(descActiveCertified, b2f(certified))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
