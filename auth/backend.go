package auth

import (
	"context"
	"log/slog"
	"time"
)

// backend is one database dialect behind the Store: it owns the
// connections, the schema migrations and the transactions. Everything
// the store decides (validation, password hashing, the last-admin rule,
// the token cache) is written once, in the Store, on top of queries; the
// SQL of each dialect lives next to its backend (sqlite*.go,
// postgres*.go).
type backend interface {
	// kind names the dialect: "sqlite" or "postgres".
	kind() string
	// migrate brings the schema up to the last of ms (the dialect's
	// migrations, in order), safely when several processes open the same
	// database at once.
	migrate(ctx context.Context, ms []migration, now time.Time, log *slog.Logger) error
	// read returns the statements for reads outside a transaction.
	read() queries
	// write runs fn in one transaction that sees and makes changes as if
	// it ran alone (a serializable transaction), and commits it. A
	// transaction the database aborted as a serialization failure is run
	// again, a bounded number of times, so fn must be safe to repeat.
	write(ctx context.Context, fn func(q queries) error) error
	// autocommit runs fn's statements each in a transaction of its own,
	// for changes of one statement that need no isolation from others
	// (pruning expired tokens, noting when a user was last seen).
	autocommit(ctx context.Context, fn func(q queries) error) error
	// snapshot runs fn on one consistent, read-only view of the database.
	snapshot(ctx context.Context, fn func(q queries) error) error
	// ping checks the database answers a query.
	ping(ctx context.Context) error
	// close releases the connections.
	close() error
}

// queries are the statements of the store in one dialect, bound either to
// the connection pool or to a write transaction. Names are compared
// without regard to ASCII case for users (and token owners, call
// participants) and exactly for devices and streams; lookups by a name
// that is not a valid name find nothing. Not-found results are
// ErrNotFound, taken names and ids ErrExists, both unwrapped: the Store
// adds what was looked for.
type queries interface {
	userQueries
	tokenQueries
	deviceQueries
	copyQueries

	// streamPublic reports the public flag of a live stream (false when
	// it has no settings).
	streamPublic(ctx context.Context, name string) (bool, error)
	// setStreamPublic stores the flag (false removes the settings).
	setStreamPublic(ctx context.Context, name string, public bool, at time.Time) error

	// insertCall adds a call record (ErrExists if its id is taken).
	insertCall(ctx context.Context, c CallRecord) error
	// calls lists the calls of user ("" for all), newest first.
	calls(ctx context.Context, user string, limit int) ([]CallRecord, error)

	// revoked tells the other processes on the database, once the
	// transaction commits, of a change that may end access, so that they
	// drop what they cached and re-check what runs. A no-op where no
	// process can hear (SQLite).
	revoked(ctx context.Context, r Revocation) error
}

// notifier is a backend whose processes hear each other's revocations.
type notifier interface {
	// listen calls heard for each revocation another process makes,
	// until ctx ends, and up when it starts or stops listening: while
	// it is not listening, revocations may go unheard.
	listen(ctx context.Context, heard func(Revocation), up func(bool))
}

// userQueries are the statements on accounts.
type userQueries interface {
	// insertUser adds an account (ErrExists if the name is taken in any
	// case).
	insertUser(ctx context.Context, u User, hash string) error
	// user returns an account by name.
	user(ctx context.Context, name string) (User, error)
	// users lists every account, ordered by name without regard to case.
	users(ctx context.Context) ([]User, error)
	// countUsers counts the accounts.
	countUsers(ctx context.Context) (int, error)
	// countOtherAdmins counts the enabled admins not called name.
	countOtherAdmins(ctx context.Context, name string) (int, error)
	// saveUser writes u's display name, role, disabled flag and
	// preferences to the account u.Name.
	saveUser(ctx context.Context, u User) error
	// setPasswordHash replaces an account's hash (ErrNotFound if none).
	setPasswordHash(ctx context.Context, name, hash string) error
	// deleteUser removes an account, its tokens with it.
	deleteUser(ctx context.Context, name string) error
	// touchLastSeen sets last seen to now if it is older than staleBefore.
	touchLastSeen(ctx context.Context, name string, now, staleBefore time.Time) error
	// credentials returns what a sign-in checks.
	credentials(ctx context.Context, name string) (credentials, error)
	// signedIn records a sign-in of the account (canonical name) at a
	// time, and its upgraded hash unless newHash is "".
	signedIn(ctx context.Context, name string, at time.Time, newHash string) error
}

// credentials are what Login checks of an account.
type credentials struct {
	name     string // the canonical spelling
	hash     string
	disabled bool
}

// tokenQueries are the statements on sessions and publish keys.
type tokenQueries interface {
	// insertToken adds a token with the SHA-256 of its secret.
	insertToken(ctx context.Context, t Token, hash []byte) error
	// token returns a token by id, expired or not.
	token(ctx context.Context, id string) (Token, error)
	// tokens lists the tokens of a kind of owner ("" for all) that have
	// not expired at now, newest first.
	tokens(ctx context.Context, kind PrincipalKind, owner string, now time.Time) ([]Token, error)
	// deleteToken removes a token by id and returns its owner.
	deleteToken(ctx context.Context, id string) (owner string, err error)
	// deleteSession removes the session with this hash and returns its
	// owner and id.
	deleteSession(ctx context.Context, hash []byte) (owner, id string, err error)
	// deleteSessions removes every session of owner.
	deleteSessions(ctx context.Context, owner string) (int64, error)
	// deleteExpired removes the tokens expired at now.
	deleteExpired(ctx context.Context, now time.Time) error
	// lookup returns the token with this hash and its owner's role and
	// disabled flag, what Authenticate needs (ErrNotFound if none).
	lookup(ctx context.Context, hash []byte) (tokenOwner, error)
	// liveSessions returns those of ids that are sign-in sessions not
	// expired at now whose owner is enabled, in one statement.
	liveSessions(ctx context.Context, ids []string, now time.Time) ([]string, error)
}

// tokenOwner is a token as Authenticate reads it.
type tokenOwner struct {
	id, owner      string
	kind           PrincipalKind
	action, stream string
	expires        time.Time
	role           Role
	disabled       bool
}

// deviceQueries are the statements on the camera catalogue.
type deviceQueries interface {
	// device returns a camera by name.
	device(ctx context.Context, name string) (Device, error)
	// devices lists the cameras by name.
	devices(ctx context.Context) ([]Device, error)
	// putDevice adds or replaces a camera.
	putDevice(ctx context.Context, d Device) error
	// deleteDevice removes a camera.
	deleteDevice(ctx context.Context, name string) error
}

// copyQueries are the statements of a copy between stores (see Copy):
// every row out of one, password and token hashes included, and into
// another.
type copyQueries interface {
	// counts counts the rows of each kind.
	counts(ctx context.Context) (CopyCounts, error)
	// dump reads every row.
	dump(ctx context.Context) (*dump, error)
	// load adds the rows of d to tables that hold none of them.
	load(ctx context.Context, d *dump) error
	// wipe deletes every row (the schema stays).
	wipe(ctx context.Context) error
}
