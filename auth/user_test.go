package auth

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestUsersCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now

		u, err := s.CreateUser(ctx, NewUser{Name: "alice", DisplayName: "  Alice A.  ", Password: "alice-password"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != RoleUser || u.DisplayName != "Alice A." || !u.Created.Equal(clk.Now()) || !u.LastSeen.IsZero() {
			t.Errorf("created %+v", u)
		}
		got, err := s.GetUser(ctx, "ALICE")
		if err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("GetUser(ALICE) = %+v, %v; want %+v", got, err, u)
		}
		if _, err := s.CreateUser(ctx, NewUser{Name: "Alice", Password: "12345678"}); !errors.Is(err, ErrExists) {
			t.Errorf("a name differing only in case: %v, want ErrExists", err)
		}
		b := mustUser(t, s, "bob", RoleUser)
		if b.DisplayName != "bob" {
			t.Errorf("display name defaults to %q", b.DisplayName)
		}
		us, err := s.ListUsers(ctx)
		if err != nil || len(us) != 3 || us[0].Name != "admin" || us[1].Name != "alice" || us[2].Name != "bob" {
			t.Fatalf("ListUsers = %+v, %v", us, err)
		}

		display, role, yes := "Bobby", RoleAdmin, true
		b, err = s.UpdateUser(ctx, "bob", UserUpdate{DisplayName: &display, Role: &role})
		if err != nil || b.DisplayName != "Bobby" || b.Role != RoleAdmin || b.Disabled {
			t.Fatalf("UpdateUser = %+v, %v", b, err)
		}
		if b, err = s.UpdateUser(ctx, "bob", UserUpdate{Disabled: &yes}); err != nil || !b.Disabled || b.DisplayName != "Bobby" {
			t.Fatalf("disable: %+v, %v", b, err)
		}
		if _, err := s.UpdateUser(ctx, "nobody", UserUpdate{Disabled: &yes}); !errors.Is(err, ErrNotFound) {
			t.Errorf("update unknown: %v", err)
		}

		clk.Advance(2 * lastSeenResolution)
		if err := s.TouchLastSeen(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetUser(ctx, "alice"); !got.LastSeen.Equal(clk.Now()) {
			t.Errorf("LastSeen = %v, want %v", got.LastSeen, clk.Now())
		}
		first := clk.Now()
		clk.Advance(lastSeenResolution / 2)
		_ = s.TouchLastSeen(ctx, "alice")
		if got, _ := s.GetUser(ctx, "alice"); !got.LastSeen.Equal(first) {
			t.Errorf("TouchLastSeen wrote again within a minute: %v", got.LastSeen)
		}

		before := mustLogin(t, s, "alice")
		if _, err := s.Authenticate(ctx, before); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, "alice", "new-password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, before); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("a session from before the password change still works: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice-password", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old password still works: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "new-password", ""); err != nil {
			t.Errorf("new password: %v", err)
		}
		if err := s.SetPassword(ctx, "alice", "short"); !errors.Is(err, ErrInvalid) {
			t.Errorf("short password: %v", err)
		}
		if err := s.SetPassword(ctx, "nobody", "long-enough"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}

		if err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUser(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted user: %v", err)
		}
		if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
	})
}

func TestUserValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		long := strings.Repeat("a", 65)
		for _, c := range []struct {
			name string
			nu   NewUser
		}{
			{"empty name", NewUser{Name: "", Password: "12345678"}},
			{"dot start", NewUser{Name: ".hidden", Password: "12345678"}},
			{"dotdot", NewUser{Name: "..", Password: "12345678"}},
			{"slash", NewUser{Name: "a/b", Password: "12345678"}},
			{"space", NewUser{Name: "a b", Password: "12345678"}},
			{"unicode", NewUser{Name: "zoë", Password: "12345678"}},
			{"too long", NewUser{Name: long, Password: "12345678"}},
			{"bad role", NewUser{Name: "carol", Password: "12345678", Role: "root"}},
			{"short password", NewUser{Name: "carol", Password: "1234567"}},
			{"huge password", NewUser{Name: "carol", Password: strings.Repeat("x", maxPasswordLen+1)}},
			{"control in display", NewUser{Name: "carol", DisplayName: "a\x00b", Password: "12345678"}},
			{"long display", NewUser{Name: "carol", DisplayName: strings.Repeat("é", maxTextLen+1), Password: "12345678"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				if _, err := s.CreateUser(ctx, c.nu); !errors.Is(err, ErrInvalid) {
					t.Errorf("CreateUser(%+v) = %v, want ErrInvalid", c.nu, err)
				}
			})
		}
		for _, ok := range []string{"a", "A-b_c.d", strings.Repeat("z", 64), "0"} {
			if _, err := s.CreateUser(ctx, NewUser{Name: ok, Password: "пароль-пароль"}); err != nil {
				t.Errorf("valid name %q refused: %v", ok, err)
			}
		}
		bad := Role("owner")
		if _, err := s.UpdateUser(ctx, "a", UserUpdate{Role: &bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateUser bad role: %v", err)
		}
	})
}

func TestLastAdminProtected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		user, yes := RoleUser, true
		if _, err := s.UpdateUser(ctx, "admin", UserUpdate{Role: &user}); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("demote last admin: %v", err)
		}
		if _, err := s.UpdateUser(ctx, "admin", UserUpdate{Disabled: &yes}); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("disable last admin: %v", err)
		}
		if err := s.DeleteUser(ctx, "admin"); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("delete last admin: %v", err)
		}
		mustUser(t, s, "second", RoleAdmin)
		if err := s.DeleteUser(ctx, "admin"); err != nil {
			t.Errorf("delete an admin with another left: %v", err)
		}
		if _, err := s.UpdateUser(ctx, "second", UserUpdate{Role: &user}); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("demote the new last admin: %v", err)
		}
	})
}

func TestDeleteUserRemovesTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "gone", RoleUser)
		sess := mustLogin(t, s, "gone")
		_, key, err := s.CreateToken(ctx, "gone", Scope{Action: ActionPublish, Stream: "users/gone"}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{sess, key} {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteUser(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{sess, key} {
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("token of a deleted user: %v", err)
			}
		}
		var n int
		if rawQueryRow(t, s, []any{&n}, "SELECT count(*) FROM tokens WHERE owner = 'gone'"); n != 0 {
			t.Errorf("%d tokens left", n)
		}
		// The name is free again, and the old tokens do not come back.
		mustUser(t, s, "gone", RoleUser)
		if _, err := s.Authenticate(ctx, sess); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("old session works for the new account: %v", err)
		}
	})
}
