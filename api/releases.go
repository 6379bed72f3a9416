package api

import (
	"encoding/base64"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Release routes: admins build and publish releases; apps fetch the signed
// metadata and are redirected to short-lived download URLs.

// releaseKeysOut lists the public keys that sign release metadata: apps pin them.
type releaseKeysOut struct {
	MetadataKeys []releaseKeyOut `json:"metadata_keys"`
}

type releaseKeyOut struct {
	KeyID     string `json:"keyid"`
	PublicKey string `json:"public_key"` // base64, 32 bytes
}

func (s *Server) releaseService() (*release.Service, error) {
	if s.releases == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "releases are not configured on this server")
	}
	return s.releases, nil
}

func (s *Server) createRelease(c *fiber.Ctx) error {
	return write(c, fiber.StatusCreated, func(in release.ReleaseInput) (*release.Release, error) {
		rs, err := s.releaseService()
		if err != nil {
			return nil, err
		}
		return rs.CreateRelease(c.UserContext(), in)
	})
}

func (s *Server) listReleases(c *fiber.Ctx) error {
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	f := release.Filter{ProductID: c.Query("product_id"), Channel: c.Query("channel"), Status: release.Status(c.Query("status")),
		Version: c.Query("version")}
	return list(c, func(p licensing.Page) ([]release.Release, error) { return rs.Releases(c.UserContext(), f, p) },
		func(r *release.Release) string { return r.ID })
}

func (s *Server) getRelease(c *fiber.Ctx) error {
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	v, err := rs.Release(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) addArtifact(c *fiber.Ctx) error {
	return write(c, fiber.StatusCreated, func(in release.ArtifactInput) (*release.Upload, error) {
		rs, err := s.releaseService()
		if err != nil {
			return nil, err
		}
		return rs.AddArtifact(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) finalizeArtifact(c *fiber.Ctx) error {
	return optionalBody(c, func(in release.FinalizeInput) (*release.Artifact, error) {
		rs, err := s.releaseService()
		if err != nil {
			return nil, err
		}
		return rs.Finalize(c.UserContext(), c.Params("id"), c.Params("artifact_id"), in)
	})
}

func (s *Server) publishRelease(c *fiber.Ctx) error {
	return optionalBody(c, func(struct{}) (*release.Release, error) {
		rs, err := s.releaseService()
		if err != nil {
			return nil, err
		}
		return rs.Publish(c.UserContext(), c.Params("id"))
	})
}

func (s *Server) deleteRelease(c *fiber.Ctx) error {
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	return noContent(c, rs.DeleteRelease(c.UserContext(), c.Params("id")))
}

func (s *Server) yankRelease(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*release.Release, error) {
		rs, err := s.releaseService()
		if err != nil {
			return nil, err
		}
		return rs.Yank(c.UserContext(), c.Params("id"), in.Reason)
	})
}

func (s *Server) releaseMetadata(c *fiber.Ctx) error {
	var in verifier.ReleaseCheckRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	doc, err := rs.Metadata(c.UserContext(), release.Credential{LicenseKey: in.LicenseKey, Lease: in.Lease,
		Fingerprint: in.Fingerprint, ProductID: in.ProductID}, in.Channel)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(doc)
}

// downloadRelease answers 303 See Other to a presigned URL: the bytes never
// pass through the API server.
func (s *Server) downloadRelease(c *fiber.Ctx) error {
	var in verifier.ReleaseDownloadRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	u, err := rs.Download(c.UserContext(), release.DownloadRequest{
		Credential: release.Credential{LicenseKey: in.LicenseKey, Lease: in.Lease, Fingerprint: in.Fingerprint, ProductID: in.ProductID},
		Channel:    in.Channel, Version: in.Version, Platform: in.Platform, Arch: in.Arch,
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderLocation, u)
	return c.SendStatus(fiber.StatusSeeOther)
}

func (s *Server) releaseKeys(c *fiber.Ctx) error {
	rs, err := s.releaseService()
	if err != nil {
		return err
	}
	pub := rs.MetadataPublicKey()
	return c.JSON(releaseKeysOut{MetadataKeys: []releaseKeyOut{{KeyID: verifier.ReleaseKeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub)}}})
}
