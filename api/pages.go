package api

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// Status is the HTTP status of a domain error, from the one table of
// errors.go: the HTML pages (api/console) answer with the same statuses as
// the JSON routes.
func Status(err error) int {
	if status, ok := statusOf[licensing.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// Pages mounts HTML pages (the console) on the app; set in Config.Pages.
type Pages interface {
	Mount(r fiber.Router)
}
