package verifier

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestComponentsFrom(t *testing.T) {
	a := ComponentsFrom("app-1", "disk:S1", "mac:aa:bb", "disk:S1", " ")
	if len(a) != 2 || a[0] > a[1] {
		t.Fatalf("components %v: want 2, sorted, without duplicates or blanks", a)
	}
	for _, c := range a {
		if len(c) != 64 || strings.Contains(c, "S1") {
			t.Errorf("component %q is not a hash", c)
		}
	}
	if b := ComponentsFrom("app-2", "disk:S1"); b[0] == a[0] || b[0] == a[1] {
		t.Error("two apps see the same component hash")
	}
	many := make([]string, 40)
	for i := range many {
		many[i] = "mac:" + string(rune('a'+i))
	}
	if n := len(ComponentsFrom("app", many...)); n != MaxComponents {
		t.Errorf("%d components, want at most %d", n, MaxComponents)
	}
	t.Setenv(MachineIDEnv, "machine-1")
	got, err := Components("app-1")
	if err != nil || len(got) == 0 || !strings.Contains(strings.Join(got, ","), FingerprintFrom("app-1", "os:machine-1")) {
		t.Errorf("Components = %v, %v: want the OS install id among them", got, err)
	}
}

// An app that sends components keeps working against a server from
// before them: the refusal of the unknown member is retried without.
func TestActivateWithComponentsOnAnOldServer(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if strings.Contains(string(b), `"components"`) {
			w.Header().Set("Content-Type", problemJSON)
			w.WriteHeader(422)
			_ = json.NewEncoder(w).Encode(Problem{Title: "Unprocessable Entity", Status: 422, Code: "invalid", Detail: `unknown field "components"`})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, leaseBody("m1"))
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	req := testReq
	req.Components = ComponentsFrom("app", "disk:1", "mac:2")
	res, err := c.Activate(context.Background(), req)
	if err != nil || res.MachineID != "m1" {
		t.Fatalf("activate = %+v, %v", res, err)
	}
	if len(bodies) != 2 || strings.Contains(bodies[1], "components") {
		t.Errorf("requests %q: want a retry without components", bodies)
	}
	// Another refusal is not retried.
	bodies = nil
	if _, err := c.Activate(context.Background(), testReq); err != nil || len(bodies) != 1 {
		t.Errorf("plain activation: %v, %d requests", err, len(bodies))
	}
}
