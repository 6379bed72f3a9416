package console

import (
	"html/template"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/users"
)

// Console users are admin-only. They are credentials as API tokens are
// (an admin user can do what an admin token can), so the pages take the
// tokens permissions of licensing's table, which only admins hold; the
// users service's SetTOTPRequired names the same check.
var userRoutes = []Route{
	{"users", "GET", "/users", licensing.ReadTokens, (*Console).users},
	{"userCreate", "POST", "/users", licensing.WriteTokens, (*Console).userCreate},
	{"user", "GET", "/users/:user", licensing.ReadTokens, (*Console).user},
	{"userRole", "POST", "/users/:user/role", licensing.WriteTokens, (*Console).userAction},
	{"userStatus", "POST", "/users/:user/status", licensing.WriteTokens, (*Console).userAction},
	{"userTOTP", "POST", "/users/:user/totp", licensing.WriteTokens, (*Console).userAction},
	{"userSessions", "POST", "/users/:user/sessions", licensing.WriteTokens, (*Console).userAction},
	{"userPasswordLink", "POST", "/users/:user/password-link", licensing.WriteTokens, (*Console).userPasswordLink},
}

// SetPasswordLink is the console URL that redeems a set-password secret
// (printed by `narcidi users create`, shown once by the users page).
func SetPasswordLink(base, secret string) string {
	return strings.TrimRight(base, "/") + Prefix + "/set-password?token=" + url.QueryEscape(secret)
}

type usersData struct {
	formError
	Users []users.User
	Roles []licensing.Role
	Done  string
	Next  template.URL
	Email string
	Role  string
}

func (cn *Console) usersPage(c *fiber.Ctx, status int, d usersData) error {
	us, err := cn.cfg.Users.Users(c.UserContext(), licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Users, d.Roles = us, users.ConsoleRoles
	d.Next = nextPage(us, func(u *users.User) string { return u.ID }, nil)
	return cn.render(c, status, "users", "console.page.users", d)
}

func (cn *Console) users(c *fiber.Ctx) error {
	return cn.usersPage(c, fiber.StatusOK, usersData{Done: c.Query("done"), Role: string(licensing.RoleReadOnly)})
}

type userCreated struct {
	User *users.User
	Link string
	// Reissued: a new link for an existing user, not a new user.
	Reissued bool
	Valid    time.Duration // how long the link works
}

// userCreate adds a user and shows the one-time set-password link, as
// `narcidi users create` prints it; the link is in the answer to the POST
// only.
func (cn *Console) userCreate(c *fiber.Ctx) error {
	d := usersData{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
	u, secret, err := cn.cfg.Users.CreateUser(c.UserContext(), d.Email, licensing.Role(d.Role))
	switch licensing.ErrorCode(err) {
	case "":
		return cn.render(c, fiber.StatusCreated, "user-created", "console.page.user_created", userCreated{User: u, Link: SetPasswordLink(cn.baseURL(), secret), Valid: cn.cfg.Users.LinkTTL()})
	case licensing.EInvalid, licensing.EConflict:
		d.formError = refusal(err)
		return cn.usersPage(c, api.Status(err), d)
	}
	return cn.fail(c, err)
}

// userPasswordLink issues a new one-time set-password link for a user (a
// forgotten password without SMTP, an expired first link) and shows it
// once, as `narcidi users link` prints it; audited.
func (cn *Console) userPasswordLink(c *fiber.Ctx) error {
	u, err := cn.cfg.Users.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return cn.fail(c, err)
	}
	secret, err := cn.cfg.Users.PasswordLink(c.UserContext(), u.ID, "shown to an admin in the console")
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusCreated, "user-created", "console.page.user_link", userCreated{User: u, Link: SetPasswordLink(cn.baseURL(), secret),
		Reissued: true, Valid: cn.cfg.Users.LinkTTL()})
}

type userData struct {
	User  *users.User
	Roles []licensing.Role
	Self  bool
	Done  string
}

func (cn *Console) user(c *fiber.Ctx) error {
	u, err := cn.cfg.Users.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "user", "console.page.user", userData{User: u, Roles: users.ConsoleRoles,
		Self: u.ID == current(c).User.ID, Done: c.Query("done")}, "email", u.Email)
}

// userAction changes a user's role, status or mandatory TOTP, or ends
// their sessions; each is confirmed, and role and status need a reason.
func (cn *Console) userAction(c *fiber.Ctx) error {
	ctx, id, action := c.UserContext(), c.Params("user"), path.Base(c.Path())
	u, err := cn.cfg.Users.User(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	value := c.FormValue("value")
	cf := confirmation{Target: u.Email, Path: c.Path(), Cancel: Prefix + "/users/" + id, Reason: reason(c), Fields: []field{{"value", value}}}
	switch action {
	case "role":
		cf.Action, cf.NeedReason, cf.Detail = "change-role", true, printer(c).T("console.detail.role", "role", value)
	case "status":
		cf.Action, cf.NeedReason = map[string]string{"disabled": "disable", "active": "enable"}[value], true
		if cf.Action == "" {
			return cn.fail(c, licensing.Errorf(licensing.EInvalid, "status must be active or disabled"))
		}
		if value == "disabled" {
			cf.Detail = printer(c).T("console.detail.disable_user")
		}
	case "totp":
		cf.Action = map[string]string{"required": "require-2fa", "optional": "optional-2fa"}[value]
		if cf.Action == "" {
			return cn.fail(c, licensing.Errorf(licensing.EInvalid, "two-factor must be required or optional"))
		}
	case "sessions":
		cf.Action, cf.Detail, cf.Fields = "end-sessions", printer(c).T("console.detail.sessions"), nil
	}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	switch action {
	case "role":
		_, err = cn.cfg.Users.SetRole(ctx, id, licensing.Role(value), cf.Reason)
	case "status":
		_, err = cn.cfg.Users.SetStatus(ctx, id, users.Status(value), cf.Reason)
	case "totp":
		_, err = cn.cfg.Users.SetTOTPRequired(ctx, id, value == "required")
	case "sessions":
		err = cn.cfg.Users.SignOutEverywhere(ctx, id)
	}
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/users/"+id+"?done="+action)
}

// baseURL is the configured public URL, or "" (links as paths).
func (cn *Console) baseURL() string {
	if cn.cfg.BaseURL == nil {
		return ""
	}
	return cn.cfg.BaseURL()
}
