package workers_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/workers"
)

// The guarded client checks the address it actually dials: IPv6 forms that
// lead to loopback (IPv4-compatible, IPv4-mapped, NAT64, 6to4) are refused
// before any connection, not only the plain loopback address.
func TestWebhookDialRefusesEmbeddedLoopback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	// The unguarded client reaches the server: the refusals below are the guard's.
	resp, err := workers.NewWebhookClient(true).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, host := range []string{"127.0.0.1", "[::127.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]",
		"[::1]", "192.0.2.1", "198.18.0.1", "[100::1]", "[2001:db8::1]"} {
		resp, err := workers.NewWebhookClient(false).Post("http://"+host+":"+port+"/hook", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: the guarded client connected", host)
			continue
		}
		if !strings.Contains(err.Error(), "is not public") {
			t.Errorf("%s: %v, want a refusal by the guard", host, err)
		}
	}
}
