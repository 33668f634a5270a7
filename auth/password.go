package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password limits.
const (
	minPasswordLen = 8    // runes
	maxPasswordLen = 1024 // bytes; argon2 pre-hashes, but there is no reason to accept more
	saltLen        = 16
	hashLen        = 32
)

// argonParams are the argon2id parameters of one hash (RFC 9106).
type argonParams struct {
	time    uint32
	memory  uint32 // KiB
	threads uint8
}

// hasher hashes and verifies passwords. sem bounds how many hashes run at
// once, because each one holds params.memory KiB.
type hasher struct {
	params argonParams
	sem    chan struct{}
	// dummy is a hash of a random password with params, verified against
	// when the user is unknown so that both cases cost the same.
	dummy string
}

// newHasher returns a hasher for the configured parameters.
func newHasher(cfg Config) (*hasher, error) {
	p := argonParams{time: cfg.PasswordTime, memory: cfg.PasswordMemory, threads: cfg.PasswordThreads}
	if p.memory < 8*uint32(p.threads) {
		return nil, fmt.Errorf("password hashing: PASSWORD_MEMORY_KIB (%d) must be at least 8 x PASSWORD_THREADS (%d)", p.memory, p.threads)
	}
	h := &hasher{params: p, sem: make(chan struct{}, cfg.LoginConcurrency)}
	h.dummy = h.encode(rand.Text())
	return h, nil
}

// checkPassword enforces the password policy on a new password.
func checkPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return invalidf("password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return invalidf("password is shorter than %d characters", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return invalidf("password is longer than %d bytes", maxPasswordLen)
	}
	return nil
}

// acquire waits for a hashing slot.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash a password: %w", ctx.Err())
	}
}

// release frees a hashing slot.
func (h *hasher) release() { <-h.sem }

// hash returns the encoded argon2id hash of pw with a fresh salt, waiting
// for a hashing slot.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode(pw), nil
}

// encode hashes pw with a fresh salt in the PHC string format:
// $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>, base64 without padding.
func (h *hasher) encode(pw string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand documents it)
	p := h.params
	sum := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// verify reports whether pw matches encoded, in constant time for a given
// encoding, and whether encoded should be replaced by a hash with the
// current parameters. An empty encoded verifies against the dummy hash so
// that unknown users cost the same as known ones, and never matches. The
// caller holds a hashing slot.
func (h *hasher) verify(encoded, pw string) (ok, stale bool, err error) {
	if encoded == "" {
		_, _, _ = h.verify(h.dummy, pw)
		return false, false, nil
	}
	if strings.HasPrefix(encoded, "$2") { // bcrypt, e.g. imported from an older system
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("verify bcrypt hash: %w", err)
		}
		return true, true, nil
	}
	p, salt, want, err := decodeArgon2id(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && p != h.params, nil
}

// decodeArgon2id parses a PHC argon2id string.
func decodeArgon2id(encoded string) (p argonParams, salt, sum []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q: %w", parts[3], err)
	}
	if p.time == 0 || p.threads == 0 || p.memory < 8*uint32(p.threads) || p.memory > 4<<20 {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q out of range", parts[3])
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: salt: %w", err)
	}
	if sum, err = b64.DecodeString(parts[5]); err != nil || len(sum) < 16 {
		return p, nil, nil, fmt.Errorf("password hash: digest is malformed")
	}
	return p, salt, sum, nil
}
