package callbridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
)

// Asking a person before someone watches them (auth.WatchAsk): the
// viewer's WHEP request waits while the person's pages show a prompt
// naming the viewer (a watch-ask event); the person allows or denies
// (POST /api/v1/watch-asks/{id}), and the request goes on or gets 403.
// No answer within ASK_TIMEOUT is a 409. An allowed viewer is not asked
// again while the person's camera stays on, nor for a minute after; a
// denied one gets 403 for a minute without a new prompt; one not
// answered, 409 for a minute.

// Bounds of asking.
const (
	// maxAsksPerUser bounds the prompts waiting on one person's pages.
	maxAsksPerUser = 8
	// maxWaitsPerAsk bounds a viewer's requests waiting for one answer.
	maxWaitsPerAsk = 4
	// askMemory is how long an answer (or its absence) is remembered
	// once the camera is off.
	askMemory = time.Minute
)

// ask is one prompt on a person's pages: viewer wants to watch user.
type ask struct {
	id     string
	user   string
	viewer string
	// display is the viewer's display name; until is when the prompt
	// times out. A page that opens its feed meanwhile gets both in hello.
	display string
	until   time.Time
	done    chan struct{} // closed once answered or given up
	v       verdict       // the answer, once done
	waits   int           // requests waiting for the answer
}

// verdict is a remembered answer of user about viewer.
type verdict struct {
	allow bool
	// answered is false when the user did not answer at all.
	answered bool
	// until is when it is forgotten; zero: while the camera is on.
	until time.Time
}

// consentKey names a viewer of a user.
type consentKey struct{ user, viewer string }

