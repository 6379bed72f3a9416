package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// The client API: what apps call (through the verifier SDK) with a license
// key and their machine fingerprint. Bodies are the SDK's wire types.

func (s *Server) machineRequest(c *fiber.Ctx) (licensing.MachineRequest, error) {
	var in verifier.MachineRequest
	if err := decodeJSON(c, &in); err != nil {
		return licensing.MachineRequest{}, err
	}
	req := licensing.MachineRequest{
		Key: in.LicenseKey, Fingerprint: in.Fingerprint, Name: in.Name,
		Hostname: in.Hostname, Platform: in.Platform, IP: c.IP(), AppVersion: in.AppVersion, Components: in.Components,
	}
	if t := in.ClockTampering; t != nil {
		req.ClockTampering = &licensing.ClockTampering{Count: t.Count, FirstAt: t.FirstAt, LastAt: t.LastAt}
	}
	return req, nil
}

func leaseResponse(g *licensing.Grant) verifier.LeaseResponse {
	return verifier.LeaseResponse{
		Lease: g.Lease, LeaseExpiresAt: g.ExpiresAt, MachineID: g.Machine.ID, LicenseID: g.License.ID,
		// Half the window, so a client on that pace never races the offline scan.
		ProductID: g.License.ProductID, HeartbeatInterval: g.Policy.HeartbeatIntervalSeconds(), Overage: g.Overage,
	}
}

func (s *Server) activate(c *fiber.Ctx) error {
	req, err := s.machineRequest(c)
	if err != nil {
		return err
	}
	g, err := s.svc.Leasing.Activate(c.UserContext(), req)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if g.Created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(leaseResponse(g))
}

func (s *Server) renew(c *fiber.Ctx) error {
	req, err := s.machineRequest(c)
	if err != nil {
		return err
	}
	g, err := s.svc.Leasing.Renew(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(leaseResponse(g))
}

func (s *Server) heartbeat(c *fiber.Ctx) error {
	req, err := s.machineRequest(c)
	if err != nil {
		return err
	}
	m, next, err := s.svc.Leasing.Heartbeat(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(verifier.HeartbeatResponse{MachineID: m.ID, LastHeartbeat: *m.LastHeartbeat, NextHeartbeat: next})
}

func (s *Server) deactivate(c *fiber.Ctx) error {
	req, err := s.machineRequest(c)
	if err != nil {
		return err
	}
	if err := s.svc.Leasing.Deactivate(c.UserContext(), req); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) validate(c *fiber.Ctx) error {
	var in verifier.MachineRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	v, err := s.svc.Leasing.Validate(c.UserContext(), in.LicenseKey, in.Fingerprint)
	if err != nil {
		return err
	}
	out := verifier.ValidateResponse{Valid: v.Valid, Code: v.Code, Detail: v.Detail}
	if v.License != nil {
		out.LicenseID, out.Status, out.ExpiresAt = v.License.ID, string(v.License.Status), v.License.ExpiresAt
	}
	return c.JSON(out)
}

func (s *Server) useMeter(c *fiber.Ctx) error {
	var in verifier.UseRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	r, err := s.svc.Metering.Use(c.UserContext(), in)
	if err != nil {
		return err
	}
	m := r.Meter
	return c.JSON(verifier.UseResponse{MeterID: m.ID, Meter: m.Entitlement, Uses: m.Uses, MaxUses: m.MaxUses,
		Remaining: m.Remaining(), Total: m.Total, Replayed: r.Replayed})
}
