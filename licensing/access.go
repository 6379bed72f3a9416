package licensing

import (
	"context"
	"strings"
	"time"
)

// AccessStore is the data authentication and token management need. Every
// method returns ENotFound when a row is missing, EUnavailable when the
// database cannot be reached, EInternal otherwise. Safe for concurrent use.
type AccessStore interface {
	Tx[AccessStore]
	EventAppender
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	CreateAPIToken(ctx context.Context, t *APIToken) error
	GetAPIToken(ctx context.Context, id string) (*APIToken, error)
	// GetAPITokenByHash finds a token by the hash of its secret (see
	// SecretHasher).
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// RehashAPIToken replaces the token hash from by to if a token still
	// has from; nil when none does (a concurrent request migrated it).
	RehashAPIToken(ctx context.Context, from, to string) error
	// ActiveBootstrapTokens lists the tokens made by BootstrapAdminToken
	// that are not revoked.
	ActiveBootstrapTokens(ctx context.Context) ([]APIToken, error)
	CountAPITokens(ctx context.Context) (int, error)
	ListAPITokens(ctx context.Context, page Page) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, now time.Time) error
	// TouchAPIToken sets the token's last use to at unless it is already
	// after notBefore (a concurrent request wrote it).
	TouchAPIToken(ctx context.Context, id string, at, notBefore time.Time) error
}

// Access answers who a bearer token stands for and manages API tokens.
// Safe for concurrent use.
type Access struct {
	core
	store   AccessStore
	secrets *SecretHasher
}

// NewAccess builds the access service. secrets hashes token secrets.
//
// Access and NewAccess are alike Licenses and NewLicenses by shape (core,
// store, secrets): every service is built so, each over its own store.
func NewAccess(store AccessStore, clock Clock, secrets *SecretHasher) *Access {
	return &Access{core: newCore(clock), store: store, secrets: mustHasher(secrets)}
}

// Token returns an API token (never its secret). ENotFound.
func (s *Access) Token(ctx context.Context, id string) (*APIToken, error) {
	return s.store.GetAPIToken(ctx, id)
}

// Tokens lists API tokens by id.
func (s *Access) Tokens(ctx context.Context, page Page) ([]APIToken, error) {
	return s.store.ListAPITokens(ctx, page)
}

// Authenticate resolves a bearer token to the actor it stands for.
// EUnauthorized for an unknown, expired or revoked token; EForbidden for a
// customer token whose customer is disabled.
func (s *Access) Authenticate(ctx context.Context, secret string) (*Actor, error) {
	if secret == "" || len(secret) > 256 {
		return nil, Errorf(EUnauthorized, "a valid bearer token is required")
	}
	t, err := s.secrets.tokenBySecret(ctx, s.store, secret)
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(EUnauthorized, "a valid bearer token is required")
	} else if err != nil {
		return nil, err
	}
	now := s.clock()
	if !t.Usable(now) {
		return nil, Errorf(EUnauthorized, "the token is expired or revoked")
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= TokenUseResolution {
		// The error is dropped: a database that cannot be written (disk
		// full, read-only) must not refuse requests that only read.
		_ = s.store.TouchAPIToken(ctx, t.ID, now, now.Add(-TokenUseResolution))
	}
	a := &Actor{TokenID: t.ID, Name: t.Name, Role: t.Role, CustomerID: t.CustomerID}
	if t.Role == RoleCustomer {
		c, err := s.store.GetCustomer(ctx, t.CustomerID)
		if err != nil {
			return nil, err
		}
		if c.Status != CustomerActive {
			return nil, Errorf(EForbidden, "the customer's account is disabled")
		}
		a.customerPerms = c.Permissions
	}
	return a, nil
}

