package session

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func parsed(t *testing.T, raw string) *sdp.SessionDescription {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, raw)
	}
	return &sd
}

func TestAddRTCPMuxOnly(t *testing.T) {
	out, err := addRTCPMuxOnly(browserOffer)
	if err != nil {
		t.Fatal(err)
	}
	for i, md := range parsed(t, out).MediaDescriptions {
		var keys []string
		for _, a := range md.Attributes {
			keys = append(keys, a.Key)
		}
		got := strings.Join(keys, " ")
		if !strings.Contains(got, "rtcp-mux rtcp-mux-only") {
			t.Errorf("section %d: attributes %s; want rtcp-mux-only right after rtcp-mux", i, got)
		}
	}
	again, err := addRTCPMuxOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(again, "a=rtcp-mux-only"); n != 2 {
		t.Fatalf("applied twice: %d rtcp-mux-only lines, want 2", n)
	}
}

func TestWithNewCredentials(t *testing.T) {
	offer := strings.Replace(browserOffer, "a=rtcp-mux\r\n",
		"a=rtcp-mux\r\na=candidate:1 1 udp 2130706431 192.168.1.9 5000 typ host\r\na=end-of-candidates\r\n", 1)
	out, err := withNewCredentials(offer, "newu", "newpasswordnewpassword12")
	if err != nil {
		t.Fatal(err)
	}
	ufrag, pwd := iceCredentials(out)
	if ufrag != "newu" || pwd != "newpasswordnewpassword12" {
		t.Fatalf("credentials %q %q", ufrag, pwd)
	}
	if strings.Contains(out, "abcd") || strings.Contains(out, "candidate") {
		t.Fatalf("old credentials or candidates left:\n%s", out)
	}
	if n := len(parsed(t, out).MediaDescriptions); n != 2 {
		t.Fatalf("%d media sections, want 2", n)
	}
}

func TestReadAs(t *testing.T) {
	recv := strings.ReplaceAll(browserOffer, "a=sendonly", "a=recvonly")
	cases := map[string]struct{ offer, want string }{
		"explicit sendrecv": {strings.ReplaceAll(browserOffer, "a=sendonly", "a=sendrecv"), "recvonly"},
		"no direction":      {strings.ReplaceAll(browserOffer, "a=sendonly\r\n", ""), "recvonly"},
		"recvonly stays":    {recv, "recvonly"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := ParseOffer([]byte(c.offer))
			if err != nil {
				t.Fatal(err)
			}
			if err := o.ReadAs("sendrecv", "recvonly"); err != nil {
				t.Fatal(err)
			}
			for i, md := range parsed(t, o.SDP).MediaDescriptions {
				if got := direction(md.Attributes, ""); got != c.want {
					t.Errorf("section %d reads %q, want %q", i, got, c.want)
				}
				if o.Media[i].Direction != c.want {
					t.Errorf("Media[%d].Direction %q, want %q", i, o.Media[i].Direction, c.want)
				}
			}
			if _, err := ParseOffer([]byte(o.SDP)); err != nil {
				t.Fatalf("the result is no longer a valid offer: %v", err)
			}
		})
	}
	o, _ := ParseOffer([]byte(recv))
	if err := o.ReadAs("sendrecv", "bogus"); err == nil {
		t.Fatal("ReadAs accepted a direction that does not exist")
	}
}
