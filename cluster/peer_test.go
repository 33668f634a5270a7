package cluster

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A request signed with the cluster secret is known as the signing
// node's; a wrong secret, another path or an old signature is not.
func TestSignature(t *testing.T) {
	now := time.Now()
	a := signer{node: "a", secret: []byte("0123456789abcdef0123456789abcdef")}
	other := signer{node: "a", secret: []byte("fedcba9876543210fedcba9876543210")}
	req := func() *http.Request { return httptest.NewRequest(http.MethodPost, "/whep/live/x", nil) }

	r := req()
	a.sign(r, now)
	if id, ok := a.verify(r, now); !ok || id != "a" {
		t.Fatalf("own signature: %q %v", id, ok)
	}
	if _, ok := other.verify(r, now); ok {
		t.Error("a signature under another secret passed")
	}
	if _, ok := a.verify(r, now.Add(2*maxSkew)); ok {
		t.Error("an old signature passed")
	}
	moved := httptest.NewRequest(http.MethodPost, "/whep/live/y", nil)
	moved.Header.Set(Header, r.Header.Get(Header))
	if _, ok := a.verify(moved, now); ok {
		t.Error("a signature for another path passed")
	}
	r.Header.Set(ClientHeader, "192.0.2.1:1234")
	if _, ok := a.verify(r, now); ok {
		t.Error("a signature passed with a client address it did not cover")
	}
	if _, ok := a.verify(req(), now); ok {
		t.Error("no signature passed")
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
