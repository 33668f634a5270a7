package session

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// Changes to SDP are made on the parsed description (pion/sdp) and
// marshalled again, never by replacing text.

// editSDP parses raw, applies edit and marshals the result.
func editSDP(raw string, edit func(*sdp.SessionDescription)) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return "", fmt.Errorf("parse SDP: %w", err)
	}
	edit(&sd)
	out, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("write SDP: %w", err)
	}
	return string(out), nil
}

// withNewCredentials rewrites an offer for an ICE restart: the client's
// new ice-ufrag and ice-pwd wherever the offer had them, and none of the
// old candidates.
func withNewCredentials(offer, ufrag, pwd string) (string, error) {
	return editSDP(offer, func(sd *sdp.SessionDescription) {
		renew := func(attrs []sdp.Attribute) []sdp.Attribute {
			attrs = slices.DeleteFunc(attrs, func(a sdp.Attribute) bool {
				return a.Key == sdp.AttrKeyCandidate || a.Key == sdp.AttrKeyEndOfCandidates
			})
			for i := range attrs {
				switch attrs[i].Key {
				case "ice-ufrag":
					attrs[i].Value = ufrag
				case "ice-pwd":
					attrs[i].Value = pwd
				}
			}
			return attrs
		}
		sd.Attributes = renew(sd.Attributes)
		for _, md := range sd.MediaDescriptions {
			md.Attributes = renew(md.Attributes)
		}
	})
}

// addRTCPMuxOnly adds a=rtcp-mux-only after the a=rtcp-mux of each media
// section of an answer (RFC 9725 §4.4.1 with RFC 8858); pion writes only
// a=rtcp-mux.
func addRTCPMuxOnly(answer string) (string, error) {
	return editSDP(answer, func(sd *sdp.SessionDescription) {
		for _, md := range sd.MediaDescriptions {
			if _, only := md.Attribute("rtcp-mux-only"); only {
				continue
			}
			if i := slices.IndexFunc(md.Attributes, func(a sdp.Attribute) bool { return a.Key == sdp.AttrKeyRTCPMux }); i >= 0 {
				md.Attributes = slices.Insert(md.Attributes, i+1, sdp.NewPropertyAttribute("rtcp-mux-only"))
			}
		}
	})
}

// directions are the SDP direction attributes (RFC 8866 §6.7).
var directions = []string{"sendrecv", "sendonly", "recvonly", "inactive"}

// ReadAs makes every media section of the offer that has direction from
// read as to instead (session-level directions included), so that pion
// answers as if the client had offered to. WHEP reads a sendrecv offer as
// recvonly, since the server only sends (WHEP §4.3.5).
func (o *Offer) ReadAs(from, to string) error {
	if !slices.Contains(directions, from) || !slices.Contains(directions, to) {
		return fmt.Errorf("read offer as %s: not a direction", to)
	}
	out, err := editSDP(o.SDP, func(sd *sdp.SessionDescription) {
		// swap reports whether attrs had a direction at all.
		swap := func(attrs []sdp.Attribute) bool {
			had := false
			for i := range attrs {
				if slices.Contains(directions, attrs[i].Key) {
					had = true
				}
				if attrs[i].Key == from && attrs[i].Value == "" {
					attrs[i] = sdp.NewPropertyAttribute(to)
				}
			}
			return had
		}
		sessionDir := swap(sd.Attributes)
		for _, md := range sd.MediaDescriptions {
			// No direction anywhere means sendrecv (RFC 8866 §6.7).
			if !swap(md.Attributes) && !sessionDir && from == "sendrecv" {
				md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute(to))
			}
		}
	})
	if err != nil {
		return fmt.Errorf("read offer as %s: %w", to, err)
	}
	o.SDP = out
	for i := range o.Media {
		if o.Media[i].Direction == from {
			o.Media[i].Direction = to
		}
	}
	return nil
}

// LimitRIDs keeps only the first n simulcast encodings of the media
// section mid: its other a=rid lines go, and its a=simulcast line lists
// the kept ones. The answer then accepts exactly those (pion answers the
// rids it is offered). It does nothing to a section with n or fewer.
func (o *Offer) LimitRIDs(mid string, n int) error {
	var m *Media
	for i := range o.Media {
		if o.Media[i].Mid == mid {
			m = &o.Media[i]
		}
	}
	if m == nil || len(m.RIDs) <= n {
		return nil
	}
	keep := m.RIDs[:n]
	out, err := editSDP(o.SDP, func(sd *sdp.SessionDescription) {
		for _, md := range sd.MediaDescriptions {
			if v, _ := md.Attribute("mid"); v != mid {
				continue
			}
			attrs := md.Attributes[:0:0]
			for _, a := range md.Attributes {
				switch a.Key {
				case "rid":
					if f := strings.Fields(a.Value); len(f) > 0 && !slices.Contains(keep, f[0]) {
						continue
					}
				case "simulcast":
					a.Value = "send " + strings.Join(keep, ";")
				}
				attrs = append(attrs, a)
			}
			md.Attributes = attrs
		}
	})
	if err != nil {
		return fmt.Errorf("limit simulcast layers: %w", err)
	}
	o.SDP = out
	m.RIDs = slices.Clone(keep)
	return nil
}

// DropRTX takes the RTX payload types (RFC 4588) out of every media
// section of the offer: their rtpmap, fmtp and rtcp-fb lines and their
// place on the m-line. pion then negotiates no RTX, so it neither answers
// RTX payload types nor announces an RTX SSRC (a=ssrc-group:FID) for what
// the server sends. A sender that retransmits on the original SSRC must
// not announce an RTX stream that would never carry a packet.
func (o *Offer) DropRTX() error {
	out, err := editSDP(o.SDP, func(sd *sdp.SessionDescription) {
		for _, md := range sd.MediaDescriptions {
			rtx := map[string]bool{}
			for _, a := range md.Attributes {
				if a.Key != "rtpmap" {
					continue
				}
				pt, enc, _ := strings.Cut(a.Value, " ")
				if name, _, _ := strings.Cut(enc, "/"); strings.EqualFold(name, "rtx") {
					rtx[pt] = true
				}
			}
			if len(rtx) == 0 {
				continue
			}
			md.MediaName.Formats = slices.DeleteFunc(md.MediaName.Formats, func(f string) bool { return rtx[f] })
			md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
				switch a.Key {
				case "rtpmap", "fmtp", "rtcp-fb":
					pt, _, _ := strings.Cut(a.Value, " ")
					return rtx[pt]
				}
				return false
			})
		}
	})
	if err != nil {
		return fmt.Errorf("drop RTX from offer: %w", err)
	}
	o.SDP = out
	for i := range o.Media {
		o.Media[i].Codecs = slices.DeleteFunc(o.Media[i].Codecs, func(c OfferedCodec) bool {
			return strings.EqualFold(c.MimeType, o.Media[i].Kind+"/rtx")
		})
	}
	return nil
}
