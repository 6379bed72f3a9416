package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/users"
)

// The console users' routes: an admin reads the console's people and sets
// a user's reading preferences (language and time zone: the user's pages
// and staff mails follow them). Other changes to users (role, status,
// second factor) stay in the console, where they are re-authenticated.
// API tokens are no console users, so there is no "me" route.

// userPatch changes a user's preferences; a field left out stays.
type userPatch struct {
	// Language is one of the server's languages ("en", "pt-PT", "pt-BR";
	// "" clears it: the browser's, then the server default).
	Language *string `json:"language,omitempty"`
	// TimeZone is an IANA name ("Africa/Luanda"; "" is UTC).
	TimeZone *string `json:"time_zone,omitempty"`
}

func (s *Server) consoleUsers() (*users.Service, error) {
	if s.users == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "console users are not served by this server")
	}
	return s.users, nil
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	us, err := s.consoleUsers()
	if err != nil {
		return err
	}
	return list(c, func(p licensing.Page) ([]users.User, error) { return us.Users(c.UserContext(), p) },
		func(u *users.User) string { return u.ID })
}

func (s *Server) getUser(c *fiber.Ctx) error {
	us, err := s.consoleUsers()
	if err != nil {
		return err
	}
	u, err := us.User(c.UserContext(), c.Params("id"))
	return found(c, u, err)
}

func (s *Server) updateUser(c *fiber.Ctx) error {
	us, err := s.consoleUsers()
	if err != nil {
		return err
	}
	return write(c, 200, func(in userPatch) (*users.User, error) {
		return us.UpdateLocale(c.UserContext(), c.Params("id"), in.Language, in.TimeZone)
	})
}
