package session

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certLife is how long one DTLS certificate serves new peer connections
// before the next is made. pion's certificates are valid for a month, so
// one made a day ago is still good for every handshake it starts;
// connections keep the certificate they started with.
const certLife = 24 * time.Hour

// dtlsCerts is the DTLS certificate the server presents: one for every
// peer connection made within certLife, rather than the ECDSA key and
// self-signed certificate pion makes for each (tens of microseconds of
// CPU, and a key and certificate kept, per session). A peer checks it
// against the fingerprint of the answer it got, which is what DTLS-SRTP
// asks (RFC 5763 §5); one server identity across sessions tells a peer
// nothing it did not know from the server's address.
type dtlsCerts struct {
	life time.Duration
	now  func() time.Time

	// mu guards the following fields.
	mu   sync.Mutex
	cur  []webrtc.Certificate // one, nil before the first
	made time.Time
}

func newDTLSCerts(life time.Duration) *dtlsCerts {
	return &dtlsCerts{life: life, now: time.Now}
}

// get returns the certificate for a new peer connection, making a new one
// when the current one is older than c.life.
func (c *dtlsCerts) get() ([]webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cur != nil && now.Sub(c.made) < c.life {
		return c.cur, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("DTLS key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("DTLS certificate: %w", err)
	}
	c.cur, c.made = []webrtc.Certificate{*cert}, now
	return c.cur, nil
}
