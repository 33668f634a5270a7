package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is the cluster configuration of one node.
type Config struct {
	NodeURL string        `env:"NODE_URL" desc:"base URL at which the other nodes reach this node's HTTP listener (http://10.0.0.5:8080); with a PostgreSQL DATABASE_URL it turns cluster mode on"`
	Secret  string        `env:"CLUSTER_SECRET" desc:"secret shared by the nodes of a cluster (32 characters or more) that signs node-to-node requests"`
	NodeID  string        `env:"NODE_ID" desc:"this node's name in the cluster (letters, digits, - and _); default: from NODE_URL's host and port"`
	Lease   time.Duration `env:"CLUSTER_LEASE" envDefault:"4s" desc:"how long the directory keeps a node's streams after its last renewal (a dead node's streams end after about this long)"`
	Renew   time.Duration `env:"CLUSTER_RENEW" envDefault:"1s" desc:"how often a node renews its leases in the stream directory"`
}

// MinSecretLen is the shortest cluster secret accepted.
const MinSecretLen = 32

// nodeIDPattern is what a node id may hold: it prefixes session ids, so
// never a dot (the separator) nor a slash.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,48}$`)

// Enabled reports whether the node is one of a cluster.
func (c Config) Enabled() bool { return c.NodeURL != "" }

// Check validates c for a node whose store is PostgreSQL (postgres) or
// not, and returns it with the node id derived when unset. Settings names
// in messages start with prefix.
func (c Config) Check(prefix string, postgres bool) (Config, error) {
	if c.NodeURL == "" {
		if c.Secret != "" || c.NodeID != "" {
			return c, fmt.Errorf("%sCLUSTER_SECRET and %sNODE_ID need %sNODE_URL (the URL at which other nodes reach this one)", prefix, prefix, prefix)
		}
		return c, nil
	}
	if !postgres {
		return c, fmt.Errorf("%sNODE_URL needs a PostgreSQL %sDATABASE_URL shared by the nodes", prefix, prefix)
	}
	u, err := url.Parse(c.NodeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("%sNODE_URL must be an absolute http:// or https:// URL without a path, like http://10.0.0.5:8080, not %q", prefix, c.NodeURL)
	}
	c.NodeURL = strings.TrimSuffix(c.NodeURL, "/")
	if len(c.Secret) < MinSecretLen {
		return c, fmt.Errorf("%sCLUSTER_SECRET must be set to at least %d characters, the same on every node", prefix, MinSecretLen)
	}
	if c.NodeID == "" {
		c.NodeID = deriveNodeID(u)
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		return c, fmt.Errorf("%sNODE_ID must be 1 to 48 letters, digits, - or _, not %q", prefix, c.NodeID)
	}
	if c.Renew <= 0 || c.Lease < 2*c.Renew {
		return c, errors.New(prefix + "CLUSTER_LEASE must be at least twice " + prefix + "CLUSTER_RENEW, which must be positive")
	}
	return c, nil
}

// deriveNodeID names a node after the host and port of its URL.
func deriveNodeID(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, net.JoinHostPort(host, port))
	id = strings.Trim(id, "-")
	if len(id) > 48 {
		id = id[len(id)-48:]
	}
	return id
}
