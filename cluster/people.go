package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// people is a short-lived snapshot of who is online anywhere in the
// cluster and whose camera is live on some node, for people lists: two
// queries per refresh, however many people a list shows.
type people struct {
	// mu guards all following fields.
	mu         sync.Mutex
	at         time.Time
	online     map[string]bool
	publishing map[string]bool
}

// Person reports whether user has the app open on another node and
// whether their camera (users/{user}) is live on some node, as of at
// most half a lease renewal ago.
func (n *Node) Person(ctx context.Context, user string) (online, publishing bool, err error) {
	p := &n.people
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) > n.cfg.Renew/2 {
		on, pub, err := n.dir.people(ctx)
		if err != nil {
			return false, false, err
		}
		p.online, p.publishing, p.at = on, pub, time.Now()
	}
	return p.online[user], p.publishing[user], nil
}

// people fetches who is online on the other nodes and whose camera is
// live anywhere.
func (d *Directory) people(ctx context.Context) (online, publishing map[string]bool, err error) {
	online, publishing = map[string]bool{}, map[string]bool{}
	rows, err := d.pool.Query(ctx, `
SELECT DISTINCT p.user_name FROM cluster_presence p JOIN cluster_nodes n ON n.node_id = p.node_id
WHERE n.lease_until > now() AND p.node_id <> $1`, d.cfg.NodeID)
	if err != nil {
		return nil, nil, fmt.Errorf("presence: %w", err)
	}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("presence: %w", err)
		}
		online[u] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("presence: %w", err)
	}
	rows, err = d.pool.Query(ctx, "SELECT stream FROM cluster_streams WHERE stream LIKE 'users/%' AND lease_until > now()")
	if err != nil {
		return nil, nil, fmt.Errorf("stream directory: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, nil, fmt.Errorf("stream directory: %w", err)
		}
		publishing[strings.TrimPrefix(s, "users/")] = true
	}
	return online, publishing, rows.Err()
}
