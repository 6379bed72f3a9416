package api

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestQueueMonitorRefusesCrossSite: a page on another site cannot drive the
// monitor with the admin's remembered Basic credentials, and no page can
// frame it.
func TestQueueMonitorRefusesCrossSite(t *testing.T) {
	monitor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	a := newTestAPI(t, storagetest.Dialects[0], Config{QueueMonitor: monitor})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+a.admin))
	const del = QueueMonitorPath + "/api/queues/default"
	cases := []struct {
		name, method, path string
		header             []string
		want               int
	}{
		{"read, cross-site", "GET", QueueMonitorPath, []string{"Sec-Fetch-Site", "cross-site"}, 200},
		{"delete, same-origin", "DELETE", del, []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"delete, typed by the user", "DELETE", del, []string{"Sec-Fetch-Site", "none"}, 200},
		{"delete, not a browser", "DELETE", del, nil, 200},
		{"delete, cross-site", "DELETE", del, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"post, same-site (another subdomain)", "POST", QueueMonitorPath + "/api/queues/default:pause", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"post, foreign origin", "POST", QueueMonitorPath + "/api/queues/default:pause", []string{"Origin", "https://evil.test"}, 403},
		{"post, own origin", "POST", QueueMonitorPath + "/api/queues/default:pause", []string{"Origin", "http://example.com"}, 200},
		{"post, null origin", "POST", QueueMonitorPath + "/api/queues/default:pause", []string{"Origin", "null"}, 403},
		{"lower-case basic", "DELETE", del, []string{"Authorization", "basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+a.admin))}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, raw := a.do(tc.method, tc.path, nil, append([]string{"Authorization", basic}, tc.header...)...)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.want, raw)
			}
			if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Content-Security-Policy") != "frame-ancestors 'none'" {
				t.Errorf("anti-framing headers missing: %v", res.Header)
			}
		})
	}
}

// TestBearerSchemeIsCaseInsensitive (RFC 9110, section 11.1).
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	a := newTestAPI(t, storagetest.Dialects[0], Config{})
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		res, raw := a.do("GET", "/v1/products", nil, "Authorization", scheme+" "+a.admin)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", scheme, res.StatusCode, raw)
		}
	}
	for _, h := range []string{"Bearer", "Bearerx " + a.admin, "Basic " + a.admin, a.admin} {
		if res, _ := a.do("GET", "/v1/products", nil, "Authorization", h); res.StatusCode != 401 {
			t.Errorf("%q: %d, want 401", h, res.StatusCode)
		}
	}
}
