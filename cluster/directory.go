package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wishcast/wishcast/stream"
)

// Kind is what a node holds a stream as.
type Kind string

// The kinds of directory entries.
const (
	// KindPublisher is a stream published to the node (WHIP).
	KindPublisher Kind = "publisher"
	// KindCamera is a camera the node dials (RTSP).
	KindCamera Kind = "camera"
)

// Holder is the node that holds a stream.
type Holder struct {
	Node string
	URL  string
	Kind Kind
}

// HeldError is returned by Claim for a stream another node holds; it
// wraps stream.ErrPublisherExists, so a WHIP for it gets the same 409 as
// on one node.
type HeldError struct{ Holder Holder }

// Error names the node that holds the stream.
func (e *HeldError) Error() string {
	return fmt.Sprintf("stream is held by node %s", e.Holder.Node)
}

// Unwrap makes a HeldError match stream.ErrPublisherExists.
func (e *HeldError) Unwrap() error { return stream.ErrPublisherExists }

// repairEvery is how many renewals pass between two full reads of the
// other nodes' presence, which repair what lost messages and dead nodes
// left wrong.
const repairEvery = 4

// schemaLock is the advisory lock key under which nodes create the
// cluster tables (another key than the account store's migrations).
const schemaLock = 0x77636c7573746572 // "wcluster"

// schema is the stream directory and the list of nodes.
const schema = `
CREATE TABLE IF NOT EXISTS cluster_nodes (
	node_id text PRIMARY KEY,
	node_url text NOT NULL,
	lease_until timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_streams (
	stream text PRIMARY KEY,
	node_id text NOT NULL,
	node_url text NOT NULL,
	kind text NOT NULL CHECK (kind IN ('publisher', 'camera')),
	lease_until timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS cluster_streams_node ON cluster_streams (node_id);
CREATE TABLE IF NOT EXISTS cluster_presence (
	user_name text NOT NULL,
	node_id text NOT NULL,
	PRIMARY KEY (user_name, node_id)
);
`

// Directory is the stream directory in PostgreSQL: which node holds each
// live stream (and each camera being pulled), under leases this node
// renews every Config.Renew while it runs.
type Directory struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	obs  *Metrics

	// halted stops every write: a test's way to make the node vanish as
	// a killed one does.
	halted atomic.Bool

	// online lists the users with the app open here (nil: none); only
	// Run's goroutine touches lastOnline and synced.
	online     func() []string
	lastOnline []string
	synced     bool
	// presenceChanged hears who came online here and who left, once
	// written; presenceRepair gets the whole presence of the other nodes
	// every repairEvery renewals. Both run on Run's goroutine.
	presenceChanged func(ctx context.Context, on, off []string)
	presenceRepair  func(map[string][]string)
	// nodesRepair gets the nodes whose lease runs every repairEvery
	// renewals, on Run's goroutine.
	nodesRepair func(live map[string]bool)
	// watching lists who watches whom here (person → viewers; nil:
	// nobody); only Run's goroutine touches lastWatching and
	// watchingSynced. watchersChanged hears the people whose viewers
	// here changed, once written; watchersRepair gets who watches whom
	// on the other nodes with each presence repair. Both run on Run's
	// goroutine.
	watching        func() map[string][]string
	lastWatching    map[string][]string
	watchingSynced  bool
	watchersChanged func(ctx context.Context, changed map[string][]string)
	watchersRepair  func(map[string]map[string][]string)

	// claimMu serialises claims and the counting of releases, so a
	// stream's row and its local count change together.
	claimMu sync.Mutex
	// holders are the holders of the watched streams at the last renewal.
	holders atomic.Pointer[holders]

	// mu guards the following fields.
	mu      sync.Mutex
	held    map[string]int           // local claims by stream
	leaving map[string]chan struct{} // entries being removed, closed when done
	watched map[string]int           // streams relays follow, by relay count
}

// OpenDirectory connects to the PostgreSQL at databaseURL, creates the
// directory's tables if needed and drops what an earlier run of this node
// left there.
func OpenDirectory(ctx context.Context, cfg Config, databaseURL string, m *Metrics, log *slog.Logger) (*Directory, error) {
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("stream directory: %w", err)
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("stream directory: %w", err)
	}
	d := &Directory{cfg: cfg, pool: pool, log: log, obs: m, held: map[string]int{}, leaving: map[string]chan struct{}{}, watched: map[string]int{}}
	if err := d.setup(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// setup creates the tables and announces the node.
func (d *Directory) setup(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, schema+callsSchema+watchersSchema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM cluster_watchers WHERE node_id = $1", d.cfg.NodeID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM cluster_streams WHERE node_id = $1", d.cfg.NodeID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM cluster_presence WHERE node_id = $1", d.cfg.NodeID)
		return err
	})
	if err != nil {
		return fmt.Errorf("stream directory: create tables: %w", err)
	}
	return d.renew(ctx)
}

