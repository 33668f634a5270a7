package callbridge

import "slices"

// SetElsewhere gives the bridge the users who have the app open on other
// nodes of a cluster, for the online list of the hello event; f must not
// block (it runs under the bridge's lock). Call it before serving.
func (b *Bridge) SetElsewhere(f func() []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.elsewhere = f
}

// SetWatchersElsewhere gives the bridge who watches whom on the other
// nodes of a cluster (person → viewers, sorted), for the watchers of the
// hello event and of watchers events; f must not block (it runs under
// the bridge's lock). Call it before serving.
func (b *Bridge) SetWatchersElsewhere(f func() map[string][]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watchedElsewhere = f
}

// LocalWatchers returns who watches whom on this node (person → viewers,
// sorted) as of the last look, for the other nodes of a cluster.
func (b *Bridge) LocalWatchers() map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]string, len(b.watchers))
	for u, who := range b.watchers {
		out[u] = slices.Clone(who)
	}
	return out
}

// PresenceElsewhere tells the feeds here that user came online or went
// offline on the other nodes of a cluster. Nothing is said while the
// user has a page open here: they are online either way.
func (b *Bridge) PresenceElsewhere(user string, online bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.online[user] {
		return
	}
	b.emitLocked("", "presence", map[string]any{"user": user, "online": online})
}

// withElsewhere adds the users online on other nodes to online (sorted,
// no repeats). b.mu must be held.
func (b *Bridge) withElsewhere(online []string) []string {
	if b.elsewhere == nil {
		return online
	}
	online = append(online, b.elsewhere()...)
	slices.Sort(online)
	return slices.Compact(online)
}
