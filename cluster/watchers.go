package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// msgWatchers carries, to every node, who watches whom on the sender
// now, for the people whose viewers there changed since its last
// message (an empty list: nobody any more): one message per node and
// renewal, however many changed.
const msgWatchers = "watchers"

// Bounds of what a node tells of its viewers: the viewers of one person
// on one node named to the others, and the bytes of the lists in one
// message (a NOTIFY payload is at most 8000 bytes).
const (
	maxWatchersShared = 100
	watchersChunk     = 6000
)

// watchersSchema is who watches whom on each node: a row per person,
// node and viewer, kept by the node's lease like presence.
const watchersSchema = `
CREATE TABLE IF NOT EXISTS cluster_watchers (
	user_name text NOT NULL,
	node_id text NOT NULL,
	viewer text NOT NULL,
	PRIMARY KEY (user_name, node_id, viewer)
);
`

// normalWatchers returns w with each list sorted, without repeats, cut
// to maxWatchersShared names, and without people nobody watches.
func normalWatchers(w map[string][]string) map[string][]string {
	out := make(map[string][]string, len(w))
	for u, who := range w {
		who = slices.Clone(who)
		slices.Sort(who)
		who = slices.Compact(who)
		if len(who) > maxWatchersShared {
			who = who[:maxWatchersShared]
		}
		if len(who) > 0 {
			out[u] = who
		}
	}
	return out
}

// syncWatchers writes who watches whom on this node, when that changed
// since the last write, and tells the other nodes what changed.
func (d *Directory) syncWatchers(ctx context.Context) error {
	if d.watching == nil || d.halted.Load() {
		return nil
	}
	now := normalWatchers(d.watching())
	if d.watchingSynced && maps.EqualFunc(now, d.lastWatching, slices.Equal) {
		return nil
	}
	changed := map[string][]string{}
	for u, who := range now {
		if !slices.Equal(d.lastWatching[u], who) {
			changed[u] = who
		}
	}
	for u := range d.lastWatching {
		if _, still := now[u]; !still {
			changed[u] = []string{}
		}
	}
	var users, viewers []string
	for u, who := range now {
		for _, v := range who {
			users, viewers = append(users, u), append(viewers, v)
		}
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("watchers: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "DELETE FROM cluster_watchers WHERE node_id = $1", d.cfg.NodeID); err != nil {
		return fmt.Errorf("watchers: %w", err)
	}
	if len(users) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_watchers (user_name, node_id, viewer)
			SELECT u, $1, v FROM unnest($2::text[], $3::text[]) AS t(u, v)`, d.cfg.NodeID, users, viewers); err != nil {
			return fmt.Errorf("watchers: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("watchers: %w", err)
	}
	d.lastWatching, d.watchingSynced = now, true
	if d.watchersChanged != nil && len(changed) > 0 {
		d.watchersChanged(ctx, changed)
	}
	return nil
}

// announceWatchers tells the other nodes whose viewers changed here, in
// as few messages as fit.
func (n *Node) announceWatchers(ctx context.Context, changed map[string][]string) {
	for _, w := range chunkWatchers(changed) {
		if err := n.notify(ctx, message{To: "*", Kind: msgWatchers, Watchers: w}); err != nil {
			n.log.Warn("watchers not announced (the next repair sets them right)", "err", err)
			return
		}
	}
}

// chunkWatchers splits w into parts whose lists take about
// watchersChunk bytes of JSON at most each (one person's list, at most
// maxWatchersShared names, is never split).
func chunkWatchers(w map[string][]string) []map[string][]string {
	var out []map[string][]string
	size := 0
	for _, u := range slices.Sorted(maps.Keys(w)) {
		b, _ := json.Marshal(w[u])
		n := len(u) + len(b) + 4
		if len(out) == 0 || size > 0 && size+n > watchersChunk {
			out, size = append(out, map[string][]string{}), 0
		}
		out[len(out)-1][u], size = w[u], size+n
	}
	return out
}

// heardWatchers applies a watchers message from node from.
func (n *Node) heardWatchers(from string, w map[string][]string) {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	for u, who := range w {
		byNode := n.watchedElsewhere[u]
		if len(who) == 0 {
			if byNode != nil {
				delete(byNode, from)
				if len(byNode) == 0 {
					delete(n.watchedElsewhere, u)
				}
			}
			continue
		}
		if byNode == nil {
			byNode = map[string][]string{}
			n.watchedElsewhere[u] = byNode
		}
		byNode[from] = who
	}
}

// repairWatchers replaces what the node knows of the other nodes'
// viewers with all (person → node → viewers), read from the database.
func (n *Node) repairWatchers(all map[string]map[string][]string) {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	n.watchedElsewhere = all
}

// WatchersElsewhere returns who watches whom on the other nodes (person
// → viewers, sorted, without repeats), as this node last heard; it does
// not block on the database.
func (n *Node) WatchersElsewhere() map[string][]string {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	out := make(map[string][]string, len(n.watchedElsewhere))
	for u, byNode := range n.watchedElsewhere {
		var who []string
		for _, w := range byNode {
			who = append(who, w...)
		}
		slices.Sort(who)
		out[u] = slices.Compact(who)
	}
	return out
}
