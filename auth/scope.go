package auth

import (
	"fmt"
	"strings"

	"github.com/wishcast/wishcast/internal/streamname"
)

// Scope is what a publish key may do: one action on one stream name, or on
// every stream under a prefix when Stream ends with '/' ("live/obs" is
// that stream only, "live/" every live stream, "live/team/" every stream
// under live/team).
type Scope struct {
	Action Action
	Stream string
}

// IsPrefix reports whether the scope covers every stream under Stream.
func (sc Scope) IsPrefix() bool { return strings.HasSuffix(sc.Stream, "/") }

// Allows reports whether the scope covers action on stream.
func (sc Scope) Allows(action Action, stream string) bool {
	if action != sc.Action || sc.Stream == "" {
		return false
	}
	if sc.IsPrefix() {
		return strings.HasPrefix(stream, sc.Stream) && len(stream) > len(sc.Stream)
	}
	return stream == sc.Stream
}

// String is "publish live/obs".
func (sc Scope) String() string { return fmt.Sprintf("%s %s", sc.Action, sc.Stream) }

// validate checks the scope names a known action and a whole stream name,
// or a prefix of one ending in '/' inside a known namespace; and that it
// could ever allow something (devices/ streams are never published).
func (sc Scope) validate() error {
	if !sc.Action.valid() {
		return invalidf("scope action %q is not publish or view", sc.Action)
	}
	name, prefix := strings.CutSuffix(sc.Stream, "/")
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		if why := streamname.SegmentProblem(seg); why != "" {
			return invalidf("scope stream %q: segment %d %s", clip(sc.Stream), i+1, why)
		}
	}
	lo, hi := segmentRange(segs[0])
	switch {
	case lo == 0:
		return invalidf("scope stream %q is not in a known namespace (users/, calls/, devices/, live/)", clip(sc.Stream))
	case prefix && len(segs) >= hi:
		return invalidf("scope prefix %q is as long as a whole %s/ stream name; drop the trailing '/'", clip(sc.Stream), segs[0])
	case !prefix && (len(segs) < lo || len(segs) > hi):
		return invalidf("scope stream %q: %s/ streams have %s (end a prefix with '/')", clip(sc.Stream), segs[0], shape(segs[0]))
	case segs[0] == nsDevices && sc.Action == ActionPublish:
		return invalidf("devices/ streams are only ever published by the server, so a key to publish them is useless")
	}
	return nil
}
