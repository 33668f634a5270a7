package auth

import (
	"errors"
	"testing"
)

// Live streams and cameras can be made public; other names cannot.
func TestStreamPublic(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	for _, name := range []string{"live/show", "devices/lobby"} {
		if err := s.SetStreamPublic(ctx, name, true); err != nil {
			t.Fatalf("make %s public: %v", name, err)
		}
		if public, err := s.StreamPublic(ctx, name); err != nil || !public {
			t.Fatalf("%s after making it public: %v %v", name, public, err)
		}
		if err := s.SetStreamPublic(ctx, name, false); err != nil {
			t.Fatalf("make %s private: %v", name, err)
		}
		if public, err := s.StreamPublic(ctx, name); err != nil || public {
			t.Fatalf("%s after making it private: %v %v", name, public, err)
		}
	}
	for _, name := range []string{"users/alice", "calls/c1/alice", "other/x", "devices/../x"} {
		if err := s.SetStreamPublic(ctx, name, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("make %s public: %v, want ErrInvalid", name, err)
		}
		if public, err := s.StreamPublic(ctx, name); err != nil || public {
			t.Errorf("%s: public %v %v", name, public, err)
		}
	}
}
