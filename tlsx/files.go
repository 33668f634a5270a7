package tlsx

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// filePair serves a certificate and key from PEM files and reloads them
// when they change: a handshake stats both files, at most once per every,
// and re-reads them when the size or modification time of either moved. A
// pair that does not load (a renewal tool that has written only one file
// yet) is logged and the old one kept; the next change is tried again.
type filePair struct {
	certFile, keyFile string
	every             time.Duration
	now               func() time.Time
	log               *slog.Logger

	mu      sync.Mutex // guards the following fields
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when last read
	checked time.Time    // when the files were last statted
}

// fileStamp is what a cheap stat tells about a file's content.
type fileStamp struct {
	mod  time.Time
	size int64
}

// newFilePair loads the pair; unlike later reloads, a failure is an error.
func newFilePair(certFile, keyFile string, every time.Duration, now func() time.Time, log *slog.Logger) (*filePair, error) {
	p := &filePair{certFile: certFile, keyFile: keyFile, every: every, now: now, log: log}
	stamp, err := p.stat()
	if err != nil {
		return nil, err
	}
	cert, err := p.read()
	if err != nil {
		return nil, err
	}
	p.cert, p.stamp, p.checked = cert, stamp, now()
	if now().After(cert.Leaf.NotAfter) {
		log.Warn("the TLS certificate has expired; browsers will refuse it", "file", certFile, "expired", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return p, nil
}

// stat returns the stamps of both files.
func (p *filePair) stat() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, name := range [2]string{p.certFile, p.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return out, fmt.Errorf("TLS certificate files: %w", err)
		}
		out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

// read loads and parses the pair.
func (p *filePair) read() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT_FILE %s and TLS_KEY_FILE %s: %w", p.certFile, p.keyFile, err)
	}
	return &cert, nil
}

// getCertificate serves the current pair, reloading it first when the
// files changed.
func (p *filePair) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.checked) < p.every {
		return p.cert, nil
	}
	p.checked = now
	stamp, err := p.stat()
	if err != nil {
		if stamp != p.stamp {
			p.log.Warn("TLS certificate files unreadable; serving the old pair", "err", err)
			p.stamp = stamp
		}
		return p.cert, nil
	}
	if stamp == p.stamp {
		return p.cert, nil
	}
	p.stamp = stamp
	cert, err := p.read()
	if err != nil {
		p.log.Warn("TLS certificate files changed but do not load; serving the old pair", "err", err)
		return p.cert, nil
	}
	p.cert = cert
	p.log.Info("reloaded the TLS certificate", "file", p.certFile, "subject", cert.Leaf.Subject.String(),
		"expires", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return p.cert, nil
}

// current is the pair served now.
func (p *filePair) current() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cert
}
