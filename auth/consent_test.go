package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// A user's choices about being watched and called: the defaults, the
// list of chosen people spelled as the accounts are (without the user,
// without duplicates), and refusals that change nothing.
func TestWatchAndAnswerChoices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		alice := mustUser(t, s, "alice", RoleUser)
		mustUser(t, s, "Bob", RoleUser)
		mustUser(t, s, "carol", RoleUser)
		if alice.Watch != WatchEveryone || alice.Answer != AnswerEveryone || alice.Chosen != nil || alice.NoticeSeen || alice.ChangePassword {
			t.Fatalf("a new user's choices: %+v", alice)
		}
		if !alice.MayWatch("carol") || !alice.AnswersAtOnce("carol") {
			t.Fatal("by default everyone may watch and is answered at once")
		}

		u, err := s.UpdateUser(ctx, "alice", UserUpdate{Watch: new(WatchChosen), Answer: new(AnswerChosen),
			Chosen: &[]string{"BOB", "bob", "alice", "Carol"}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Chosen, []string{"Bob", "carol"}) {
			t.Errorf("chosen = %q, want [Bob carol]", u.Chosen)
		}
		got, err := s.GetUser(ctx, "alice")
		if err != nil || got.Watch != WatchChosen || got.Answer != AnswerChosen || !slices.Equal(got.Chosen, u.Chosen) {
			t.Fatalf("stored choices: %+v, %v", got, err)
		}
		if !got.MayWatch("Bob") || got.MayWatch("bob") || got.MayWatch("dave") || !got.AnswersAtOnce("carol") || got.AnswersAtOnce("dave") {
			t.Errorf("MayWatch/AnswersAtOnce disagree with the list %q", got.Chosen)
		}

		// Bad input is refused whole.
		for _, up := range []UserUpdate{
			{Watch: new(WatchPolicy("maybe"))},
			{Answer: new(AnswerPolicy("ask"))},
			{Chosen: &[]string{"bob", "nobody-by-that-name"}},
			{Chosen: &[]string{"../etc"}},
			{Chosen: new(make([]string, MaxChosen+1))},
		} {
			if _, err := s.UpdateUser(ctx, "alice", up); !errors.Is(err, ErrInvalid) {
				t.Errorf("UpdateUser(%+v) = %v, want ErrInvalid", up, err)
			}
		}
		if again, _ := s.GetUser(ctx, "alice"); !slices.Equal(again.Chosen, u.Chosen) || again.Watch != WatchChosen {
			t.Errorf("a refused update changed the user: %+v", again)
		}

		// Emptying the list and asking each time.
		u, err = s.UpdateUser(ctx, "alice", UserUpdate{Watch: new(WatchAsk), Chosen: &[]string{}, NoticeSeen: new(true)})
		if err != nil || u.Watch != WatchAsk || len(u.Chosen) != 0 || !u.NoticeSeen {
			t.Fatalf("ask, no one chosen: %+v, %v", u, err)
		}
		if got, _ := s.GetUser(ctx, "alice"); len(got.Chosen) != 0 || !got.NoticeSeen {
			t.Errorf("after emptying: %+v", got)
		}
	})
}

// The first admin's generated password is to be changed: the account
// says so until its password is set.
func TestGeneratedPasswordAsksForChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		cfg := testConfig()
		cfg.AdminPassword = ""
		s, _ := db.openLogged(t, cfg)
		ctx := context.Background()
		u, err := s.GetUser(ctx, "admin")
		if err != nil || !u.ChangePassword {
			t.Fatalf("the first admin with a generated password: %+v, %v; want ChangePassword", u, err)
		}
		if err := s.SetPassword(ctx, "admin", "my own long password"); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.GetUser(ctx, "admin"); u.ChangePassword {
			t.Error("ChangePassword stays after the password was changed")
		}
	})
	// A configured password is the operator's own.
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		if u, err := s.GetUser(context.Background(), "admin"); err != nil || u.ChangePassword {
			t.Fatalf("the first admin with a configured password: %+v, %v", u, err)
		}
	})
}

// An installation from before the choices keeps what its users chose:
// "not watched" becomes nobody, "calls ring" becomes nobody answered at
// once, and those who signed in before are not shown the first-sign-in
// notice again.
func TestMigrationKeepsOnOffChoices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ms, err := loadMigrations(db.kind)
		if err != nil {
			t.Fatal(err)
		}
		old, err := db.loc.open(ctx, testConfig().withDefaults(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := old.migrate(ctx, ms[:2], time.Now(), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		err = old.write(ctx, func(q queries) error {
			rows := []struct {
				name          string
				watch, answer bool
				seen          int64
			}{{"carol", false, false, 1700000000000}, {"dave", true, true, 0}, {"erin", true, false, 1700000000000}}
			for _, r := range rows {
				var err error
				switch q := q.(type) {
				case sqliteQueries:
					_, err = q.q.ExecContext(ctx, `INSERT INTO users (name, display_name, role, password_hash, created_at, last_seen_at, allow_watch, auto_answer)
						VALUES (?, ?, 'user', 'x', 1700000000000, ?, ?, ?)`, r.name, r.name, r.seen, r.watch, r.answer)
				case pgQueries:
					var seen *time.Time
					if r.seen > 0 {
						seen = new(time.UnixMilli(r.seen))
					}
					_, err = q.q.Exec(ctx, `INSERT INTO users (name, display_name, role, password_hash, created_at, last_seen_at, allow_watch, auto_answer)
						VALUES ($1, $2, 'user', 'x', now(), $3, $4, $5)`, r.name, r.name, seen, r.watch, r.answer)
				default:
					t.Fatalf("no raw insert for %T", q)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.close(); err != nil {
			t.Fatal(err)
		}

		s := db.open(t)
		for _, want := range []User{
			{Name: "carol", Watch: WatchNobody, Answer: AnswerNobody, NoticeSeen: true},
			{Name: "dave", Watch: WatchEveryone, Answer: AnswerEveryone},
			{Name: "erin", Watch: WatchEveryone, Answer: AnswerNobody, NoticeSeen: true},
		} {
			u, err := s.GetUser(ctx, want.Name)
			if err != nil || u.Watch != want.Watch || u.Answer != want.Answer || u.NoticeSeen != want.NoticeSeen || u.Chosen != nil {
				t.Errorf("%s after the migration: %+v, %v; want watch %s, answer %s, notice seen %v",
					want.Name, u, err, want.Watch, want.Answer, want.NoticeSeen)
			}
		}
	})
}