// interval is the lease as seconds for make_interval.
func (d *Directory) interval() float64 { return d.cfg.Lease.Seconds() }

// renew extends the node's lease and those of all its streams.
func (d *Directory) renew(ctx context.Context) error {
	if d.halted.Load() {
		return nil
	}
	_, err := d.pool.Exec(ctx, `
WITH n AS (
	INSERT INTO cluster_nodes (node_id, node_url, lease_until) VALUES ($1, $2, now() + make_interval(secs => $3))
	ON CONFLICT (node_id) DO UPDATE SET node_url = EXCLUDED.node_url, lease_until = EXCLUDED.lease_until
)
UPDATE cluster_streams SET lease_until = now() + make_interval(secs => $3) WHERE node_id = $1`,
		d.cfg.NodeID, d.cfg.NodeURL, d.interval())
	if err != nil {
		return fmt.Errorf("stream directory: renew leases: %w", err)
	}
	return nil
}

// Run renews the leases every Config.Renew until ctx ends, then removes
// the node's entries (a node that stops cleanly need not wait for its
// leases to run out).
func (d *Directory) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Renew)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			d.leave()
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, d.cfg.Lease/2)
		ticks++
		if err := d.renew(rctx); err != nil {
			cancel()
			if ctx.Err() == nil {
				d.obs.leaseFailed()
				d.log.Warn("lease not renewed: this node's streams leave the directory if this lasts", "err", err, "lease", d.cfg.Lease)
			}
			continue
		}
		// The lease is renewed; the bookkeeping steps are independent of
		// one another, so one that fails neither holds up the others nor
		// counts as a lease failure.
		d.bookkeep(rctx, ticks)
		cancel()
	}
}

// bookkeep runs a renewal's steps after the lease: presence, viewers
// and holders each renewal, the repairs every repairEvery renewals. A
// step that fails is logged and tried again at the next renewal.
func (d *Directory) bookkeep(ctx context.Context, ticks int) {
	failed := func(step string, err error) {
		if err != nil && ctx.Err() == nil {
			d.log.Warn("cluster bookkeeping not done this renewal (tried again at the next)", "step", step, "err", err)
		}
	}
	failed("presence", d.syncPresence(ctx))
	failed("watchers", d.syncWatchers(ctx))
	failed("holders", d.refreshHolders(ctx))
	if ticks%repairEvery != 0 {
		return
	}
	if d.presenceRepair != nil {
		all, watched, err := d.allPresence(ctx)
		if err == nil {
			d.presenceRepair(all)
			if d.watchersRepair != nil {
				d.watchersRepair(watched)
			}
		}
		failed("presence repair", err)
	}
	if d.nodesRepair != nil {
		live, err := d.liveNodes(ctx)
		if err == nil {
			d.nodesRepair(live)
		}
		failed("nodes repair", err)
	}
}

// leave removes the node and its streams from the directory.
func (d *Directory) leave() {
	if d.halted.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := d.pool.Exec(ctx, "DELETE FROM cluster_streams WHERE node_id = $1", d.cfg.NodeID); err != nil {
		d.log.Warn("leave the stream directory", "err", err)
	}
	if _, err := d.pool.Exec(ctx, "DELETE FROM cluster_presence WHERE node_id = $1", d.cfg.NodeID); err != nil {
		d.log.Warn("leave the presence list", "err", err)
	}
	if _, err := d.pool.Exec(ctx, "DELETE FROM cluster_watchers WHERE node_id = $1", d.cfg.NodeID); err != nil {
		d.log.Warn("leave the watchers list", "err", err)
	}
	if _, err := d.pool.Exec(ctx, "DELETE FROM cluster_nodes WHERE node_id = $1", d.cfg.NodeID); err != nil {
		d.log.Warn("leave the node list", "err", err)
	}
}

// Halt stops every write to the directory, as if the node had died.
func (d *Directory) Halt() { d.halted.Store(true) }

// Close releases the database connections.
func (d *Directory) Close() { d.pool.Close() }

// claimTimeout bounds one claim's database work, so a stalled database
// fails a publish or a camera quickly instead of holding claimMu.
const claimTimeout = 2 * time.Second

