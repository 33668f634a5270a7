package session

import (
	"fmt"
	"strings"
)

// iceServerLinks renders the configured STUN and TURN servers as Link
// headers (RFC 9725 §4.6, URIs per RFC 7064/7065).
func iceServerLinks(cfg Config) []string {
	var links []string
	for _, u := range cfg.STUNURLs {
		if u = strings.TrimSpace(u); u != "" {
			links = append(links, fmt.Sprintf("<%s>; rel=\"ice-server\"", u))
		}
	}
	for _, u := range cfg.TURNURLs {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		l := fmt.Sprintf("<%s>; rel=\"ice-server\"", u)
		if cfg.TURNUsername != "" {
			l += fmt.Sprintf("; username=%s; credential=%s; credential-type=\"password\"",
				quote(cfg.TURNUsername), quote(cfg.TURNPassword))
		}
		links = append(links, l)
	}
	return links
}

// quote makes an RFC 9110 quoted-string.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
