package session

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"

	"github.com/wishcast/wishcast/httpx"
)

// Candidate is one trickled remote candidate with the m-line it names.
type Candidate struct {
	Value string // "candidate:..." without the a=
	Mid   string
}

// Fragment is a trickle ICE SDP fragment (RFC 8840), the body of a PATCH.
type Fragment struct {
	Ufrag, Pwd      string
	Candidates      []Candidate
	EndOfCandidates bool
}

// ParseFragment parses an application/trickle-ice-sdpfrag body. Lines it
// does not need are skipped; a line that is not SDP, or a candidate that
// does not parse, makes the whole fragment malformed (400).
func ParseFragment(raw []byte) (*Fragment, error) {
	f := &Fragment{}
	mid := ""
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r")
		if l == "" {
			continue
		}
		if len(l) < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z' {
			return nil, httpx.Errorf(http.StatusBadRequest, "malformed trickle fragment: line %q is not SDP", truncate(l, 40))
		}
		if l[0] == 'm' {
			mid = ""
			continue
		}
		if l[0] != 'a' {
			continue
		}
		key, val, _ := strings.Cut(l[2:], ":")
		switch key {
		case "mid":
			mid = val
		case "ice-ufrag":
			f.Ufrag = val
		case "ice-pwd":
			f.Pwd = val
		case "end-of-candidates":
			f.EndOfCandidates = true
		case "candidate":
			if _, err := ice.UnmarshalCandidate(val); err != nil {
				if hostnameCandidate(val) {
					continue // well-formed but unusable: dropped (§4.3.2)
				}
				return nil, httpx.Errorf(http.StatusBadRequest, "malformed trickle fragment: bad candidate %q", truncate(val, 60))
			}
			f.Candidates = append(f.Candidates, Candidate{Value: "candidate:" + val, Mid: mid})
		}
	}
	if (f.Ufrag == "") != (f.Pwd == "") {
		return nil, httpx.Errorf(http.StatusBadRequest, "malformed trickle fragment: ice-ufrag and ice-pwd must come together")
	}
	return f, nil
}

// hostnameCandidate reports whether a candidate pion refused is otherwise
// well formed but names its address by host name (RFC 8445 allows an FQDN;
// the server does not resolve them).
func hostnameCandidate(val string) bool {
	f := strings.Fields(val)
	if len(f) < 8 || f[6] != "typ" || net.ParseIP(f[4]) != nil {
		return false
	}
	for _, n := range []int{1, 3, 5} {
		if _, err := strconv.ParseUint(f[n], 10, 32); err != nil {
			return false
		}
	}
	return true
}

// usable reports whether the server can reach a trickled candidate.
// Unusable ones are dropped silently (RFC 9725 §4.3.2): mDNS names, other
// host names, refused address ranges, and TCP when ICE-TCP is off.
func usable(c Candidate, tcp bool) bool {
	cand, err := ice.UnmarshalCandidate(strings.TrimPrefix(c.Value, "candidate:"))
	if err != nil {
		return false
	}
	ip := net.ParseIP(cand.Address())
	if ip == nil || !remoteIPAllowed(ip) {
		return false
	}
	if cand.NetworkType().IsTCP() && !tcp {
		return false
	}
	return true
}

// rtpComponent reports whether a candidate is for component 1: with
// rtcp-mux-only there is no RTCP component to announce.
func rtpComponent(cand string) bool {
	f := strings.Fields(cand)
	return len(f) > 1 && f[1] == "1"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// iceCredentials returns the first ice-ufrag/ice-pwd of an SDP, media-level
// or session-level.
func iceCredentials(raw string) (ufrag, pwd string) {
	for line := range strings.SplitSeq(raw, "\n") {
		line = strings.TrimRight(line, "\r")
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
	}
	return ufrag, pwd
}

// restartFragment builds the 200 body of an ICE restart (RFC 9725 §4.3.3)
// from the new local description: the new credentials, the ICE options and
// lite flag of the answer, and all candidates under the first m-line.
func restartFragment(local string) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(local); err != nil {
		return "", fmt.Errorf("parse local description: %w", err)
	}
	var b strings.Builder
	for _, a := range sd.Attributes {
		switch a.Key {
		case "ice-lite", "ice-options":
			b.WriteString("a=" + a.String() + "\r\n")
		}
	}
	ufrag, pwd := iceCredentials(local)
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd)
	if len(sd.MediaDescriptions) == 0 {
		return "", fmt.Errorf("local description has no media")
	}
	md := sd.MediaDescriptions[0]
	fmt.Fprintf(&b, "m=%s 9 %s %s\r\n", md.MediaName.Media, strings.Join(md.MediaName.Protos, "/"), strings.Join(md.MediaName.Formats, " "))
	for _, a := range md.Attributes {
		switch {
		case a.Key == "mid":
			b.WriteString("a=" + a.String() + "\r\n")
		case a.Key == "candidate" && rtpComponent(a.Value):
			b.WriteString("a=" + a.String() + "\r\n")
		}
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String(), nil
}
