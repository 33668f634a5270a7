package session

import (
	"testing"
	"time"
)

// fingerprint is the SHA-256 fingerprint of the DTLS certificate s's peer
// connection presents.
func fingerprint(t *testing.T, s *Session) string {
	t.Helper()
	certs := s.PC.GetConfiguration().Certificates
	if len(certs) != 1 {
		t.Fatalf("%d certificates, want 1", len(certs))
	}
	fps, err := certs[0].GetFingerprints()
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range fps {
		if fp.Algorithm == "sha-256" {
			return fp.Value
		}
	}
	t.Fatal("no sha-256 fingerprint")
	return ""
}

// Sessions share one DTLS certificate, publishers and viewers alike,
// until it is older than its life: the next session gets a new one, and
// the sessions made before keep theirs.
func TestSessionsShareTheDTLSCertificate(t *testing.T) {
	m := newTestManager(t, Config{MaxSessions: 10, MaxPending: 10, MaxPendingPerPrincipal: 10, MaxSessionsPerPrincipal: 10})
	clock := time.Now()
	m.api.certs.now = func() time.Time { return clock }
	newSession := func(protocol string, viewOnly bool) *Session {
		t.Helper()
		r, err := m.Reserve(protocol, Creator{Owner: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if viewOnly {
			r.ViewOnly()
		}
		s, err := r.New("live/x")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ReasonDeleted) })
		return s
	}
	a, b := newSession("whip", false), newSession("whep", true)
	fa, fb := fingerprint(t, a), fingerprint(t, b)
	if fa != fb {
		t.Fatalf("two sessions present different certificates: %s, %s", fa, fb)
	}
	clock = clock.Add(certLife)
	c := newSession("whep", true)
	if fc := fingerprint(t, c); fc == fa {
		t.Fatal("a session made after the certificate's life still gets it")
	}
	if fingerprint(t, a) != fa {
		t.Fatal("an older session's certificate changed")
	}
}
