package licensing

import "net/netip"

// PublicAddress reports whether ip may be reached by a webhook when private
// networks are not allowed: not loopback, private, link-local, multicast,
// unspecified, CGNAT or IPv4-mapped forms of those.
func PublicAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsMulticast() && !ip.IsUnspecified() && !ip.IsInterfaceLocalMulticast() && !cgnat.Contains(ip)
}
