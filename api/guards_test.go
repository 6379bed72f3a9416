package api

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.10,::1 , 2001:db8:1::/48")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr
	cases := []struct {
		name string
		peer string
		hops []string
		want string
	}{
		{"untrusted peer: header ignored", "203.0.113.5", []string{"1.2.3.4"}, "203.0.113.5"},
		{"one proxy", "10.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-written left-most ignored", "10.0.0.1", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7"},
		{"two trusted proxies", "10.0.0.1", []string{"6.6.6.6", "198.51.100.7", "192.168.1.10"}, "198.51.100.7"},
		{"all trusted: left-most", "10.0.0.1", []string{"10.0.0.3", "10.0.0.2"}, "10.0.0.3"},
		{"garbage stops at last trusted", "10.0.0.1", []string{"1.1.1.1", "not-an-ip", "10.0.0.2"}, "10.0.0.2"},
		{"empty header", "10.0.0.1", nil, "10.0.0.1"},
		{"ipv6 with port", "::1", []string{"[2001:db8:2::9]:4431"}, "2001:db8:2::9"},
		{"ipv4 with port", "::1", []string{"198.51.100.7:1234"}, "198.51.100.7"},
		{"trusted v6 net", "::1", []string{"198.51.100.7", "2001:db8:1::5"}, "198.51.100.7"},
		{"mapped v4", "::ffff:10.0.0.1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientIP(addr(tc.peer).Unmap(), tc.hops, trusted); got != addr(tc.want) {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.local", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}

// TestForwardedForTrustsOnlyProxies: behind a trusted proxy, a client that
// writes its own X-Forwarded-For neither escapes the per-IP rate limit nor
// chooses its machine's recorded IP. app.Test's peer address is 0.0.0.0.
func TestForwardedForTrustsOnlyProxies(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{
				ProxyHeader: "X-Forwarded-For", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")},
				ClientRate: RateRule{Name: "client", Rate: 2, Period: time.Hour, Burst: 2},
			})
			f := a.fixture(5)
			req := verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-0001"}
			activate := func(xff string) int {
				res, raw := a.do("POST", "/v1/client/activate", req, "X-Forwarded-For", xff)
				if res.StatusCode >= 300 && res.StatusCode != 429 {
					t.Fatalf("activate: %d %s", res.StatusCode, raw)
				}
				return res.StatusCode
			}
			if got := activate("1.1.1.1, 203.0.113.9"); got != 201 {
				t.Fatalf("first activation: %d", got)
			}
			var ms listResponse[licensing.Machine]
			a.must(200, "GET", "/v1/licenses/"+f.license.ID+"/machines", nil, &ms)
			if len(ms.Data) != 1 || ms.Data[0].IP != "203.0.113.9" {
				t.Fatalf("machine IP: %+v, want 203.0.113.9", ms.Data)
			}
			// A new left-most value each time is the same client.
			if got := activate("2.2.2.2, 203.0.113.9"); got != 200 {
				t.Fatalf("second: %d", got)
			}
			if got := activate("3.3.3.3, 203.0.113.9"); got != 429 {
				t.Fatalf("third from the same client: %d, want 429", got)
			}
			if got := activate("198.51.100.1"); got != 200 {
				t.Fatalf("another client: %d, want 200", got)
			}

			// A peer that is not a trusted proxy cannot set its address.
			b := newTestAPI(t, dialect, Config{ProxyHeader: "X-Forwarded-For", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
			g := b.fixture(1)
			res, raw := b.do("POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: g.license.Key, Fingerprint: "fingerprint-0001"}, "X-Forwarded-For", "203.0.113.9")
			if res.StatusCode != 201 {
				t.Fatalf("activate: %d %s", res.StatusCode, raw)
			}
			b.must(200, "GET", "/v1/licenses/"+g.license.ID+"/machines", nil, &ms)
			if len(ms.Data) != 1 || ms.Data[0].IP == "203.0.113.9" {
				t.Fatalf("untrusted peer set the machine IP: %+v", ms.Data)
			}
		})
	}
}

// TestNULIsRefusedEverywhere: a NUL in a body string, a path, a query value
// or a header answers 422 on both databases (PostgreSQL answered 500).
func TestNULIsRefusedEverywhere(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			f := a.fixture(2)
			cases := []struct {
				name, method, path string
				body               any
				header             []string
				want               string
			}{
				{"fingerprint", "POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "finger\x00print-01"}, nil, "fingerprint"},
				{"machine name", "POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-01", Name: "a\x00"}, nil, "name"},
				{"license key", "POST", "/v1/client/validate", verifier.MachineRequest{LicenseKey: f.license.Key + "\x00"}, nil, "license_key"},
				{"customer name", "POST", "/v1/customers", licensing.CustomerInput{Name: "\x00", Email: "a@b.test"}, nil, "name"},
				{"metadata", "PATCH", "/v1/products/" + f.product.ID, map[string]any{"metadata": map[string]string{"k": "v\x00"}}, nil, "metadata.k"},
				{"path", "GET", "/v1/licenses/" + f.license.ID + "%00", nil, nil, "path"},
				{"query value", "GET", "/v1/licenses?customer_id=%00", nil, nil, "customer_id"},
				{"query name", "GET", "/v1/events?target%00=1", nil, nil, "query parameter"},
				{"idempotency key", "POST", "/v1/customers", licensing.CustomerInput{Name: "B", Email: "b@b.test"}, []string{"Idempotency-Key", "k\x00"}, "Idempotency-Key"},
			}
			for _, tc := range cases {
				res, raw := a.do(tc.method, tc.path, tc.body, tc.header...)
				if res.StatusCode != 422 {
					t.Errorf("%s: %d %s, want 422", tc.name, res.StatusCode, raw)
					continue
				}
				if p := problemOf(t, res, raw); p.Code != "invalid" || !strings.Contains(p.Detail, tc.want) {
					t.Errorf("%s: %+v, want invalid naming %q", tc.name, p, tc.want)
				}
			}
		})
	}
}

// TestDuplicateAndCaseVariantMembers: a body cannot smuggle a second role
// past the first, nor set a field through another case.
func TestDuplicateAndCaseVariantMembers(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			for _, body := range []string{
				`{"name":"x","role":"read-only","role":"admin"}`,
				`{"name":"x","Role":"admin"}`,
				`{"Name":"x","role":"read-only"}`,
			} {
				res, raw := a.do("POST", "/v1/tokens", body)
				if res.StatusCode != 422 {
					t.Errorf("%s: %d %s, want 422", body, res.StatusCode, raw)
				}
			}
			var toks listResponse[licensing.APIToken]
			a.must(200, "GET", "/v1/tokens", nil, &toks)
			if len(toks.Data) != 1 {
				t.Errorf("tokens created: %+v", toks.Data)
			}
			a.must(201, "POST", "/v1/tokens", `{"name":"x","role":"read-only"}`, nil)
		})
	}
}