// Claim records that this node holds name as kind. It fails with a
// *HeldError while another node's lease on it runs. Claims of one name on
// this node are counted: the entry goes when the last one is released.
// Release is safe to call more than once.
func (d *Directory) Claim(ctx context.Context, name string, kind Kind) (release func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	var n int
	for {
		d.claimMu.Lock()
		d.mu.Lock()
		var leaving chan struct{}
		n, leaving = d.held[name], d.leaving[name]
		d.mu.Unlock()
		if n > 0 || leaving == nil {
			break
		}
		// The last claim's entry is being removed: claim after that, or
		// the removal would take the new entry with it.
		d.claimMu.Unlock()
		select {
		case <-leaving:
		case <-ctx.Done():
			return nil, fmt.Errorf("stream directory: claim %s: %w: %w", name, stream.ErrSourceUnavailable, ctx.Err())
		}
	}
	defer d.claimMu.Unlock()
	if n == 0 && !d.halted.Load() {
		var got string
		err := d.pool.QueryRow(ctx, `
INSERT INTO cluster_streams (stream, node_id, node_url, kind, lease_until)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
ON CONFLICT (stream) DO UPDATE SET node_id = EXCLUDED.node_id, node_url = EXCLUDED.node_url,
	kind = EXCLUDED.kind, lease_until = EXCLUDED.lease_until
WHERE cluster_streams.lease_until < now() OR cluster_streams.node_id = EXCLUDED.node_id
RETURNING node_id`, name, d.cfg.NodeID, d.cfg.NodeURL, string(kind), d.interval()).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			h, ok, lerr := d.Lookup(ctx, name)
			if lerr != nil || !ok {
				h = Holder{Node: "another node"}
			}
			return nil, &HeldError{Holder: h}
		}
		if err != nil {
			return nil, fmt.Errorf("stream directory: claim %s: %w: %w", name, stream.ErrSourceUnavailable, err)
		}
	}
	d.mu.Lock()
	d.held[name]++
	d.mu.Unlock()
	if n == 0 {
		d.obs.held(1) // one more stream held, however many claims
	}
	var once sync.Once
	return func() { once.Do(func() { d.release(name) }) }, nil
}

// release drops one claim of name, and the entry with the last one. The
// entry is removed outside claimMu (other streams' claims go on
// meanwhile); a new claim of name waits for the removal.
func (d *Directory) release(name string) {
	d.claimMu.Lock()
	d.mu.Lock()
	d.held[name]--
	last := d.held[name] <= 0
	var done chan struct{}
	if last {
		delete(d.held, name)
		d.obs.held(-1)
		if !d.halted.Load() {
			done = make(chan struct{})
			d.leaving[name] = done
		}
	}
	d.mu.Unlock()
	d.claimMu.Unlock()
	if done == nil {
		return
	}
	defer func() {
		d.mu.Lock()
		delete(d.leaving, name)
		d.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Lease)
	defer cancel()
	if _, err := d.pool.Exec(ctx, "DELETE FROM cluster_streams WHERE stream = $1 AND node_id = $2", name, d.cfg.NodeID); err != nil {
		d.log.Warn("stream directory: remove entry (its lease runs out instead)", "stream", name, "err", err)
	}
}

// Lookup returns the node whose lease on name runs now, if any (this
// node included).
func (d *Directory) Lookup(ctx context.Context, name string) (Holder, bool, error) {
	var h Holder
	var kind string
	err := d.pool.QueryRow(ctx, "SELECT node_id, node_url, kind FROM cluster_streams WHERE stream = $1 AND lease_until > now()", name).
		Scan(&h.Node, &h.URL, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("stream directory: look up %s: %w", name, err)
	}
	h.Kind = Kind(kind)
	return h, true, nil
}

// NodeURL returns the URL of node id while its lease runs.
func (d *Directory) NodeURL(ctx context.Context, id string) (string, bool, error) {
	var u string
	err := d.pool.QueryRow(ctx, "SELECT node_url FROM cluster_nodes WHERE node_id = $1 AND lease_until > now()", id).Scan(&u)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("node list: look up %s: %w", id, err)
	}
	return u, true, nil
}

// liveNodes returns the nodes whose lease runs (this one included).
func (d *Directory) liveNodes(ctx context.Context) (map[string]bool, error) {
	rows, err := d.pool.Query(ctx, "SELECT node_id FROM cluster_nodes WHERE lease_until > now()")
	if err != nil {
		return nil, fmt.Errorf("node list: %w", err)
	}
	defer rows.Close()
	live := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("node list: %w", err)
		}
		live[id] = true
	}
	return live, rows.Err()
}

// Entries lists the live entries of the directory, by stream name.
func (d *Directory) Entries(ctx context.Context) (map[string]Holder, error) {
	rows, err := d.pool.Query(ctx, "SELECT stream, node_id, node_url, kind FROM cluster_streams WHERE lease_until > now()")
	if err != nil {
		return nil, fmt.Errorf("stream directory: list: %w", err)
	}
	defer rows.Close()
	out := map[string]Holder{}
	for rows.Next() {
		var name, kind string
		var h Holder
		if err := rows.Scan(&name, &h.Node, &h.URL, &kind); err != nil {
			return nil, fmt.Errorf("stream directory: list: %w", err)
		}
		h.Kind = Kind(kind)
		out[name] = h
	}
	return out, rows.Err()
}
