package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// pgRevocations is the channel on which processes sharing a database
// tell each other of revocations (see Revocation).
const pgRevocations = "wishcast_revocations"

// notice is the payload of a notification on pgRevocations.
type notice struct {
	Origin string `json:"o"` // the process that made the change
	Revocation
}

// Listening: how long a wait for a notification lasts before the
// connection is checked with a ping, and the bounds of the pause before
// connecting again after a failure.
const (
	pgListenCheck     = 30 * time.Second
	pgListenRetryMin  = 100 * time.Millisecond
	pgListenRetryMax  = 5 * time.Second
	pgListenerAppName = "wishcast revocations"
)

// listen holds a connection of its own LISTENing on pgRevocations and
// calls heard for each notification another process sent, until ctx ends.
// A lost connection is made again, after a pause that grows from
// pgListenRetryMin to pgListenRetryMax; up says when listening starts and
// stops, since notifications sent meanwhile are lost.
func (db *pgDB) listen(ctx context.Context, heard func(Revocation), up func(bool)) {
	pause := pgListenRetryMin
	for {
		start := time.Now()
		err := db.listenOnce(ctx, heard, up)
		up(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > pgListenCheck {
			pause = pgListenRetryMin // it had been working
		}
		db.log.Warn("not hearing other nodes' revocations; checking every token in the database until heard again",
			"err", db.loc.scrub(err), "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, pgListenRetryMax)
	}
}

// listenOnce connects, listens and waits for notifications until the
// connection fails or ctx ends.
func (db *pgDB) listenOnce(ctx context.Context, heard func(Revocation), up func(bool)) error {
	cc := db.pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["application_name"] = pgListenerAppName
	// A wait that times out only sets the socket's deadline: no cancel
	// request to the server, and the connection stays usable.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgRevocations); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	up(true)
	for {
		wait, cancel := context.WithTimeout(ctx, pgListenCheck)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if err := conn.Ping(ctx); err != nil { // nothing heard for a while: is it alive?
				return fmt.Errorf("ping: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("wait for notifications: %w", err)
		}
		var no notice
		if err := json.Unmarshal([]byte(n.Payload), &no); err != nil {
			// Something changed, but what is unknown: heard as a
			// revocation of no one in particular, which still drops
			// the cache and re-checks what runs.
			db.log.Warn("unreadable notification on "+pgRevocations, "err", err)
			no = notice{}
		}
		if no.Origin != db.origin {
			heard(no.Revocation)
		}
	}
}
