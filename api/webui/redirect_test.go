package webui_test

import (
	"testing"

	"github.com/nzilacode/narcidicontrole/api/webui"
)

func TestTargetsAllowOnlyListedLocalPages(t *testing.T) {
	tg := webui.NewTargets("/portal", "/portal/", "/", "/machines", "/licenses/:id")
	for to, want := range map[string]string{
		"/portal/":                                       "/portal/",
		"/portal/machines?done=seat-freed":               "/portal/machines?done=seat-freed",
		"/portal/licenses/0195-ab?x=1&y=a%20b":           "/portal/licenses/0195-ab?x=1&y=a%20b",
		"/portal/licenses/0195\r\nX: y":                  "/portal/",
		"/portal/machines?done=a\nb":                     "/portal/",
		"/portal/machines?done=%zz":                      "/portal/",
		"/portal/licenses/../../console/":                "/portal/",
		"/portal/licenses/%2e%2e":                        "/portal/",
		"/portal/licenses/a/b":                           "/portal/",
		"//evil.example/portal/":                         "/portal/",
		"https://evil.example/portal/machines":           "/portal/",
		"/portal/\\evil.example":                         "/portal/",
		"/portal/machines#x":                             "/portal/",
		"/portal/sign-out":                               "/portal/",
		"/portal/machines/":                              "/portal/",
		"":                                               "/portal/",
		"/portal/licenses/" + string([]byte{0xc3, 0xa9}): "/portal/",
	} {
		if got := tg.Safe(to); got != want {
			t.Errorf("Safe(%q) = %q, want %q", to, got, want)
		}
	}
}
