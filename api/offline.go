package api

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Air-gapped activation: an admin posts the request file an offline machine
// wrote and gets back the lease file to carry to it (README.md).
type (
	offlineActivationIn struct {
		Request verifier.ActivationRequest `json:"request"`
		// TTLSeconds is the wanted lease TTL (0: the policy's cap for
		// offline leases, see licensing.OfflineTTLMetadata).
		TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	}
	offlineActivationOut struct {
		LeaseFile      verifier.LeaseFile `json:"lease_file"`
		LeaseExpiresAt time.Time          `json:"lease_expires_at"`
		MachineID      string             `json:"machine_id"`
		LicenseID      string             `json:"license_id"`
	}
)

func (s *Server) activateOffline(c *fiber.Ctx) error {
	var in offlineActivationIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	raw, _ := json.Marshal(in.Request)
	req, err := verifier.ParseActivationRequest(raw)
	if err != nil {
		return licensing.Wrap(licensing.EInvalid, err, "request is not an activation request file").WithField("request")
	}
	if in.TTLSeconds < 0 {
		return licensing.FieldErrorf("ttl_seconds", "ttl_seconds must not be negative")
	}
	// The service caps the TTL; this only keeps the multiplication below
	// from overflowing.
	in.TTLSeconds = min(in.TTLSeconds, int64(licensing.MaxLeaseTTL/time.Second))
	g, err := s.svc.Leasing.ActivateOffline(c.UserContext(), licensing.OfflineActivation{
		Request: licensing.MachineRequest{Key: req.LicenseKey, Fingerprint: req.Fingerprint, Name: req.Hostname, Hostname: req.Hostname, Platform: req.Platform},
		Product: req.Product, TTL: time.Duration(in.TTLSeconds) * time.Second,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(offlineActivationOut{
		LeaseFile:      verifier.LeaseFile{Type: verifier.LeaseFileType, V: 1, Lease: g.Lease},
		LeaseExpiresAt: g.ExpiresAt, MachineID: g.Machine.ID, LicenseID: g.License.ID,
	})
}
