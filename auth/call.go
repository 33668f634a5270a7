package auth

import (
	"context"
	"fmt"
	"time"
)

// CallRecord is one call of the history.
type CallRecord struct {
	// ID is the call id of the calls/{id}/{user} streams.
	ID      string
	Caller  string
	Callee  string
	Started time.Time
	// Ended is zero for a call that never ended cleanly.
	Ended time.Time
	// EndReason says why it ended ("hangup", "declined", "timeout", ...).
	EndReason string
}

// AddCallRecord stores a call; ErrExists if its id is taken.
func (s *Store) AddCallRecord(ctx context.Context, c CallRecord) error {
	if err := ValidateName(c.ID); err != nil {
		return fmt.Errorf("add call: id: %w", err)
	}
	for _, u := range []string{c.Caller, c.Callee} {
		if err := ValidateName(u); err != nil {
			return fmt.Errorf("add call %s: participant: %w", c.ID, err)
		}
	}
	if c.Started.IsZero() {
		return fmt.Errorf("add call %s: %w", c.ID, invalidf("start time missing"))
	}
	reason, err := cleanText("end reason", c.EndReason)
	if err != nil {
		return fmt.Errorf("add call %s: %w", c.ID, err)
	}
	c.EndReason = reason
	return s.write(ctx, "add call "+c.ID, func(q queries) error { return q.insertCall(ctx, c) })
}

// ListCalls returns the calls user took part in, or everyone's if user is
// "", newest first, at most limit of them (limit <= 0: 100).
func (s *Store) ListCalls(ctx context.Context, user string, limit int) ([]CallRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	if user != "" && ValidateName(user) != nil {
		return nil, nil
	}
	cs, err := s.read().calls(ctx, user, limit)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	return cs, nil
}
