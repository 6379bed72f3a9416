package licensing_test

import (
	"net/netip"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// nonPublicSamples has addresses of every non-public block of the IANA
// special-purpose registries (first, inner and last addresses) and of every
// IPv6 form that embeds one of them. The dial test (workers) and the API
// test (cmd/narcidi) use shorter copies.
var nonPublicSamples = []string{
	// IPv4 special-purpose registry
	"0.0.0.0", "0.1.2.3", "0.255.255.255", // this network
	"10.0.0.0", "10.255.255.255", // private
	"100.64.0.0", "100.127.255.255", // shared (CGNAT)
	"127.0.0.1", "127.255.255.254", // loopback
	"169.254.0.1", "169.254.169.254", // link local (cloud metadata)
	"172.16.0.1", "172.31.255.255", // private
	"192.0.0.0", "192.0.0.8", "192.0.0.255", // IETF protocol assignments
	"192.0.2.0", "192.0.2.55", "192.0.2.255", // TEST-NET-1
	"192.88.99.1",                    // 6to4 relay anycast (deprecated)
	"192.168.0.1", "192.168.255.255", // private
	"198.18.0.0", "198.19.255.255", // benchmarking
	"198.51.100.7",                 // TEST-NET-2
	"203.0.113.9",                  // TEST-NET-3
	"224.0.0.1", "239.255.255.255", // multicast
	"240.0.0.1", "254.1.2.3", // reserved
	"255.255.255.255", // broadcast
	// IPv6 special-purpose registry and address space
	"::", "::1", // unspecified, loopback
	"::127.0.0.1", "::8.8.8.8", "::10.0.0.1", // IPv4-compatible (deprecated)
	"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:192.0.2.1", "::ffff:0.0.0.0", // IPv4-mapped of non-public
	"::ffff:0:127.0.0.1", "::ffff:0:8.8.8.8", // SIIT IPv4-translated
	"64:ff9b::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::c000:201", "64:ff9b::ffff:ffff", // NAT64 of non-public
	"64:ff9b:1::1", "64:ff9b:1::808:808", // local-use translation
	"100::", "100::ffff:ffff:ffff:ffff", // discard-only
	"100:0:0:1::1",                                    // dummy prefix
	"2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
	"2001:2::1", "2001:10::1", "2001:1ff:ffff::1", // benchmarking, ORCHID, end of 2001::/23
	"2001:db8::", "2001:db8:ffff::1", // documentation
	"3fff::1", "3fff:fff::1", // documentation
	"2002:7f00:1::", "2002:a00:1::1", "2002:c0a8:101::1", "2002:c000:201::", // 6to4 of non-public
	"fc00::1", "fd12:3456::1", // unique local
	"fe80::1", "febf::1", // link local
	"fec0::1",            // site local (deprecated)
	"ff02::1", "ff05::2", // multicast
	"4000::1", "5f00::1", "8000::1", // outside global unicast
}

// publicSamples are public addresses, several just outside a refused block.
var publicSamples = []string{
	"1.1.1.1", "8.8.8.8", "93.184.216.34", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
	"172.15.255.255", "172.32.0.0", "192.0.1.255", "192.0.3.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
	"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111", "2a00:1450:4001::200e",
	"2001:200::1", "2001:db7:ffff::1", "2001:db9::1", "3ffe:ffff::1",
}

func TestPublicAddressEveryRange(t *testing.T) {
	t.Parallel()
	for _, s := range nonPublicSamples {
		if licensing.PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("%s is called public", s)
		}
	}
	for _, s := range publicSamples {
		if !licensing.PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("%s is called non-public", s)
		}
	}
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2606:4700::1%eth0")} {
		if licensing.PublicAddress(a) {
			t.Errorf("%v is called public", a)
		}
	}
}
