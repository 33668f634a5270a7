package tlsx

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
)

// SPKIHash is the base64 SHA-256 of a certificate's public key: what
// Fingerprints reports and Chromium's --ignore-certificate-errors-spki-list
// takes. It survives the regeneration of a self-signed certificate.
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// PinnedTLS is a client configuration that trusts exactly a certificate
// whose public key hashes to spki (SPKIHash): for a program talking to a
// self-signed wishcast whose logged fingerprint was checked.
func PinnedTLS(spki string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if SPKIHash(c) != spki {
				return errors.New("the server's key is not the pinned one")
			}
			return nil
		},
	}
}
