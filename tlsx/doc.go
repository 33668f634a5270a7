// Package tlsx gives wishcast's listener HTTPS with one setting. Modes:
// none (plain HTTP, fine on localhost), files (a certificate and key in PEM
// files, reloaded when they change), self-signed (generated once into the
// data directory for the configured names, localhost and every local
// address, with fingerprints to pin) and acme (certificates from an ACME CA
// such as Let's Encrypt through golang.org/x/crypto/acme/autocert).
//
// It also serves the optional plain-HTTP listener that redirects to HTTPS
// (and answers ACME http-01 challenges), and the middleware that trusts
// X-Forwarded-For and X-Forwarded-Proto only from configured proxies.
package tlsx
