package stream

import (
	"fmt"
	"strings"
)

// Stream name limits: 1 to 4 segments of 1 to 64 characters.
const (
	maxNameSegments = 4
	maxSegmentLen   = 64
	maxNameLen      = maxNameSegments*maxSegmentLen + maxNameSegments - 1
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
		if err := validateSegment(seg); err != "" {
			return invalidName(name, fmt.Sprintf("segment %d %s", i+1, err))
		}
	}
	return nil
}

// validateSegment returns what is wrong with one segment, or "".
func validateSegment(seg string) string {
	switch {
	case seg == "":
		return "is empty"
	case len(seg) > maxSegmentLen:
		return fmt.Sprintf("is longer than %d characters", maxSegmentLen)
	case seg[0] == '.':
		return "starts with '.'"
	}
	for i := 0; i < len(seg); i++ {
		if !nameByte(seg[i]) {
			return fmt.Sprintf("has the byte %q at %d; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed", seg[i], i+1)
		}
	}
	return ""
}

// nameByte reports whether c may appear in a name segment.
func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.', c == '_', c == '-':
		return true
	}
	return false
}

// invalidName wraps ErrInvalidName with the (shortened, quoted) name and reason.
func invalidName(name, reason string) error {
	const show = 80
	if len(name) > show {
		name = name[:show] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidName, name, reason)
}
