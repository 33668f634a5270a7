package auth

// Revocation is a change to the store, made by another process on the
// same database, that may end someone's access: a token revoked, a user's
// sign-ins ended, an account changed (role, disabled, who may watch them)
// or deleted. It points at rows; the store has the truth.
type Revocation struct {
	// User is the account concerned.
	User string `json:"u"`
	// TokenID is the one session or publish key revoked; "" when the
	// change concerns the account.
	TokenID string `json:"t,omitempty"`
	// Sessions is true when all of User's sign-in sessions ended
	// (password set, account disabled or deleted, sessions revoked).
	Sessions bool `json:"s,omitempty"`
}

// SetOnRevoke installs f, told of every revocation another process makes
// on the store, after this store has dropped the tokens it cached, so that
// what runs (event feeds, media sessions) can be checked again at once.
// Only PostgreSQL tells; on SQLite f is never called. f runs on the
// store's listening goroutine: it should return soon.
func (s *Store) SetOnRevoke(f func(Revocation)) { s.onRevoke.Store(&f) }

// heard handles a revocation by another process.
func (s *Store) heard(r Revocation) {
	s.cache.invalidate()
	if f := s.onRevoke.Load(); f != nil {
		(*f)(r)
	}
}
