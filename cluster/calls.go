package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Calls across nodes. The two people of a call, and its four sessions,
// may sit on three nodes, and the node that placed the call may die
// while it rings. So a call lives in cluster_calls, with its deadlines:
// ring_until while it rings, and for an answered call one drop deadline
// per participant that every node holding a session of theirs pushes
// forward each renewal. cluster_call_members holds one row per person in
// a ringing or active call (its primary key makes "busy" race-free).
// Every change is a conditional UPDATE from the state the changer saw,
// so of two nodes acting at once one wins; its transaction sends a NOTIFY
// that carries the changed row (a few hundred bytes) to every node, in
// commit order. Every node sweeps the table each renewal and ends the
// calls whose deadline passed, with one UPDATE: whichever nodes are
// alive, one of them ends each call.

// callsSchema is the calls' tables, created with the directory's.
const callsSchema = `
CREATE TABLE IF NOT EXISTS cluster_calls (
	call_id text PRIMARY KEY,
	caller text NOT NULL,
	callee text NOT NULL,
	state text NOT NULL CHECK (state IN ('ringing', 'active', 'ended')),
	end_reason text NOT NULL DEFAULT '',
	created timestamptz NOT NULL,
	answered timestamptz,
	ended timestamptz,
	codecs jsonb NOT NULL DEFAULT '{}',
	version bigint NOT NULL DEFAULT 1,
	ring_until timestamptz,
	caller_until timestamptz,
	callee_until timestamptz,
	placed_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_call_members (
	user_name text PRIMARY KEY,
	call_id text NOT NULL REFERENCES cluster_calls (call_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS cluster_call_members_call ON cluster_call_members (call_id);
`

// callCols are the columns scanCall reads, in its order.
const callCols = "call_id, caller, callee, state, end_reason, created, answered, ended, codecs, version"

// endedKept is how long an ended call's row stays, for nodes that missed
// its notification to learn how it ended at their next repair.
const endedKept = time.Minute

// msgCall carries a changed call to every node.
const msgCall = "call"

// CallRow is a call as the cluster holds it.
type CallRow struct {
	ID        string              `json:"id"`
	Caller    string              `json:"caller"`
	Callee    string              `json:"callee"`
	State     string              `json:"state"`
	EndReason string              `json:"reason,omitempty"`
	Created   time.Time           `json:"created"`
	Answered  time.Time           `json:"answered,omitzero"`
	Ended     time.Time           `json:"ended,omitzero"`
	Codecs    map[string][]string `json:"codecs,omitempty"`
	// Version counts the call's changes, so that a node applies each
	// change once and never an older one after a newer.
	Version int64 `json:"v"`
}

// CallHooks connect the calls of the cluster to the node's calls.
type CallHooks struct {
	// Changed hears every change another node made to a call, and the
	// calls this node's sweep ended (own true: this node records them).
	Changed func(c CallRow, own bool)
	// Repair gets every call of the table every few renewals, to set
	// right what lost notifications left wrong.
	Repair func(all []CallRow)
	// Present lists the participants with a session on this node, as
	// "callID/user": their drop deadlines move forward.
	Present func() []string
	// Known counts the calls the node knows to ring or be active: with
	// none, a renewal costs the database nothing for calls (the repair
	// every few renewals finds a call whose notification was lost).
	Known func() int
	// DropGrace is how long an answered call survives a participant
	// with no session on any node.
	DropGrace time.Duration
	// Unanswered and Dropped are the end reasons the sweep gives a call
	// that rang too long and one whose participant was gone too long.
	Unanswered, Dropped string
}

// callState is the node's part in the calls of the cluster.
type callState struct {
	// mu guards the following fields.
	mu      sync.Mutex
	hooks   CallHooks                  // set once before serving
	waiters map[string][]chan struct{} // call streams followed here, see msgHeld
}

// SetCallHooks connects the node's calls to the cluster's: their sweep
// and repair run from now on, each renewal.
func (n *Node) SetCallHooks(h CallHooks) {
	n.calls.mu.Lock()
	defer n.calls.mu.Unlock()
	n.calls.hooks = h
}

func (n *Node) callHooks() CallHooks {
	n.calls.mu.Lock()
	defer n.calls.mu.Unlock()
	return n.calls.hooks
}

// IsOnlineElsewhere reports whether user has the app open on another node,
// as this node last heard.
func (n *Node) IsOnlineElsewhere(user string) bool {
	n.elseMu.Lock()
	defer n.elseMu.Unlock()
	return len(n.elsewhere[user]) > 0
}

// execer runs a statement on a pool or in a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// send sends m to node m.To through ex (in a transaction: at its commit).
func (n *Node) send(ctx context.Context, ex execer, m message) error {
	m.From = n.cfg.NodeID
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if _, err := ex.Exec(ctx, "SELECT pg_notify($1, $2)", channel, string(b)); err != nil {
		return fmt.Errorf("notify node %s: %w", m.To, err)
	}
	return nil
}

// errInCall rolls back a call that would make someone busy twice.
var errInCall = errors.New("a participant is in another call")

