package licensing

import "time"

// CheckSessionTimes is the one rule of a browser session's life, for the
// console's (licensing/users) and the portal's (licensing/portal):
// EUnauthorized when it was revoked, is past its absolute end, or was idle
// for idle or longer at now.
func CheckSessionTimes(now time.Time, revokedAt *time.Time, lastSeen, expires time.Time, idle time.Duration) error {
	switch {
	case revokedAt != nil:
		return Errorf(EUnauthorized, "the session has ended")
	case !now.Before(expires):
		return Errorf(EUnauthorized, "the session has expired")
	case !now.Before(lastSeen.Add(idle)):
		return Errorf(EUnauthorized, "the session was idle too long")
	}
	return nil
}
