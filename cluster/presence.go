package cluster

import (
	"context"
	"fmt"
	"slices"
)

// syncPresence writes which users have the app open on this node, when
// that changed since the last write. Presence rows carry no lease of
// their own: they count while the node's lease runs.
func (d *Directory) syncPresence(ctx context.Context) error {
	if d.online == nil || d.halted.Load() {
		return nil
	}
	users := d.online()
	slices.Sort(users)
	if d.synced && slices.Equal(users, d.lastOnline) {
		return nil
	}
	var on, off []string
	for _, u := range users {
		if _, found := slices.BinarySearch(d.lastOnline, u); !found {
			on = append(on, u)
		}
	}
	for _, u := range d.lastOnline {
		if _, found := slices.BinarySearch(users, u); !found {
			off = append(off, u)
		}
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "DELETE FROM cluster_presence WHERE node_id = $1", d.cfg.NodeID); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if len(users) > 0 {
		if _, err := tx.Exec(ctx, "INSERT INTO cluster_presence (user_name, node_id) SELECT unnest($2::text[]), $1", d.cfg.NodeID, users); err != nil {
			return fmt.Errorf("presence: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	d.lastOnline, d.synced = users, true
	if d.presenceChanged != nil {
		d.presenceChanged(ctx, on, off)
	}
	return nil
}

// allPresence returns, for every user online on another node whose lease
// runs, those nodes; and who watches whom on those nodes (person → node
// → viewers). One query for both.
func (d *Directory) allPresence(ctx context.Context) (map[string][]string, map[string]map[string][]string, error) {
	rows, err := d.pool.Query(ctx, `
SELECT p.user_name, p.node_id, NULL::text FROM cluster_presence p JOIN cluster_nodes n ON n.node_id = p.node_id
WHERE n.lease_until > now() AND p.node_id <> $1
UNION ALL
SELECT w.user_name, w.node_id, w.viewer FROM cluster_watchers w JOIN cluster_nodes n ON n.node_id = w.node_id
WHERE n.lease_until > now() AND w.node_id <> $1`, d.cfg.NodeID)
	if err != nil {
		return nil, nil, fmt.Errorf("presence: %w", err)
	}
	defer rows.Close()
	out, watched := map[string][]string{}, map[string]map[string][]string{}
	for rows.Next() {
		var u, node string
		var viewer *string
		if err := rows.Scan(&u, &node, &viewer); err != nil {
			return nil, nil, fmt.Errorf("presence: %w", err)
		}
		if viewer == nil {
			out[u] = append(out[u], node)
			continue
		}
		if watched[u] == nil {
			watched[u] = map[string][]string{}
		}
		watched[u][node] = append(watched[u][node], *viewer)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("presence: %w", err)
	}
	for _, byNode := range watched {
		for node := range byNode {
			slices.Sort(byNode[node])
		}
	}
	return out, watched, nil
}

// PresenceOf lists the other nodes where user has the app open.
func (d *Directory) PresenceOf(ctx context.Context, user string) ([]string, error) {
	rows, err := d.pool.Query(ctx, `
SELECT p.node_id FROM cluster_presence p JOIN cluster_nodes n ON n.node_id = p.node_id
WHERE p.user_name = $1 AND n.lease_until > now() AND p.node_id <> $2`, user, d.cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("presence of %s: %w", user, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("presence of %s: %w", user, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
