package licensing

import "net/netip"

// PublicAddress reports whether ip may be reached by a webhook when private
// networks are not allowed. It accepts only globally reachable unicast
// addresses: IPv4 outside every non-public block of the IANA IPv4
// Special-Purpose Address Registry, and IPv6 inside global unicast
// (2000::/3) outside the non-public blocks of the IANA IPv6 Special-Purpose
// Address Registry. An IPv6 form that carries an IPv4 address (IPv4-mapped,
// NAT64, 6to4) is judged by the IPv4 address it leads to as well, so
// ::ffff:127.0.0.1 or 2002:7f00:1:: cannot reach loopback.
func PublicAddress(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		// A zone only makes sense on link-local (and other scoped) addresses.
		return false
	}
	if ip.Is4In6() {
		return publicIPv4(ip.Unmap())
	}
	if ip.Is4() {
		return publicIPv4(ip)
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return publicIPv4(v4)
	}
	if !globalUnicast6.Contains(ip) {
		// Everything else of ::/8 (unspecified, loopback, IPv4-compatible
		// ::a.b.c.d, SIIT ::ffff:0:a.b.c.d), 100::/64 discard, fc00::/7 unique
		// local, fe80::/10 link-local, ff00::/8 multicast...: none is a
		// public unicast address (IANA IPv6 Address Space registry).
		return false
	}
	for _, p := range nonPublic6 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func publicIPv4(ip netip.Addr) bool {
	for _, p := range nonPublic4 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// embeddedIPv4 returns the IPv4 address an IPv6 translation or tunnelling
// form leads to: NAT64 (64:ff9b::/96, RFC 6052: the last 32 bits) and 6to4
// (2002::/16, RFC 3056: bits 16 to 47). IPv4-mapped addresses are unmapped
// by the caller. IPv4-compatible (::/96, deprecated by RFC 4291) and Teredo
// (2001::/32, inside 2001::/23) are refused whatever they carry.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
)

// nonPublic4 lists the IPv4 blocks a webhook may not reach: every entry of
// the IANA IPv4 Special-Purpose Address Registry whose "Globally Reachable"
// is False or N/A (https://www.iana.org/assignments/iana-ipv4-special-registry,
// RFC 6890 and its updates), plus multicast (IANA IPv4 Multicast Address
// Space registry). 192.0.0.9/32 and 192.0.0.10/32 are globally reachable
// anycast services inside 192.0.0.0/24; no webhook lives there, so the
// whole /24 is refused.
var nonPublic4 = mustPrefixes(
	"0.0.0.0/8",          // "this network" (RFC 791)
	"10.0.0.0/8",         // private-use (RFC 1918)
	"100.64.0.0/10",      // shared address space, CGNAT (RFC 6598)
	"127.0.0.0/8",        // loopback (RFC 1122)
	"169.254.0.0/16",     // link local (RFC 3927)
	"172.16.0.0/12",      // private-use (RFC 1918)
	"192.0.0.0/24",       // IETF protocol assignments (RFC 6890), incl. DS-Lite 192.0.0.0/29
	"192.0.2.0/24",       // documentation TEST-NET-1 (RFC 5737)
	"192.88.99.0/24",     // deprecated 6to4 relay anycast (RFC 7526)
	"192.168.0.0/16",     // private-use (RFC 1918)
	"198.18.0.0/15",      // benchmarking (RFC 2544)
	"198.51.100.0/24",    // documentation TEST-NET-2 (RFC 5737)
	"203.0.113.0/24",     // documentation TEST-NET-3 (RFC 5737)
	"224.0.0.0/4",        // multicast (RFC 5771)
	"240.0.0.0/4",        // reserved (RFC 1112)
	"255.255.255.255/32", // limited broadcast (RFC 919), inside 240.0.0.0/4 but listed by the registry
)

// nonPublic6 lists the blocks inside 2000::/3 that a webhook may not reach,
// from the IANA IPv6 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv6-special-registry). The blocks
// of that registry outside 2000::/3 (::1/128, ::/128, ::ffff:0:0/96,
// 64:ff9b:1::/48, 100::/64, 100:0:0:1::/64, fc00::/7, fe80::/10) are refused
// by the 2000::/3 rule; 64:ff9b::/96 and 2002::/16 by their embedded IPv4.
var nonPublic6 = mustPrefixes(
	"2001::/23",     // IETF protocol assignments (RFC 2928): Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID...
	"2001:db8::/32", // documentation (RFC 3849)
	"3fff::/20",     // documentation (RFC 9637)
)

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}
