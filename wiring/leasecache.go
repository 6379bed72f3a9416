package wiring

import (
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
)

// The policy cache of renewals, heartbeats and validations
// (storage.PolicyCache) and its relay between instances over Redis.
// defaultLeaseCacheTTL is NARCIDI_LEASE_CACHE_TTL's default (its reason:
// storage.DefaultPolicyCacheTTL).
const defaultLeaseCacheTTL = storage.DefaultPolicyCacheTTL

// leaseCacheSetting is the row of NARCIDI_LEASE_CACHE_TTL (group server).
func leaseCacheSetting(c *Config) setting {
	return setting{env: "NARCIDI_LEASE_CACHE_TTL", def: defaultLeaseCacheTTL.String(), kind: "duration",
		help: "how long a server keeps a policy for renewals, heartbeats and validations (0 keeps none; at most " +
			licensing.MaxPolicyStaleness.String() + "): a policy change reaches every instance within it, at once on the instance that made it " +
			"and, with NARCIDI_REDIS_URL, on the others; licenses, customers and machines are never kept",
		value: durationIn(&c.LeaseCacheTTL, 0, licensing.MaxPolicyStaleness)}
}
