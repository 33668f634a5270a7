package auth

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SetStreamPublic records whether anyone, signed in or not, may view the
// stream name (a live/ or devices/ name), whether or not it is live now.
func (s *Store) SetStreamPublic(ctx context.Context, name string, public bool) error {
	sn, err := splitStream(name)
	if err != nil {
		return fmt.Errorf("stream settings: %w", err)
	}
	if sn.seg[0] != nsLive && sn.seg[0] != nsDevices {
		return fmt.Errorf("stream settings %s: %w", clip(name), invalidf("only live/ streams and cameras (devices/) can be public"))
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	return s.write(ctx, "stream settings "+clip(name), func(q queries) error {
		return q.setStreamPublic(ctx, name, public, now)
	})
}

// StreamPublic reports whether the stream name was made public.
func (s *Store) StreamPublic(ctx context.Context, name string) (bool, error) {
	if !strings.HasPrefix(name, nsLive+"/") && !strings.HasPrefix(name, nsDevices+"/") {
		return false, nil
	}
	public, err := s.read().streamPublic(ctx, name)
	if err != nil {
		return false, fmt.Errorf("stream settings %s: %w", clip(name), err)
	}
	return public, nil
}
