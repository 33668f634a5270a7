package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// contents is what a store shows through its API, to compare two stores.
type contents struct {
	Users    []User
	Keys     []Token
	Sessions []Session
	Devices  []Device
	Calls    []CallRecord
	Public   []string
}

// contentsOf reads a store's contents.
func contentsOf(t *testing.T, s *Store) contents {
	t.Helper()
	ctx := context.Background()
	var c contents
	var err error
	if c.Users, err = s.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Keys, err = s.ListTokens(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if c.Sessions, err = s.ListSessions(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if c.Devices, err = s.ListDevices(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Calls, err = s.ListCalls(ctx, "", 1000); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"live/open", "live/closed", "live/never"} {
		if pub, err := s.StreamPublic(ctx, name); err != nil {
			t.Fatal(err)
		} else if pub {
			c.Public = append(c.Public, name)
		}
	}
	return c
}

// populate fills a store with some of everything and returns the tokens
// it made (a session and two keys, by name).
func populate(t *testing.T, s *Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	toks := map[string]string{}
	mustUser(t, s, "Alice", RoleAdmin)
	mustUser(t, s, "bob", RoleUser)
	mustUser(t, s, "carol", RoleUser)
	yes := true
	if _, err := s.UpdateUser(ctx, "carol", UserUpdate{Disabled: &yes, Watch: new(WatchChosen), Answer: new(AnswerNobody),
		Chosen: &[]string{"bob", "alice"}, NoticeSeen: &yes}); err != nil {
		t.Fatal(err)
	}
	toks["bob-session"] = mustLogin(t, s, "bob")
	var err error
	if _, toks["bob-key"], err = s.CreateToken(ctx, "bob", Scope{Action: ActionPublish, Stream: "live/bob/"}, "OBS", 0); err != nil {
		t.Fatal(err)
	}
	if _, toks["admin-key"], err = s.CreateToken(ctx, "admin", Scope{Action: ActionView, Stream: "live/open"}, "", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Device{
		{Name: "gate", URL: "rtsp://u:p@10.0.0.7/s", Transport: "tcp", AlwaysOn: true},
		{Name: "Door", URL: "rtsps://10.0.0.8/x", Restricted: true, Viewers: []string{"bob", "Alice"}, Disabled: true},
	} {
		if _, err := s.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetStreamPublic(ctx, "live/open", true); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
	for i, c := range []CallRecord{
		{ID: "c1", Caller: "Alice", Callee: "bob", Started: t0, Ended: t0.Add(time.Minute), EndReason: "hangup"},
		{ID: "c2", Caller: "bob", Callee: "gone", Started: t0.Add(time.Hour), EndReason: "declined"},
	} {
		if err := s.AddCallRecord(ctx, c); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	return toks
}

// checkCopy checks the copy of a populated store works as the original
// did: the same contents, old passwords and tokens.
func checkCopy(t *testing.T, want contents, toks map[string]string, s *Store) {
	t.Helper()
	ctx := context.Background()
	if got := contentsOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("copied store differs:\n got %+v\nwant %+v", got, want)
	}
	for _, name := range []string{"Alice", "bob"} {
		if _, _, err := s.Login(ctx, name, name+"-password", ""); err != nil {
			t.Errorf("%s's old password: %v", name, err)
		}
	}
	if _, _, err := s.Login(ctx, "carol", "carol-password", ""); !errors.Is(err, ErrUserDisabled) {
		t.Errorf("disabled carol: %v", err)
	}
	for name, tok := range toks {
		if _, err := s.Authenticate(ctx, tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if p, _ := s.Authenticate(ctx, toks["bob-key"]); Authorize(&p, ActionPublish, "live/bob/cam", StreamInfo{}) != nil {
		t.Errorf("bob's key lost its scope: %+v", p)
	}
}

// A populated SQLite store copied to PostgreSQL, and that copy back to a
// new SQLite file: everything arrives, hashes included, so old passwords
// and tokens work.
func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	lite := "sqlite://" + filepath.Join(t.TempDir(), DefaultFileName)
	src, err := OpenURL(ctx, lite, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	toks := populate(t, src)
	want := contentsOf(t, src)
	_ = src.Close()

	pgURL := pg.Database(t)
	counts, err := Copy(ctx, lite, pgURL, testConfig(), CopyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wantCounts := (CopyCounts{Users: 4, Sessions: 1, Keys: 2, Devices: 2, StreamSettings: 1, Calls: 2}); counts != wantCounts {
		t.Errorf("copied %s, want %s", counts, wantCounts)
	}
	dst, err := OpenURL(ctx, pgURL, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Bootstrap().Created {
		t.Error("opening the copy created a first admin")
	}
	checkCopy(t, want, toks, dst)
	_ = dst.Close()

	back := "sqlite://" + filepath.Join(t.TempDir(), "back.db")
	if _, err := Copy(ctx, pgURL, back, testConfig(), CopyOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	again, err := OpenURL(ctx, back, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	checkCopy(t, contentsOf(t, dst2(t, pgURL)), toks, again)
}

// dst2 opens a store again for reading, closed with the test.
func dst2(t *testing.T, addr string) *Store {
	t.Helper()
	s, err := OpenURL(context.Background(), addr, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A target that holds data (here the admin of a first start) is refused
// unless told to replace it; replacing it leaves exactly the source.
func TestCopyRefusesNonEmptyTarget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		lite := "sqlite://" + filepath.Join(t.TempDir(), "source.db")
		src, err := OpenURL(ctx, lite, testConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		toks := populate(t, src)
		want := contentsOf(t, src)
		_ = src.Close()

		target := db.open(t) // a first start: an admin, and a user of the target's own
		mustUser(t, target, "zed", RoleUser)
		_ = target.Close()
		to := "sqlite://" + db.loc.Path
		if db.loc.IsPostgres() {
			to = db.loc.URL
		}
		if _, err := Copy(ctx, lite, to, testConfig(), CopyOptions{}, nil); !errors.Is(err, ErrTargetNotEmpty) {
			t.Fatalf("copy into a store with data: %v", err)
		}
		if _, err := Copy(ctx, lite, to, testConfig(), CopyOptions{Replace: true}, nil); err != nil {
			t.Fatal(err)
		}
		checkCopy(t, want, toks, db.open(t))
		if _, err := Copy(ctx, lite, lite, testConfig(), CopyOptions{Replace: true}, nil); err == nil {
			t.Error("a copy onto itself was accepted")
		}
	})
}

// BenchmarkCopy10kUsers measures a copy of 10,000 accounts, each with a
// sign-in session and a publish key, from SQLite to PostgreSQL (the
// durable server: fsync as in production).
func BenchmarkCopy10kUsers(b *testing.B) {
	ctx := context.Background()
	lite := "sqlite://" + filepath.Join(b.TempDir(), DefaultFileName)
	src, err := OpenURL(ctx, lite, testConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	d := &dump{}
	hash, _ := src.hasher.hash(ctx, "the same password for all")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 10_000 {
		name := fmt.Sprintf("user%05d", i)
		d.users = append(d.users, userRow{User: User{Name: name, DisplayName: name, Role: RoleUser, Created: now, Watch: WatchEveryone, Answer: AnswerEveryone}, hash: hash})
		for _, kind := range []PrincipalKind{PrincipalSession, PrincipalKey} {
			_, sum := newSecret(KeyPrefix)
			t := Token{ID: newID(), Kind: kind, Owner: name, Created: now}
			if kind == PrincipalKey {
				t.Scope = Scope{Action: ActionPublish, Stream: "users/" + name}
			}
			d.tokens = append(d.tokens, tokenRow{Token: t, hash: sum[:]})
		}
	}
	if err := src.write(ctx, "populate", func(q queries) error { return q.load(ctx, d) }); err != nil {
		b.Fatal(err)
	}
	_ = src.Close()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		to := pgDurable.Database(b)
		b.StartTimer()
		counts, err := Copy(ctx, lite, to, testConfig(), CopyOptions{}, nil)
		if err != nil || counts.Users != 10_001 || counts.Sessions != 10_000 {
			b.Fatalf("%s, %v", counts, err)
		}
	}
}
