package callbridge

import (
	"context"
	"time"
)

// checkFeeds checks every Heartbeat, until ctx ends, that the open event
// feeds may stay (see checkFeedsOnce).
func (b *Bridge) checkFeeds(ctx context.Context) {
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.checkFeedsOnce(ctx)
		}
	}
}

// checkFeedsOnce ends the event feeds whose sign-in session no longer
// lets its holder in (signed out, revoked or expired, the user disabled
// or deleted), with one question to the store for all the feeds of this
// node, however many pages are open. Revocations made through this node,
// and in a cluster those of the others (LISTEN/NOTIFY), end feeds at
// once (see Revoke); this is what catches the rest within a heartbeat: a
// change by another process on SQLite, a notification lost while a node
// was not listening, a session that expired. A store error keeps every
// feed until the next check.
func (b *Bridge) checkFeedsOnce(ctx context.Context) {
	b.mu.Lock()
	ids := make([]string, 0, len(b.feeds))
	seen := make(map[string]bool, len(b.feeds))
	for _, fs := range b.feeds {
		for _, f := range fs {
			if !seen[f.token] {
				seen[f.token] = true
				ids = append(ids, f.token)
			}
		}
	}
	b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Heartbeat)
	defer cancel()
	live, err := b.store.LiveSessions(ctx, ids)
	if err != nil {
		b.log.Warn("open pages not checked against the store; they stay until the next check", "feeds", len(ids), "err", err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fs := range b.feeds {
		for _, f := range fs {
			// Only the sessions asked about: a feed opened since was
			// just authenticated.
			if seen[f.token] && !live[f.token] {
				f.kick()
			}
		}
	}
}
