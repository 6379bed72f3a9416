package api

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// guards are the middlewares every request goes through before routing:
// the client address behind trusted proxies, then the refusal of NUL
// characters anywhere they could reach the database.
func guards(cfg Config) []any {
	return []any{clientAddress(cfg.ProxyHeader, cfg.TrustedProxies), refuseNUL}
}

// refuseNUL answers 422 for a U+0000 in the path, a query parameter, a
// header or a field of an HTML form (the console's and the portal's):
// PostgreSQL refuses NUL in text (a 500 after the fact), SQLite keeps it,
// and no legitimate caller sends one. JSON bodies are checked by
// checkStrict, against the member they are in; uploaded files are data.
func refuseNUL(c *fiber.Ctx) error {
	if bytes.IndexByte(c.Request().URI().Path(), 0) >= 0 || strings.IndexByte(c.Path(), 0) >= 0 {
		return licensing.Errorf(licensing.EInvalid, "the path must not contain a NUL character")
	}
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if bad == nil && (bytes.IndexByte(k, 0) >= 0 || bytes.IndexByte(v, 0) >= 0) {
			bad = licensing.Errorf(licensing.EInvalid, "query parameter %q must not contain a NUL character", strings.ReplaceAll(string(k), "\x00", `\u0000`))
		}
	})
	c.Request().Header.VisitAll(func(k, v []byte) {
		if bad == nil && (bytes.IndexByte(k, 0) >= 0 || bytes.IndexByte(v, 0) >= 0) {
			bad = licensing.Errorf(licensing.EInvalid, "header %q must not contain a NUL character", strings.ReplaceAll(string(k), "\x00", `\u0000`))
		}
	})
	if bad != nil {
		return bad
	}
	if c.Method() == fiber.MethodPost {
		if err := formNUL(c); err != nil {
			return err
		}
	}
	return c.Next()
}

// formNUL refuses a NUL in a field of a posted HTML form.
func formNUL(c *fiber.Ctx) error {
	ct := string(c.Request().Header.ContentType())
	fieldErr := func(k string) error {
		return licensing.Errorf(licensing.EInvalid, "form field %q must not contain a NUL character", strings.ReplaceAll(k, "\x00", `\u0000`))
	}
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		var bad error
		c.Request().PostArgs().VisitAll(func(k, v []byte) {
			if bad == nil && (bytes.IndexByte(k, 0) >= 0 || bytes.IndexByte(v, 0) >= 0) {
				bad = fieldErr(string(k))
			}
		})
		return bad
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		form, err := c.MultipartForm()
		if err != nil {
			return nil // the handler answers for a form it cannot read
		}
		for k, vs := range form.Value {
			for _, v := range vs {
				if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
					return fieldErr(k)
				}
			}
		}
	}
	return nil
}

// ParseTrustedProxies reads a comma-separated list of proxy addresses and
// networks ("10.0.0.0/8, 192.168.1.10, ::1"), as NARCIDI_TRUSTED_PROXIES
// gives them.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR network", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientAddress replaces the connection's peer address with the client's
// when the request came through trusted proxies, so that c.IP() (rate
// limits, machine IPs) sees the client. fiber's own ProxyHeader takes the
// left-most address of X-Forwarded-For, which the client writes itself;
// here the header is read only when the peer is a trusted proxy, and from
// the right: the first address that is not a trusted proxy is the client
// (every hop to its right was added by a proxy we trust).
func clientAddress(header string, trusted []netip.Prefix) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if header == "" || len(trusted) == 0 {
			return c.Next()
		}
		// The connection's own address: RemoteAddr may have been set by this
		// middleware for an earlier request of the same connection.
		var addr net.Addr = c.Context().RemoteAddr()
		if conn := c.Context().Conn(); conn != nil {
			addr = conn.RemoteAddr()
		}
		peer := addrOf(addr)
		var hops []string
		for _, v := range c.Request().Header.PeekAll(header) {
			for _, h := range strings.Split(string(v), ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
		if ip := clientIP(peer, hops, trusted); ip != peer && ip.IsValid() {
			c.Context().SetRemoteAddr(&net.TCPAddr{IP: ip.AsSlice(), Zone: ip.Zone()})
		}
		return c.Next()
	}
}

// clientIP walks the forwarding chain peer ← hops[n-1] ← ... ← hops[0]
// from the right and returns the first address that is not a trusted proxy.
// A hop that is not an address stops the walk at the last trusted one: what
// lies to its left cannot be told apart from what the client wrote.
func clientIP(peer netip.Addr, hops []string, trusted []netip.Prefix) netip.Addr {
	client := peer
	if !isTrusted(client, trusted) {
		return client
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads an address as proxies write it: "192.0.2.1",
// "192.0.2.1:1234", "2001:db8::1" or "[2001:db8::1]:1234".
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
