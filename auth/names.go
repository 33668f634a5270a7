package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wishcast/wishcast/internal/streamname"
)

// Name limits come from streamname; texts have their own.
const (
	maxSegments = streamname.MaxSegments
	maxTextLen  = 128 // display names, labels, end reasons (in runes)
)

// Stream namespaces (the first segment of a stream name).
const (
	nsUsers   = "users"
	nsCalls   = "calls"
	nsDevices = "devices"
	nsLive    = "live"
)

// ValidateName checks a user, device or call id: one stream-name segment,
// 1 to 64 characters of [A-Za-z0-9._-] not starting with '.'. The error
// wraps ErrInvalid.
func ValidateName(name string) error {
	if why := streamname.SegmentProblem(name); why != "" {
		return invalidf("name %q %s", clip(name), why)
	}
	return nil
}

// streamName is a parsed stream name: seg[:n] are its segments.
type streamName struct {
	seg [maxSegments]string
	n   int
}

// splitStream splits a stream name into its segments (without allocating)
// and checks it belongs to a known namespace with the right number of
// segments: users/{user}, calls/{id}/{user}, devices/{device}, live/{name}
// (name of 1 to 3 segments).
func splitStream(name string) (streamName, error) {
	var sn streamName
	for rest, more := name, true; more; {
		if sn.n == maxSegments {
			return sn, invalidf("stream %q has more than %d segments", clip(name), maxSegments)
		}
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if why := streamname.SegmentProblem(seg); why != "" {
			return sn, invalidf("stream %q: segment %d %s", clip(name), sn.n+1, why)
		}
		sn.seg[sn.n] = seg
		sn.n++
	}
	ns := sn.seg[0]
	lo, hi := segmentRange(ns)
	if lo == 0 {
		return sn, invalidf("stream %q is not in a known namespace (users/, calls/, devices/, live/)", clip(name))
	}
	if sn.n < lo || sn.n > hi {
		return sn, invalidf("stream %q has %d segments; %s/ streams have %s", clip(name), sn.n, ns, shape(ns))
	}
	return sn, nil
}

// segmentRange returns how many segments a namespace's stream names have,
// or 0, 0 for an unknown namespace.
func segmentRange(ns string) (lo, hi int) {
	switch ns {
	case nsUsers, nsDevices:
		return 2, 2
	case nsCalls:
		return 3, 3
	case nsLive:
		return 2, maxSegments
	}
	return 0, 0
}

// shape describes a namespace's names for error messages.
func shape(ns string) string {
	switch ns {
	case nsUsers:
		return "the form users/{user}"
	case nsCalls:
		return "the form calls/{id}/{user}"
	case nsDevices:
		return "the form devices/{device}"
	}
	return "the form live/{name}, the name of 1 to 3 segments"
}

// cleanText trims s and checks it is at most maxTextLen runes of printable
// text; what names the field in errors.
func cleanText(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", invalidf("%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > maxTextLen {
		return "", invalidf("%s is %d characters long; at most %d are allowed", what, n, maxTextLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", invalidf("%s contains the control or invisible character %U", what, r)
		}
	}
	return s, nil
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const show = 80
	if len(s) > show {
		return s[:show] + "..."
	}
	return s
}
