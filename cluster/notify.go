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
	To     string   `json:"to"` // a node id, or "*" for every node
	From   string   `json:"from"`
	Kind   string   `json:"kind"`
	Stream string   `json:"stream,omitempty"`
	On     []string `json:"on,omitempty"`
	Off    []string `json:"off,omitempty"`
	Call   *CallRow `json:"call,omitempty"`
	// Watchers are, for msgWatchers, who watches whom on the sender.
	Watchers map[string][]string `json:"w,omitempty"`
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

// subscribe opens a connection that listens to the nodes' channel.
func subscribe(ctx context.Context, url string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("cluster messages: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("cluster messages: listen: %w", err)
	}
	return conn, nil
}

// closeConn closes a listening connection.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// listen hands the node's messages to handle until ctx ends, starting on
// conn (already listening) and listening again after a lost connection.
func (n *Node) listen(ctx context.Context, conn *pgx.Conn, url string, handle func(message)) {
	for ctx.Err() == nil {
		if conn == nil {
			var err error
			if conn, err = subscribe(ctx, url); err != nil {
				n.log.Warn("cluster messages: listening again", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(n.cfg.Renew):
				}
				continue
			}
		}
		err := n.listenOn(ctx, conn, handle)
		closeConn(conn)
		conn = nil
		if ctx.Err() == nil {
			n.log.Warn("cluster messages: connection lost", "err", err)
		}
	}
}

// listenOn hands the messages of conn to handle until it fails or ctx
// ends.
func (n *Node) listenOn(ctx context.Context, conn *pgx.Conn, handle func(message)) error {
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		var m message
		if err := json.Unmarshal([]byte(nt.Payload), &m); err != nil || m.From == n.cfg.NodeID || (m.To != n.cfg.NodeID && m.To != "*") {
			continue
		}
		handle(m)
	}
}
