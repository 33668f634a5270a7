package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	secret := strings.Repeat("s", MinSecretLen)
	ok := Config{NodeURL: "http://10.0.0.5:8080/", Secret: secret, Lease: 4 * time.Second, Renew: time.Second}
	for _, tc := range []struct {
		name     string
		cfg      Config
		postgres bool
		wantErr  string
		wantID   string
	}{
		{name: "one node", cfg: Config{Lease: 4 * time.Second, Renew: time.Second}},
		{name: "one node on PostgreSQL", cfg: Config{Lease: 4 * time.Second, Renew: time.Second}, postgres: true},
		{name: "cluster", cfg: ok, postgres: true, wantID: "10-0-0-5-8080"},
		{name: "named node", cfg: func() Config { c := ok; c.NodeID = "east_1"; return c }(), postgres: true, wantID: "east_1"},
		{name: "default port", cfg: func() Config { c := ok; c.NodeURL = "https://node.example"; return c }(), postgres: true, wantID: "node-example-443"},
		{name: "SQLite", cfg: ok, wantErr: "NODE_URL needs a PostgreSQL"},
		{name: "secret alone", cfg: Config{Secret: secret}, wantErr: "need X_NODE_URL"},
		{name: "short secret", cfg: func() Config { c := ok; c.Secret = "short"; return c }(), postgres: true, wantErr: "at least 32 characters"},
		{name: "no secret", cfg: func() Config { c := ok; c.Secret = ""; return c }(), postgres: true, wantErr: "CLUSTER_SECRET must be set"},
		{name: "relative URL", cfg: func() Config { c := ok; c.NodeURL = "10.0.0.5:8080"; return c }(), postgres: true, wantErr: "absolute http"},
		{name: "URL with a path", cfg: func() Config { c := ok; c.NodeURL = "http://n:1/x"; return c }(), postgres: true, wantErr: "without a path"},
		{name: "node id with a dot", cfg: func() Config { c := ok; c.NodeID = "a.b"; return c }(), postgres: true, wantErr: "NODE_ID must be"},
		{name: "lease too short", cfg: func() Config { c := ok; c.Lease = c.Renew; return c }(), postgres: true, wantErr: "CLUSTER_LEASE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Check("X_", tc.postgres)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.NodeID != tc.wantID {
				t.Errorf("node id %q, want %q", got.NodeID, tc.wantID)
			}
			if got.Enabled() != (tc.wantID != "") {
				t.Errorf("enabled %v", got.Enabled())
			}
		})
	}
}