// PlaceCall records c, a new ringing call, ringing for ringFor at most,
// and tells every node. When the caller or the callee is in a ringing or
// active call already it records nothing and returns those calls.
func (n *Node) PlaceCall(ctx context.Context, c CallRow, ringFor time.Duration) (busy []CallRow, ok bool, err error) {
	c.Version = 1
	codecs, err := codecsJSON(c.Codecs)
	if err != nil {
		return nil, false, err
	}
	// Members in name order: two calls placed at once between the same
	// two people wait for each other instead of deadlocking.
	pair := []string{c.Caller, c.Callee}
	slices.Sort(pair)
	err = pgx.BeginFunc(ctx, n.dir.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
INSERT INTO cluster_calls (call_id, caller, callee, state, created, codecs, ring_until, placed_by)
VALUES ($1, $2, $3, 'ringing', $4, $5, now() + make_interval(secs => $6), $7)`,
			c.ID, c.Caller, c.Callee, c.Created, codecs, ringFor.Seconds(), n.cfg.NodeID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO cluster_call_members (user_name, call_id) VALUES ($1, $3), ($2, $3) ON CONFLICT DO NOTHING`, pair[0], pair[1], c.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 2 {
			return errInCall
		}
		return n.send(ctx, tx, message{To: "*", Kind: msgCall, Call: &c})
	})
	if errors.Is(err, errInCall) {
		busy, err := n.callsOf(ctx, pair)
		return busy, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("place a call: %w", err)
	}
	return nil, true, nil
}

// callsOf returns the ringing or active calls of users.
func (n *Node) callsOf(ctx context.Context, users []string) ([]CallRow, error) {
	rows, err := n.dir.pool.Query(ctx, "SELECT "+callCols+" FROM cluster_calls WHERE call_id IN (SELECT call_id FROM cluster_call_members WHERE user_name = ANY($1))", users)
	if err != nil {
		return nil, fmt.Errorf("calls of %v: %w", users, err)
	}
	return collectCalls(rows)
}

// ChangeCall replaces call c.ID by c (its state, end reason, times; its
// codecs are added) if it is in state from, and tells every node. It
// returns the call as stored now: c with its new version (changed true),
// or what changed it meanwhile (changed false; a zero row if there is no
// such call). A call that ends leaves its members free.
func (n *Node) ChangeCall(ctx context.Context, from string, c CallRow, grace time.Duration) (now CallRow, changed bool, err error) {
	codecs, err := codecsJSON(c.Codecs)
	if err != nil {
		return CallRow{}, false, err
	}
	err = pgx.BeginFunc(ctx, n.dir.pool, func(tx pgx.Tx) error {
		now, err = scanCall(tx.QueryRow(ctx, `
UPDATE cluster_calls SET state = $3::text, end_reason = $4, answered = $5, ended = $6, codecs = codecs || $7::jsonb,
	version = version + 1,
	caller_until = CASE WHEN $3 = 'active' THEN now() + make_interval(secs => $8) ELSE caller_until END,
	callee_until = CASE WHEN $3 = 'active' THEN now() + make_interval(secs => $8) ELSE callee_until END
WHERE call_id = $1 AND state = $2
RETURNING `+callCols, c.ID, from, c.State, c.EndReason, nullTime(c.Answered), nullTime(c.Ended), codecs, grace.Seconds()))
		if errors.Is(err, pgx.ErrNoRows) {
			now, err = scanCall(tx.QueryRow(ctx, "SELECT "+callCols+" FROM cluster_calls WHERE call_id = $1", c.ID))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		}
		if err != nil {
			return err
		}
		changed = true
		if now.State == "ended" {
			if _, err := tx.Exec(ctx, "DELETE FROM cluster_call_members WHERE call_id = $1", c.ID); err != nil {
				return err
			}
		}
		return n.send(ctx, tx, message{To: "*", Kind: msgCall, Call: &now})
	})
	if err != nil {
		return CallRow{}, false, fmt.Errorf("change call %s: %w", c.ID, err)
	}
	return now, changed, nil
}

// Call returns call id as stored (found false: none).
func (n *Node) Call(ctx context.Context, id string) (CallRow, bool, error) {
	c, err := scanCall(n.dir.pool.QueryRow(ctx, "SELECT "+callCols+" FROM cluster_calls WHERE call_id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CallRow{}, false, nil
	}
	if err != nil {
		return CallRow{}, false, fmt.Errorf("call %s: %w", id, err)
	}
	return c, true, nil
}

// runCalls pushes the drop deadlines of the participants present here,
// ends the calls whose deadline passed, and every few renewals hands the
// whole table to the repair hook, until ctx ends.
func (n *Node) runCalls(ctx context.Context) {
	t := time.NewTicker(n.cfg.Renew)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := n.callHooks()
		if h.Changed == nil || n.dir.halted.Load() {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, n.cfg.Lease/2)
		var err error
		if h.Known == nil || h.Known() > 0 {
			err = n.callsSeen(rctx, h)
			if err == nil {
				err = n.sweepCalls(rctx, h)
			}
		}
		// The first round repairs too: a node that just started learns
		// the calls already under way.
		if ticks++; err == nil && (ticks-1)%repairEvery == 0 {
			err = n.repairCalls(rctx, h)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("calls: deadlines not kept this round", "err", err)
		}
	}
}

