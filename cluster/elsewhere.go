package cluster

import (
	"context"
	"slices"
)

// msgPresence carries, to every node, the users who came online on the
// sender and those who left it: one message per node and renewal, not
// one per user.
const msgPresence = "presence"

// presenceChunk bounds the users of one message (a NOTIFY payload is
// at most 8000 bytes).
const presenceChunk = 100

// SetPresenceHook makes the node report users who came online on other
// nodes, or left the last of them (online false), to f. Call it before
// the node serves.
func (n *Node) SetPresenceHook(f func(user string, online bool)) {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	n.presenceHook = f
}

// OnlineElsewhere lists the users with the app open on other nodes, as
// this node last heard; it does not block on the database.
func (n *Node) OnlineElsewhere() []string {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	out := make([]string, 0, len(n.elsewhere))
	for u := range n.elsewhere {
		out = append(out, u)
	}
	return out
}

// announce tells the other nodes who came online here and who left.
func (n *Node) announce(ctx context.Context, on, off []string) {
	for len(on) > 0 || len(off) > 0 {
		m := message{To: "*", Kind: msgPresence}
		k := min(len(on), presenceChunk)
		m.On, on = on[:k], on[k:]
		k = min(len(off), presenceChunk-len(m.On))
		m.Off, off = off[:k], off[k:]
		if err := n.notify(ctx, m); err != nil {
			n.log.Warn("presence not announced (the next repair sets it right)", "err", err)
			return
		}
	}
}

// heard applies a presence message from node from.
func (n *Node) heard(from string, on, off []string) {
	type change struct {
		user   string
		online bool
	}
	var changes []change
	n.elseMu.Lock()
	for _, u := range on {
		if n.elsewhere[u] == nil {
			n.elsewhere[u] = map[string]bool{}
			changes = append(changes, change{u, true})
		}
		n.elsewhere[u][from] = true
	}
	for _, u := range off {
		if nodes := n.elsewhere[u]; nodes != nil {
			delete(nodes, from)
			if len(nodes) == 0 {
				delete(n.elsewhere, u)
				changes = append(changes, change{u, false})
			}
		}
	}
	hook := n.presenceHook
	n.elseMu.Unlock()
	if hook != nil {
		for _, c := range changes {
			hook(c.user, c.online)
		}
	}
}

// repair replaces what the node knows of the other nodes' presence with
// all, read from the database, and reports the differences.
func (n *Node) repair(all map[string][]string) {
	next := map[string]map[string]bool{}
	for u, nodes := range all {
		next[u] = map[string]bool{}
		for _, node := range nodes {
			next[u][node] = true
		}
	}
	n.elseMu.Lock()
	var on, off []string
	for u := range next {
		if n.elsewhere[u] == nil {
			on = append(on, u)
		}
	}
	for u := range n.elsewhere {
		if next[u] == nil {
			off = append(off, u)
		}
	}
	n.elsewhere = next
	hook := n.presenceHook
	n.elseMu.Unlock()
	slices.Sort(on)
	slices.Sort(off)
	if hook == nil {
		return
	}
	for _, u := range on {
		hook(u, true)
	}
	for _, u := range off {
		hook(u, false)
	}
}
