package session

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/wishcast/wishcast/httpx"
)

// Limits on an offer, checked before pion parses it (conformance H3).
const (
	maxOfferLines   = 1000
	maxOfferLineLen = 4096
	maxMediaLines   = 2
)

// OfferedCodec is one payload type of an offered m-line.
type OfferedCodec struct {
	PayloadType uint8
	MimeType    string // "video/H264"
	ClockRate   uint32
	Channels    uint16
	Fmtp        string
	Feedback    []string // a=rtcp-fb values
}

// Media is one m-line of an offer.
type Media struct {
	Kind      string // "audio" or "video"
	Mid       string
	Direction string // sendonly, recvonly, sendrecv or inactive
	Codecs    []OfferedCodec
	// Simulcast is true when the m-line carries RIDs.
	Simulcast bool
	// RIDs are the simulcast encodings the section sends (RFC 8853: the
	// a=simulcast:send list, or the a=rid ... send lines), in order.
	RIDs []string
}

// Offer is a checked SDP offer.
type Offer struct {
	SDP   string
	Media []Media
}

// ParseOffer checks an SDP offer against what a WHIP or WHEP session can
// take: size and line limits, a parseable description, one to two media
// sections (at most one audio and one video: one MediaStream, RFC 9725
// §4.4.2), no data channels, one msid stream, BUNDLE over all m-lines and
// rtcp-mux. Malformed input is a 400, a well-formed offer that cannot be
// honoured a 422.
func ParseOffer(raw []byte) (*Offer, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "empty SDP offer")
	}
	if !bytes.HasPrefix(raw, []byte("v=0")) {
		return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: it must start with v=0")
	}
	lines := 0
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		lines++
		if lines > maxOfferLines {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "SDP offer has more than %d lines", maxOfferLines)
		}
		if len(line) > maxOfferLineLen {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "SDP offer has a line longer than %d bytes", maxOfferLineLen)
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: NUL byte")
		}
	}
	if n := bytes.Count(raw, []byte("\nm=")); n > maxMediaLines {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "offer has %d media sections; a session carries one audio and one video at most", n)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(raw)); err != nil {
		return nil, &httpx.Error{Status: http.StatusBadRequest, Detail: "malformed SDP offer: " + err.Error(), Err: err}
	}
	text := string(raw)
	if pruneBundle(&sd) {
		out, err := sd.Marshal()
		if err != nil {
			return nil, &httpx.Error{Status: http.StatusBadRequest, Detail: "malformed SDP offer: " + err.Error(), Err: err}
		}
		text = string(out)
	}
	return checkOffer(text, &sd)
}

// pruneBundle drops from the offer's BUNDLE groups the mids no media
// section has, and reports whether it changed anything. FFmpeg's WHIP
// muxer writes "a=group:BUNDLE 0 1" with only a video section (mid 1)
// when it has no audio; pion then refuses the offer with an error that
// says nothing of the cause. A group left empty is dropped.
func pruneBundle(sd *sdp.SessionDescription) bool {
	mids := map[string]bool{}
	for _, md := range sd.MediaDescriptions {
		if v, ok := md.Attribute("mid"); ok {
			mids[v] = true
		}
	}
	changed := false
	attrs := sd.Attributes[:0:0]
	for _, a := range sd.Attributes {
		f := strings.Fields(a.Value)
		if a.Key != "group" || len(f) == 0 || f[0] != "BUNDLE" {
			attrs = append(attrs, a)
			continue
		}
		kept := f[:1]
		for _, mid := range f[1:] {
			if mids[mid] {
				kept = append(kept, mid)
			}
		}
		if len(kept) != len(f) {
			changed = true
		}
		if len(kept) > 1 {
			attrs = append(attrs, sdp.Attribute{Key: "group", Value: strings.Join(kept, " ")})
		}
	}
	if changed {
		sd.Attributes = attrs
	}
	return changed
}

func checkOffer(raw string, sd *sdp.SessionDescription) (*Offer, error) {
	if len(sd.MediaDescriptions) == 0 {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "offer has no media section")
	}
	sessionDir := direction(sd.Attributes, "sendrecv")
	bundled := map[string]bool{}
	for _, a := range sd.Attributes {
		if a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE") {
			for _, mid := range strings.Fields(a.Value)[1:] {
				bundled[mid] = true
			}
		}
	}
	o := &Offer{SDP: raw}
	kinds := map[string]bool{}
	msid := ""
	for i, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "media section %d is %q; only audio and video are supported", i, kind)
		}
		if kinds[kind] {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "offer has two %s sections; a session carries one MediaStream with at most one audio and one video track", kind)
		}
		kinds[kind] = true
		m := Media{Kind: kind, Direction: direction(md.Attributes, sessionDir)}
		mux := false
		for _, a := range md.Attributes {
			switch a.Key {
			case "mid":
				m.Mid = a.Value
			case "rtcp-mux":
				mux = true
			case "rid":
				m.Simulcast = true
				if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "send" {
					m.RIDs = append(m.RIDs, f[0])
				}
			case "msid":
				id := strings.Fields(a.Value)
				if len(id) > 0 {
					if msid != "" && id[0] != msid && id[0] != "-" {
						return nil, httpx.Errorf(http.StatusUnprocessableEntity, "media sections belong to different MediaStreams (msid %q and %q); a session carries one", msid, id[0])
					}
					if id[0] != "-" {
						msid = id[0]
					}
				}
			}
		}
		if m.Mid == "" {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "media section %d has no a=mid", i)
		}
		// What pion would refuse with a bare "called with no ice-ufrag",
		// said in terms of the offer.
		for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint"} {
			if !hasAttr(md.Attributes, key) && !hasAttr(sd.Attributes, key) {
				return nil, httpx.Errorf(http.StatusBadRequest, "the offer's %s section (mid %s) has no a=%s, and neither has the session part of the offer", kind, m.Mid, key)
			}
		}
		if len(sd.MediaDescriptions) > 1 && !bundled[m.Mid] {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "media section %q is not in the BUNDLE group; WHIP and WHEP need max-bundle", m.Mid)
		}
		if !mux {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "media section %q lacks a=rtcp-mux", m.Mid)
		}
		codecs, err := offeredCodecs(md)
		if err != nil {
			return nil, err
		}
		m.Codecs = codecs
		o.Media = append(o.Media, m)
	}
	return o, nil
}