// callsSeen moves the drop deadlines of the participants with a session
// here DropGrace ahead.
func (n *Node) callsSeen(ctx context.Context, h CallHooks) error {
	if h.Present == nil {
		return nil
	}
	keys := h.Present()
	if len(keys) == 0 {
		return nil
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		id, _, _ := strings.Cut(k, "/")
		ids = append(ids, id)
	}
	_, err := n.dir.pool.Exec(ctx, `
UPDATE cluster_calls SET
	caller_until = CASE WHEN call_id || '/' || caller = ANY($1) THEN now() + make_interval(secs => $3) ELSE caller_until END,
	callee_until = CASE WHEN call_id || '/' || callee = ANY($1) THEN now() + make_interval(secs => $3) ELSE callee_until END
WHERE state = 'active' AND call_id = ANY($2)`, keys, ids, h.DropGrace.Seconds())
	if err != nil {
		return fmt.Errorf("call participants seen: %w", err)
	}
	return nil
}

// sweepCalls ends the calls whose deadline passed, tells every node, and
// hands them to the Changed hook as this node's.
func (n *Node) sweepCalls(ctx context.Context, h CallHooks) error {
	rows, err := n.dir.pool.Query(ctx, `
WITH over AS (
	UPDATE cluster_calls SET state = 'ended', ended = now(), version = version + 1,
		end_reason = CASE WHEN state = 'ringing' THEN $1::text ELSE $2::text END
	WHERE (state = 'ringing' AND ring_until < now())
		OR (state = 'active' AND least(caller_until, callee_until) < now())
	RETURNING `+callCols+`
), freed AS (
	DELETE FROM cluster_call_members m USING over o WHERE m.call_id = o.call_id
)
SELECT * FROM over`, h.Unanswered, h.Dropped)
	if err != nil {
		return fmt.Errorf("sweep calls: %w", err)
	}
	ended, err := collectCalls(rows)
	if err != nil {
		return fmt.Errorf("sweep calls: %w", err)
	}
	for _, c := range ended {
		n.log.Info("call ended by its deadline", "call", c.ID, "reason", c.EndReason)
		if err := n.send(ctx, n.dir.pool, message{To: "*", Kind: msgCall, Call: &c}); err != nil {
			n.log.Warn("calls: an ended call not announced (the others' repair finds it)", "call", c.ID, "err", err)
		}
		h.Changed(c, true)
	}
	return nil
}

// repairCalls drops ended calls kept long enough and hands every call
// left to the Repair hook.
func (n *Node) repairCalls(ctx context.Context, h CallHooks) error {
	if _, err := n.dir.pool.Exec(ctx, "DELETE FROM cluster_calls WHERE state = 'ended' AND ended < now() - make_interval(secs => $1)", endedKept.Seconds()); err != nil {
		return fmt.Errorf("drop ended calls: %w", err)
	}
	if h.Repair == nil {
		return nil
	}
	rows, err := n.dir.pool.Query(ctx, "SELECT "+callCols+" FROM cluster_calls")
	if err != nil {
		return fmt.Errorf("read calls: %w", err)
	}
	all, err := collectCalls(rows)
	if err != nil {
		return fmt.Errorf("read calls: %w", err)
	}
	h.Repair(all)
	return nil
}

// heardCall hands a call another node changed to the Changed hook.
func (n *Node) heardCall(c *CallRow) {
	if h := n.callHooks(); h.Changed != nil && c != nil {
		h.Changed(*c, false)
	}
}

// scanCall reads one row of callCols.
func scanCall(row pgx.Row) (CallRow, error) {
	var c CallRow
	var answered, ended *time.Time
	var codecs []byte
	if err := row.Scan(&c.ID, &c.Caller, &c.Callee, &c.State, &c.EndReason, &c.Created, &answered, &ended, &codecs, &c.Version); err != nil {
		return CallRow{}, err
	}
	if answered != nil {
		c.Answered = answered.UTC()
	}
	if ended != nil {
		c.Ended = ended.UTC()
	}
	c.Created = c.Created.UTC()
	if len(codecs) > 0 {
		if err := json.Unmarshal(codecs, &c.Codecs); err != nil {
			return CallRow{}, fmt.Errorf("codecs of call %s: %w", c.ID, err)
		}
		if len(c.Codecs) == 0 {
			c.Codecs = nil
		}
	}
	return c, nil
}

// collectCalls reads every row of callCols and closes rows.
func collectCalls(rows pgx.Rows) ([]CallRow, error) {
	defer rows.Close()
	var out []CallRow
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// codecsJSON is codecs as the codecs column holds them.
func codecsJSON(codecs map[string][]string) ([]byte, error) {
	if codecs == nil {
		codecs = map[string][]string{}
	}
	b, err := json.Marshal(codecs)
	if err != nil {
		return nil, fmt.Errorf("call codecs: %w", err)
	}
	return b, nil
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
