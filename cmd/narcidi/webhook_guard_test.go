package main

import (
	"strings"
	"testing"
)

// Webhook URLs naming a non-public address (one per block of the IANA
// special-purpose registries, and the IPv6 forms embedding one) are refused
// with 422 at registration and on PATCH, through the HTTP API.
func TestWebhookGuardOnRegistrationAndPatch(t *testing.T) {
	t.Parallel()
	app := startAppWith(t, nil) // NARCIDI_WEBHOOK_ALLOW_PRIVATE defaults to false
	admin := apiClient{t, app.URL(), adminToken}
	hosts := []string{
		"0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.0.0.8", "192.0.2.1",
		"192.88.99.1", "192.168.1.1", "198.18.0.1", "198.51.100.1", "203.0.113.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"[::]", "[::1]", "[::127.0.0.1]", "[::ffff:127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b::7f00:1]", "[64:ff9b:1::1]",
		"[100::1]", "[2001::1]", "[2001:db8::1]", "[2002:7f00:1::1]", "[3fff::1]", "[fd00::1]", "[fe80::1]", "[ff02::1]",
	}
	var hook struct {
		ID string `json:"id"`
	}
	admin.mustCreate("/v1/webhooks", map[string]any{"url": "https://93.184.216.34/hooks", "event_types": []string{"*"}}, &hook)
	for _, h := range hosts {
		u := "https://" + h + "/hooks"
		if status, b := admin.call("POST", "/v1/webhooks", map[string]any{"url": u, "event_types": []string{"*"}}, nil); status != 422 || !strings.Contains(string(b), "private") {
			t.Errorf("register %s: %d %s", u, status, b)
		}
		if status, b := admin.call("PATCH", "/v1/webhooks/"+hook.ID, map[string]any{"url": u}, nil); status != 422 {
			t.Errorf("patch to %s: %d %s", u, status, b)
		}
	}
	// A public address embedded in NAT64 or 6to4 is accepted.
	for _, h := range []string{"[64:ff9b::808:808]", "[2002:808:808::1]"} {
		if status, b := admin.call("PATCH", "/v1/webhooks/"+hook.ID, map[string]any{"url": "https://" + h + "/hooks"}, nil); status != 200 {
			t.Errorf("patch to %s: %d %s", h, status, b)
		}
	}
}
