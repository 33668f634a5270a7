package session

import (
	"crypto/rand"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// BenchmarkSRTPProfiles encrypts a 1200-byte video packet with each SRTP
// profile the server may negotiate, as its send path does (one reused
// output buffer): the cost that decides their order (see NewAPI).
func BenchmarkSRTPProfiles(b *testing.B) {
	for _, c := range []struct {
		name    string
		profile srtp.ProtectionProfile
	}{
		{"gcm128", srtp.ProtectionProfileAeadAes128Gcm},
		{"gcm256", srtp.ProtectionProfileAeadAes256Gcm},
		{"cm128-sha1-80", srtp.ProtectionProfileAes128CmHmacSha1_80},
	} {
		b.Run(c.name, func(b *testing.B) {
			keyLen, _ := c.profile.KeyLen()
			saltLen, _ := c.profile.SaltLen()
			key, salt := make([]byte, keyLen), make([]byte, saltLen)
			_, _ = rand.Read(key)
			_, _ = rand.Read(salt)
			ctx, err := srtp.CreateContext(key, salt, c.profile)
			if err != nil {
				b.Fatal(err)
			}
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, Payload: make([]byte, 1200)}
			plain := make([]byte, 1500)
			dst := make([]byte, 1500)
			b.SetBytes(int64(len(p.Payload)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p.SequenceNumber = uint16(i)
				n, err := p.MarshalTo(plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ctx.EncryptRTP(dst, plain[:n], &p.Header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