// TokenInput is what an admin gives to create an API token.
type TokenInput struct {
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CustomerID string     `json:"customer_id,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// CreatedToken is a new token with its secret, shown once.
type CreatedToken struct {
	Token  APIToken `json:"token"`
	Secret string   `json:"secret"`
}

// CreateToken issues an API token. EInvalid, ENotFound (customer).
func (s *Access) CreateToken(ctx context.Context, in TokenInput) (*CreatedToken, error) {
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if !in.Role.valid() {
		return nil, FieldErrorf("role", "role must be one of %v", Roles)
	}
	if (in.Role == RoleCustomer) != (in.CustomerID != "") {
		return nil, FieldErrorf("customer_id", "customer_id is required for the customer role and only for it")
	}
	now := s.clock()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return nil, FieldErrorf("expires_at", "expires_at must be in the future")
	}
	if in.CustomerID != "" {
		if _, err := s.store.GetCustomer(ctx, in.CustomerID); ErrorCode(err) == ENotFound {
			return nil, FieldErrorf("customer_id", "customer %s does not exist", in.CustomerID)
		} else if err != nil {
			return nil, err
		}
	}
	secret := NewAPITokenSecret()
	t := APIToken{Name: strings.TrimSpace(in.Name), Role: in.Role, CustomerID: in.CustomerID, Hash: s.secrets.Hash(secret), ExpiresAt: in.ExpiresAt, CreatedAt: now}
	err := s.store.InTx(ctx, func(tx AccessStore) error {
		if err := tx.CreateAPIToken(ctx, &t); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionTokenCreated, "token", t.ID, "", nil, &t)
	})
	if err != nil {
		return nil, err
	}
	return &CreatedToken{Token: t, Secret: secret}, nil
}

// RevokeToken stops a token from working at once. ENotFound, EConflict.
func (s *Access) RevokeToken(ctx context.Context, id string) error {
	return s.store.InTx(ctx, func(tx AccessStore) error {
		t, err := tx.GetAPIToken(ctx, id)
		if err != nil {
			return err
		}
		if t.RevokedAt != nil {
			return Errorf(EConflict, "the token is already revoked")
		}
		now := s.clock()
		if err := tx.RevokeAPIToken(ctx, id, now); err != nil {
			return err
		}
		after := *t
		after.RevokedAt = &now
		return s.record(ctx, tx, ActionTokenRevoked, "token", id, "", t, &after)
	})
}

// BootstrapAdminToken makes sure an admin can get in on first run. When a
// secret is given (NARCIDI_ADMIN_TOKEN) and is not yet known, it replaces
// the bootstrap token(s) made before: in one transaction they are revoked
// and the new one created, each change audited, so changing the variable
// and restarting leaves only the new secret working. A known secret changes
// nothing (a restart with the same configuration is a no-op, and a
// bootstrap token an admin revoked stays revoked). Without a secret, when
// no token exists at all, one is generated and returned so it can be shown
// once. It returns "" when nothing was generated.
func (s *Access) BootstrapAdminToken(ctx context.Context, secret string) (string, error) {
	ctx = WithActor(ctx, &Actor{Name: "bootstrap", RequestID: ActorFrom(ctx).RequestID})
	generated, err := s.bootstrap(ctx, secret)
	if ErrorCode(err) == EConflict {
		// Another process starting at the same time replaced the token
		// first: this attempt now finds the secret known.
		generated, err = s.bootstrap(ctx, secret)
	}
	return generated, err
}

func (s *Access) bootstrap(ctx context.Context, secret string) (string, error) {
	var generated string
	err := s.store.InTx(ctx, func(tx AccessStore) error {
		now := s.clock()
		if secret != "" {
			if len(secret) < 24 {
				return Errorf(EInvalid, "the bootstrap admin token must be at least 24 characters")
			}
			if _, err := s.secrets.tokenBySecret(ctx, tx, secret); err == nil {
				return nil
			} else if ErrorCode(err) != ENotFound {
				return err
			}
			old, err := tx.ActiveBootstrapTokens(ctx)
			if err != nil {
				return err
			}
			for _, t := range old {
				if err := tx.RevokeAPIToken(ctx, t.ID, now); err != nil {
					return err
				}
				after := t
				after.RevokedAt = &now
				if err := s.record(ctx, tx, ActionTokenRevoked, "token", t.ID, "replaced by a new NARCIDI_ADMIN_TOKEN", &t, &after); err != nil {
					return err
				}
			}
		} else {
			n, err := tx.CountAPITokens(ctx)
			if err != nil || n > 0 {
				return err
			}
			secret = NewAPITokenSecret()
			generated = secret
		}
		t := APIToken{Name: "bootstrap admin", Role: RoleAdmin, Hash: s.secrets.Hash(secret), Bootstrap: true, CreatedAt: now}
		if err := tx.CreateAPIToken(ctx, &t); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionTokenCreated, "token", t.ID, "bootstrap admin token", nil, &t)
	})
	return generated, err
}
