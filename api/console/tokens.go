package console

import (
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

var tokenRoutes = []Route{
	{"tokens", "GET", "/tokens", licensing.ReadTokens, (*Console).tokens},
	{"tokenCreate", "POST", "/tokens", licensing.WriteTokens, (*Console).tokenCreate},
	{"tokenRevoke", "POST", "/tokens/:token/revoke", licensing.WriteTokens, (*Console).tokenRevoke},
}

type tokensData struct {
	formError
	Tokens []licensing.APIToken
	Roles  []licensing.Role
	Done   string
	Next   template.URL
	// The create form's values, kept when it is refused.
	Name, Role, Customer, Expires string
	Pick                          picker // the customer of a customer token, by name
	Names                         *labels
}

func (cn *Console) tokensPage(c *fiber.Ctx, status int, d tokensData) error {
	ts, err := cn.cfg.Services.Access.Tokens(c.UserContext(), licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Tokens, d.Roles, d.Names = ts, licensing.Roles, cn.labels(c)
	if current(c).Actor.Allows(licensing.ReadCustomers) {
		q := c.FormValue("customer_q")
		if d.Pick, err = cn.customerPicker(c.UserContext(), "customer", "Customer (customer role only)", q, d.Customer); err != nil {
			return cn.fail(c, err)
		}
		d.Pick.Optional = true
	}
	d.Next = nextPage(ts, func(t *licensing.APIToken) string { return t.ID }, nil)
	return cn.render(c, status, "tokens", "console.page.tokens", d)
}

func (cn *Console) tokens(c *fiber.Ctx) error {
	return cn.tokensPage(c, fiber.StatusOK, tokensData{Done: c.Query("done"), Role: string(licensing.RoleReadOnly)})
}

type tokenCreated struct {
	Token  licensing.APIToken
	Secret string
}

// tokenCreate issues a token and shows its secret once, in the answer to
// the POST (never at a URL).
func (cn *Console) tokenCreate(c *fiber.Ctx) error {
	d := tokensData{Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role"),
		Customer: strings.TrimSpace(c.FormValue("customer")), Expires: strings.TrimSpace(c.FormValue("expires"))}
	if searching(c) {
		return cn.tokensPage(c, fiber.StatusOK, d)
	}
	in := licensing.TokenInput{Name: d.Name, Role: licensing.Role(d.Role), CustomerID: d.Customer}
	exp, err := formTime("expires", d.Expires, true)
	if err == nil {
		err = cn.pickedFits(c, c.FormValue("customer_q"), d.Customer)
	}
	if err == nil {
		in.ExpiresAt = exp
		var ct *licensing.CreatedToken
		if ct, err = cn.cfg.Services.Access.CreateToken(c.UserContext(), in); err == nil {
			return cn.render(c, fiber.StatusCreated, "token-created", "console.page.token_created", tokenCreated{ct.Token, ct.Secret})
		}
	}
	if licensing.ErrorCode(err) == licensing.EInvalid {
		d.formError = refusal(err)
		return cn.tokensPage(c, fiber.StatusUnprocessableEntity, d)
	}
	return cn.fail(c, err)
}

func (cn *Console) tokenRevoke(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("token")
	t, err := cn.cfg.Services.Access.Token(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: "revoke", Target: printer(c).T("console.target.token", "role", t.Role, "name", t.Name), Detail: printer(c).T("console.detail.token_revoke"),
		Path: c.Path(), Cancel: Prefix + "/tokens"}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	if err := cn.cfg.Services.Access.RevokeToken(ctx, id); err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/tokens?done=revoked")
}