// Consent is the check a viewer's request for users/{u} passes before it
// waits for the stream: nil at once unless u asks each time; then the
// answer from u's page (or one remembered), 403 on a denial, 409 when u
// did not answer in time, 429 when too many prompts wait on u's pages.
// It returns when ctx ends too (the viewer gave up), with ctx's error.
func (b *Bridge) Consent(ctx context.Context, viewer *auth.Principal, streamName string) error {
	user, ok := strings.CutPrefix(streamName, usersPrefix)
	if !ok || viewer == nil || viewer.User == user {
		return nil
	}
	u, err := b.store.GetUser(ctx, user)
	if err != nil || u.Watch != auth.WatchAsk {
		return nil // the permission check and the source say the rest
	}
	b.mu.Lock()
	if !b.online[user] {
		b.mu.Unlock()
		return nil // the source says that they are offline
	}
	b.pruneVerdictsLocked("")
	key := consentKey{user, viewer.User}
	if v, ok := b.verdicts[key]; ok && (v.until.IsZero() || time.Now().Before(v.until)) {
		b.mu.Unlock()
		return verdictError(user, v)
	}
	a := b.asking[key]
	if a == nil {
		if b.asksOf(user) >= maxAsksPerUser {
			b.mu.Unlock()
			return httpx.Errorf(http.StatusTooManyRequests, "%s has too many requests to watch waiting; try again later", user).
				WithHeader("Retry-After", "30")
		}
		a = &ask{id: rand.Text()[:16], user: user, viewer: viewer.User, display: viewer.User,
			until: time.Now().Add(b.cfg.AskTimeout), done: make(chan struct{})}
		b.asking[key] = a
		b.asks[a.id] = a
		if vu, err := b.store.GetUser(ctx, viewer.User); err == nil {
			a.display = vu.DisplayName
		}
		b.emitLocked(user, "watch-ask", a.event())
		b.log.Info("asking a user whether someone may watch them", "user", user, "viewer", viewer.User)
		timer := time.AfterFunc(b.cfg.AskTimeout, func() { b.unanswered(a) })
		go func() {
			<-a.done
			timer.Stop()
		}()
	}
	if a.waits >= maxWaitsPerAsk {
		b.mu.Unlock()
		return httpx.Errorf(http.StatusTooManyRequests, "you already wait for %s's answer", user).WithHeader("Retry-After", "5")
	}
	a.waits++
	b.mu.Unlock()

	select {
	case <-a.done:
		return verdictError(user, a.v)
	case <-ctx.Done():
		b.mu.Lock()
		a.waits--
		if a.waits == 0 && b.asking[key] == a {
			// Nobody waits for the answer any more: take the prompt down.
			b.finishLocked(a, verdict{}, false)
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// event is the data of the watch-ask event announcing a.
func (a *ask) event() map[string]any {
	left := max(time.Until(a.until).Round(time.Second), 0)
	return map[string]any{"id": a.id, "viewer": a.viewer, "display_name": a.display, "expires_in": int(left / time.Second)}
}

// pendingAsksLocked lists the prompts waiting on user's pages, oldest
// first, as watch-ask events would carry them. b.mu must be held.
func (b *Bridge) pendingAsksLocked(user string) []map[string]any {
	var as []*ask
	for k, a := range b.asking {
		if k.user == user {
			as = append(as, a)
		}
	}
	slices.SortFunc(as, func(x, y *ask) int { return x.until.Compare(y.until) })
	out := make([]map[string]any, 0, len(as))
	for _, a := range as {
		out = append(out, a.event())
	}
	return out
}

// verdictError is what a viewer hears of a remembered answer.
func verdictError(user string, v verdict) error {
	switch {
	case v.allow:
		return nil
	case v.answered:
		return httpx.Errorf(http.StatusForbidden, "%s did not allow you to watch them", user)
	}
	return httpx.Errorf(http.StatusConflict, "%s did not answer your request to watch them", user).
		WithHeader("Retry-After", strconv.Itoa(int(askMemory/time.Second)))
}

// asksOf counts the prompts waiting on user's pages. b.mu must be held.
func (b *Bridge) asksOf(user string) int {
	n := 0
	for k := range b.asking {
		if k.user == user {
			n++
		}
	}
	return n
}

// unanswered ends a prompt nobody answered in time.
func (b *Bridge) unanswered(a *ask) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.asks[a.id] == a {
		b.log.Info("a user did not answer whether someone may watch them", "user", a.user, "viewer", a.viewer)
		b.finishLocked(a, verdict{until: time.Now().Add(askMemory)}, true)
	}
}

// finishLocked takes a prompt down from the user's pages and, if
// remember, keeps v for the viewer's requests. b.mu must be held.
func (b *Bridge) finishLocked(a *ask, v verdict, remember bool) {
	key := consentKey{a.user, a.viewer}
	delete(b.asks, a.id)
	if b.asking[key] == a {
		delete(b.asking, key)
	}
	if remember {
		b.verdicts[key] = v
	}
	a.v = v
	close(a.done)
	b.emitLocked(a.user, "watch-ask-end", map[string]any{"id": a.id, "viewer": a.viewer, "allowed": v.allow, "answered": v.answered})
}

// errNoSuchAsk is an answer to a prompt that is not (or no longer) up.
var errNoSuchAsk = errors.New("no such request to watch (it may have been answered or given up)")

// Answer is user's answer to the prompt id: allow or deny the viewer.
func (b *Bridge) Answer(user, id string, allow bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.asks[id]
	if a == nil || a.user != user {
		return errNoSuchAsk
	}
	v := verdict{allow: allow, answered: true}
	if !allow {
		v.until = time.Now().Add(askMemory)
	}
	b.log.Info("a user answered whether someone may watch them", "user", user, "viewer", a.viewer, "allowed", allow)
	b.finishLocked(a, v, true)
	return nil
}

// cameraOffLocked starts the clock on what user allowed while their
// camera was on. b.mu must be held.
func (b *Bridge) cameraOffLocked(user string) {
	until := time.Now().Add(askMemory)
	for k, v := range b.verdicts {
		if k.user == user && v.until.IsZero() {
			v.until = until
			b.verdicts[k] = v
		}
	}
}

// pruneVerdictsLocked drops what user answered (none if user is "") and
// the expired answers of anyone. b.mu must be held.
func (b *Bridge) pruneVerdictsLocked(user string) {
	now := time.Now()
	for k, v := range b.verdicts {
		if k.user == user || (!v.until.IsZero() && now.After(v.until)) {
			delete(b.verdicts, k)
		}
	}
}

// ChoicesChanged forgets what user answered to requests to watch them:
// their choice about being watched changed.
func (b *Bridge) ChoicesChanged(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pruneVerdictsLocked(user)
}

// AnswerAsk is POST /api/v1/watch-asks/{id}: {"allow": true|false}, by
// the person asked.
func (a *API) AnswerAsk(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	const usage = `send JSON: {"allow": true} or {"allow": false}`
	if !httpx.MediaTypeIs(r, "application/json") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, usage)
	}
	body, err := httpx.ReadBody(w, r, maxCallBody)
	if err != nil {
		return err
	}
	var req struct {
		Allow *bool `json:"allow"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Allow == nil {
		return httpx.Errorf(http.StatusBadRequest, usage)
	}
	if err := a.b.Answer(p.User, a.param(r, "id"), *req.Allow); err != nil {
		return httpx.Errorf(http.StatusNotFound, "%v", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
