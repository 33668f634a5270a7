package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the LISTEN/NOTIFY channel of the nodes: small messages that
// point at rows or streams, never the truth itself.
const channel = "wishcast_cluster"

// Message kinds.
const (
	// msgWatch asks the node where a person has the app open to ask
	// their page to publish users/{name} (a viewer waits elsewhere).
	msgWatch = "watch"
	// msgUnwatch withdraws one msgWatch.
	msgUnwatch = "unwatch"
)

// message is one notification between nodes.
type message struct {
	To     string `json:"to"`
	From   string `json:"from"`
	Kind   string `json:"kind"`
	Stream string `json:"stream"`
}

// notify sends m to node m.To.
func (n *Node) notify(ctx context.Context, m message) error {
	m.From = n.cfg.NodeID
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if _, err := n.dir.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, string(b)); err != nil {
		return fmt.Errorf("notify node %s: %w", m.To, err)
	}
	return nil
}

// listen hands the node's messages to handle until ctx ends, listening
// again after a lost connection.
func (n *Node) listen(ctx context.Context, url string, handle func(message)) {
	for ctx.Err() == nil {
		err := n.listenOnce(ctx, url, handle)
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("cluster messages: listening again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.Renew):
		}
	}
}

// listenOnce listens on one connection until it fails or ctx ends.
func (n *Node) listenOnce(ctx context.Context, url string, handle func(message)) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		var m message
		if err := json.Unmarshal([]byte(nt.Payload), &m); err != nil || m.To != n.cfg.NodeID {
			continue
		}
		handle(m)
	}
}