// RequireDirections fails with 422 unless every m-line's direction is one
// of allowed (RFC 9725 §4.2: a WHIP offer is sendonly or sendrecv; WHEP
// §4.3.5: recvonly or sendrecv).
func (o *Offer) RequireDirections(protocol string, allowed ...string) error {
	for _, m := range o.Media {
		ok := false
		for _, d := range allowed {
			ok = ok || m.Direction == d
		}
		if !ok {
			return httpx.Errorf(http.StatusUnprocessableEntity, "%s offers need %s media sections; section %q is %s", protocol, strings.Join(allowed, " or "), m.Mid, m.Direction)
		}
	}
	return nil
}

// Kind returns the offer's m-line of the given kind, or nil.
func (o *Offer) Kind(kind string) *Media {
	for i := range o.Media {
		if o.Media[i].Kind == kind {
			return &o.Media[i]
		}
	}
	return nil
}

// CodecNames lists the distinct codec names of m (without RTX, FEC and the like).
func (m *Media) CodecNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, c := range m.Codecs {
		n := strings.TrimPrefix(strings.TrimPrefix(c.MimeType, "video/"), "audio/")
		if isAuxCodec(n) || seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		names = append(names, n)
	}
	return names
}

func isAuxCodec(name string) bool {
	switch strings.ToLower(name) {
	case "rtx", "red", "ulpfec", "flexfec-03", "telephone-event", "cn":
		return true
	}
	return false
}

// hasAttr reports whether attrs has an attribute key.
func hasAttr(attrs []sdp.Attribute, key string) bool {
	for _, a := range attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendonly", "recvonly", "sendrecv", "inactive":
			return a.Key
		}
	}
	return def
}

func offeredCodecs(md *sdp.MediaDescription) ([]OfferedCodec, error) {
	byPT := map[uint8]*OfferedCodec{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: payload type %q", f)
		}
		if _, dup := byPT[uint8(pt)]; dup {
			continue
		}
		byPT[uint8(pt)] = &OfferedCodec{PayloadType: uint8(pt)}
		order = append(order, uint8(pt))
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" && a.Key != "rtcp-fb" {
			continue
		}
		ptStr, rest, _ := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil {
			if a.Key == "rtcp-fb" && ptStr == "*" {
				continue
			}
			return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: a=%s:%s", a.Key, a.Value)
		}
		c := byPT[uint8(pt)]
		if c == nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			parts := strings.Split(rest, "/")
			if len(parts) < 2 {
				return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: a=rtpmap:%s", a.Value)
			}
			rate, err := strconv.ParseUint(parts[1], 10, 32)
			if err != nil {
				return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: a=rtpmap:%s", a.Value)
			}
			c.MimeType = md.MediaName.Media + "/" + parts[0]
			c.ClockRate = uint32(rate)
			if len(parts) > 2 {
				ch, err := strconv.ParseUint(parts[2], 10, 16)
				if err != nil {
					return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: a=rtpmap:%s", a.Value)
				}
				c.Channels = uint16(ch)
			}
		case "fmtp":
			c.Fmtp = rest
		case "rtcp-fb":
			c.Feedback = append(c.Feedback, rest)
		}
	}
	out := make([]OfferedCodec, 0, len(order))
	for _, pt := range order {
		c := byPT[pt]
		if c.MimeType == "" {
			// Static payload types need no rtpmap (RFC 3551); others do.
			if pt >= 35 {
				return nil, httpx.Errorf(http.StatusBadRequest, "malformed SDP offer: payload type %d of the %s section has no a=rtpmap", pt, md.MediaName.Media)
			}
			switch pt {
			case 0:
				c.MimeType, c.ClockRate = "audio/PCMU", 8000
			case 8:
				c.MimeType, c.ClockRate = "audio/PCMA", 8000
			case 9:
				c.MimeType, c.ClockRate = "audio/G722", 8000
			default:
				continue
			}
		}
		out = append(out, *c)
	}
	return out, nil
}

// String describes the offer briefly for logs.
func (o *Offer) String() string {
	var b strings.Builder
	for i, m := range o.Media {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s [%s]", m.Kind, m.Direction, strings.Join(m.CodecNames(), " "))
	}
	return b.String()
}
