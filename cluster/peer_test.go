package cluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A request signed with the cluster secret is known as the signing
// node's; a wrong secret, another path, query, host or body, or an old
// signature is not.
func TestSignature(t *testing.T) {
	now := time.Now()
	a := signer{node: "a", secret: []byte("0123456789abcdef0123456789abcdef")}
	other := signer{node: "a", secret: []byte("fedcba9876543210fedcba9876543210")}
	req := func(target, body string) *http.Request {
		return httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	}
	signed := func() *http.Request {
		r := req("http://node-b:8080/whep/live/x?a=1", "offer")
		if err := a.sign(r, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(what string, r *http.Request, at time.Time, want bool) {
		t.Helper()
		id, ok, err := a.verify(r, at)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok != want || (ok && id != "a") {
			t.Errorf("%s: verified %v as %q, want %v", what, ok, id, want)
		}
	}
	r := signed()
	check("own signature", r, now, true)
	if b, _ := io.ReadAll(r.Body); string(b) != "offer" {
		t.Errorf("body after verification %q, want the one sent", b)
	}
	if _, ok, _ := other.verify(signed(), now); ok {
		t.Error("a signature under another secret passed")
	}
	check("an old signature", signed(), now.Add(maxSkew+2*time.Second), false)
	check("a signature from the future", signed(), now.Add(-maxSkew-2*time.Second), false)
	for _, c := range []struct{ what, target, body string }{
		{"another path", "http://node-b:8080/whep/live/y?a=1", "offer"},
		{"another query", "http://node-b:8080/whep/live/x?a=2", "offer"},
		{"another host", "http://node-c:8080/whep/live/x?a=1", "offer"},
		{"another body", "http://node-b:8080/whep/live/x?a=1", "attacker's offer"},
	} {
		moved := req(c.target, c.body)
		moved.Header.Set(Header, signed().Header.Get(Header))
		check(c.what, moved, now, false)
	}
	r = signed()
	r.Header.Set(ClientHeader, "192.0.2.1:1234")
	check("a client address the signature did not cover", r, now, false)
	check("no signature", req("http://node-b:8080/whep/live/x?a=1", "offer"), now, false)
}

// A node's signed request captured on the wire gets 401 when replayed
// with another body or to another node, and the handler never runs; the
// signed request itself reaches it whole.
func TestSignatureReplay(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := signer{node: "a", secret: secret}
	var got []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromPeer(r.Context())
		b, _ := io.ReadAll(r.Body)
		got = append(got, id+":"+string(b))
	})
	b := httptest.NewServer((&Node{sign: signer{node: "b", secret: secret}}).Middleware(handler))
	defer b.Close()
	c := httptest.NewServer((&Node{sign: signer{node: "c", secret: secret}}).Middleware(handler))
	defer c.Close()

	send := func(base, body, header string) int {
		t.Helper()
		r, err := http.NewRequest(http.MethodPost, base+"/whep/users/alice", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/sdp")
		if header == "" {
			if err := a.sign(r, time.Now()); err != nil {
				t.Fatal(err)
			}
		} else {
			r.Header.Set(Header, header)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(b.URL, "relay offer", ""); s != http.StatusOK {
		t.Fatalf("signed request: %d", s)
	}
	// Capture: sign once more and keep the header.
	r, _ := http.NewRequest(http.MethodPost, b.URL+"/whep/users/alice", strings.NewReader("relay offer"))
	if err := a.sign(r, time.Now()); err != nil {
		t.Fatal(err)
	}
	captured := r.Header.Get(Header)
	if s := send(b.URL, "attacker's offer", captured); s != http.StatusUnauthorized {
		t.Errorf("replayed with another body: %d, want 401", s)
	}
	if s := send(c.URL, "relay offer", captured); s != http.StatusUnauthorized {
		t.Errorf("replayed to another node: %d, want 401", s)
	}
	if len(got) != 1 || got[0] != "a:relay offer" {
		t.Errorf("handler saw %q, want only the signed request", got)
	}
}

// No user or publish key owner passes for another node.
func TestPeerOwner(t *testing.T) {
	if !IsPeerOwner(PeerOwner("a")) {
		t.Error("a node's owner not recognised")
	}
	for _, o := range []string{"", "node", "node:key1", "alice", "alice:key"} {
		if IsPeerOwner(o) {
			t.Errorf("owner %q passes for a node", o)
		}
	}
}

// A signed request is taken once: the same request sent again (a
// captured one replayed) within the time the signature passes is
// refused, while each new signature of the same request passes.
func TestSignatureTakenOnce(t *testing.T) {
	now := time.Now()
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := signer{node: "a", secret: secret}
	b := signer{node: "b", secret: secret, seen: newNonces()}
	signed := func() *http.Request {
		r := httptest.NewRequest(http.MethodDelete, "http://node-b:8080/sessions/b-1", nil)
		if err := a.sign(r, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := signed()
	replay := httptest.NewRequest(http.MethodDelete, "http://node-b:8080/sessions/b-1", nil)
	replay.Header.Set(Header, first.Header.Get(Header))
	if _, ok, _ := b.verify(first, now); !ok {
		t.Fatal("a fresh signature was refused")
	}
	if _, ok, _ := b.verify(replay, now.Add(time.Second)); ok {
		t.Error("the same signature passed a second time")
	}
	if _, ok, _ := b.verify(signed(), now.Add(time.Second)); !ok {
		t.Error("a new signature of the same request was refused")
	}
	// Long after, the nonce is forgotten, and the time check alone
	// refuses the old signature.
	late := httptest.NewRequest(http.MethodDelete, "http://node-b:8080/sessions/b-1", nil)
	late.Header.Set(Header, first.Header.Get(Header))
	if _, ok, _ := b.verify(late, now.Add(3*maxSkew)); ok {
		t.Error("an old signature passed once its nonce was forgotten")
	}
	// The nonces taken then are forgotten at the next one taken.
	later := httptest.NewRequest(http.MethodDelete, "http://node-b:8080/sessions/b-1", nil)
	if err := a.sign(later, now.Add(3*maxSkew)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.verify(later, now.Add(3*maxSkew)); !ok {
		t.Error("a fresh signature was refused later")
	}
	if n := len(b.seen.seen); n != 1 {
		t.Errorf("%d nonces remembered, want only the last (the others expired)", n)
	}
}
