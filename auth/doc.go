// Package auth owns wishcast's accounts, tokens and permission decisions,
// and the store that keeps them.
//
// A [Store] holds users, sign-in sessions, publish keys, the RTSP device
// catalogue, stream settings and call history: in one SQLite file in the
// data directory (see [Open]), the embedded default, or in a PostgreSQL
// database that several wishcast processes share (see [OpenURL]). Both
// are backends of one contract: the Store makes every decision, each
// backend keeps its dialect's SQL, migrations and transactions (SQLite's
// single writer, PostgreSQL's serializable transactions, run again when
// PostgreSQL aborts one), and the same tests run against both.
//
// The first start with an empty store creates an admin account
// (see [Store.Bootstrap]). [Store.Login] turns a name and password into a
// session token, [Store.CreateToken] makes scoped publish keys for OBS or
// FFmpeg, and [Store.Authenticate] turns either kind of token back into a
// [Principal].
//
// [Authorize] is the one permission decision every endpoint asks: may this
// principal publish or view this stream? It is a pure function of the
// principal, the stream name and the little the store does not know about
// the stream ([StreamInfo]). [CanManageSession] answers who may PATCH or
// DELETE a WebRTC session.
//
// The package knows nothing about media or HTTP; handlers map its errors to
// status codes: [ErrUnauthenticated] and [ErrInvalidToken] to 401,
// [ErrForbidden] to 403, [ErrRateLimited] to 429 with Retry-After from
// [RateLimitError], [ErrBadCredentials] to 401, [ErrNotFound] to 404,
// [ErrExists] to 409 and [ErrInvalid] to 400.
package auth
