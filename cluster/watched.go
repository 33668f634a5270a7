package cluster

import (
	"context"
	"fmt"
)

// holders is what one query told of the holders of the watched streams.
type holders struct {
	gen   uint64            // counts refreshes
	asked map[string]bool   // the streams asked about
	nodes map[string]string // stream → node id, streams held now
}

// watchHolder adds name to the streams whose holders Run fetches each
// renewal (one query for all the node's relays, not one per relay);
// call the returned function when done.
func (d *Directory) watchHolder(name string) func() {
	d.mu.Lock()
	d.watched[name]++
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.watched[name]--; d.watched[name] <= 0 {
			delete(d.watched, name)
		}
	}
}

// refreshHolders fetches the holders of the watched streams.
func (d *Directory) refreshHolders(ctx context.Context) error {
	d.mu.Lock()
	names := make([]string, 0, len(d.watched))
	for n := range d.watched {
		names = append(names, n)
	}
	d.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	rows, err := d.pool.Query(ctx, "SELECT stream, node_id FROM cluster_streams WHERE stream = ANY($1) AND lease_until > now()", names)
	if err != nil {
		return fmt.Errorf("stream directory: holders: %w", err)
	}
	defer rows.Close()
	h := &holders{gen: d.holdersGen() + 1, asked: map[string]bool{}, nodes: map[string]string{}}
	for _, n := range names {
		h.asked[n] = true
	}
	for rows.Next() {
		var s, node string
		if err := rows.Scan(&s, &node); err != nil {
			return fmt.Errorf("stream directory: holders: %w", err)
		}
		h.nodes[s] = node
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stream directory: holders: %w", err)
	}
	d.holders.Store(h)
	return nil
}

// holdersGen is the generation of the latest refresh (0: none yet).
func (d *Directory) holdersGen() uint64 {
	if h := d.holders.Load(); h != nil {
		return h.gen
	}
	return 0
}

// holderOf returns the node holding a watched stream as of the last
// refresh, and whether that refresh came after generation after and
// asked about it.
func (d *Directory) holderOf(name string, after uint64) (node string, known bool) {
	h := d.holders.Load()
	if h == nil || h.gen <= after || !h.asked[name] {
		return "", false
	}
	return h.nodes[name], true
}
