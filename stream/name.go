package stream

import (
	"fmt"
	"strings"

	"github.com/wishcast/wishcast/internal/streamname"
)

// Stream name limits: 1 to 4 segments of 1 to 64 characters.
const (
	maxNameSegments = streamname.MaxSegments
	maxNameLen      = maxNameSegments*streamname.MaxSegmentLen + maxNameSegments - 1
)

// ValidateName checks a stream name: 1 to 4 '/'-separated segments, each 1
// to 64 characters of [A-Za-z0-9._-] that does not start with '.' (so no
// "." or ".." and no hidden names). The error wraps ErrInvalidName and says
// what is wrong.
func ValidateName(name string) error {
	if name == "" {
		return invalidName(name, "it is empty")
	}
	if len(name) > maxNameLen {
		return invalidName(name, fmt.Sprintf("it is longer than %d bytes", maxNameLen))
	}
	segs := strings.Split(name, "/")
	if len(segs) > maxNameSegments {
		return invalidName(name, fmt.Sprintf("it has %d segments, at most %d are allowed", len(segs), maxNameSegments))
	}
	for i, seg := range segs {
		if err := streamname.SegmentProblem(seg); err != "" {
			return invalidName(name, fmt.Sprintf("segment %d %s", i+1, err))
		}
	}
	return nil
}

// invalidName wraps ErrInvalidName with the (shortened, quoted) name and reason.
func invalidName(name, reason string) error {
	const show = 80
	if len(name) > show {
		name = name[:show] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidName, name, reason)
}
