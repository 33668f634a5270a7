// Package streamname holds the one rule every name in wishcast follows:
// stream names are paths of 1 to MaxSegments segments, and each segment
// (also a user, device or call id on its own) is 1 to MaxSegmentLen
// characters of [A-Za-z0-9._-] not starting with '.', so there is no "."
// or "..", no hidden name and nothing to escape in a path or a URL.
package streamname

import "fmt"

// Limits of a name.
const (
	// MaxSegments is the most segments a stream name has.
	MaxSegments = 4
	// MaxSegmentLen is the longest segment, in bytes.
	MaxSegmentLen = 64
)

// SegmentProblem returns what is wrong with one segment, or "" if nothing
// is. The text completes a sentence that names the segment ("segment 2 …").
func SegmentProblem(seg string) string {
	switch {
	case seg == "":
		return "is empty"
	case len(seg) > MaxSegmentLen:
		return fmt.Sprintf("is longer than %d characters", MaxSegmentLen)
	case seg[0] == '.':
		return "starts with '.'"
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Sprintf("has the byte %q at %d; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed", c, i+1)
		}
	}
	return ""
}
