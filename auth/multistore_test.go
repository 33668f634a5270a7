package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Two stores on one database, as two processes would have: a name taken
// through one is taken for the other, in any case, and when both create
// it at once exactly one succeeds and the other hears ErrExists.
func TestDuplicateAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		a, b := db.open(t), db.open(t)
		ctx := context.Background()
		mustUser(t, a, "alice", RoleUser)
		if _, err := b.CreateUser(ctx, NewUser{Name: "ALICE", Password: "password-2"}); !errors.Is(err, ErrExists) {
			t.Fatalf("the other store created a taken name: %v", err)
		}
		for i := range 10 {
			name := fmt.Sprintf("race%d", i)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j, s := range []*Store{a, b} {
				wg.Go(func() {
					_, errs[j] = s.CreateUser(ctx, NewUser{Name: name, Password: "password-" + name})
				})
			}
			wg.Wait()
			ok, exists := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrExists):
					exists++
				default:
					t.Errorf("%s: %v", name, err)
				}
			}
			if ok != 1 || exists != 1 {
				t.Errorf("%s created at once by two stores: %d succeeded, %d told it exists (%v)", name, ok, exists, errs)
			}
		}
		if err := a.AddCallRecord(ctx, CallRecord{ID: "c1", Caller: "alice", Callee: "bob", Started: a.now()}); err != nil {
			t.Fatal(err)
		}
		if err := b.AddCallRecord(ctx, CallRecord{ID: "c1", Caller: "bob", Callee: "alice", Started: b.now()}); !errors.Is(err, ErrExists) {
			t.Errorf("a taken call id: %v", err)
		}
	})
}

// Two admins demote each other at the same moment through two stores:
// the last-admin rule still holds, because write transactions are
// serializable (and retried when the database aborts one for that).
func TestLastAdminAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		a, b := db.open(t), db.open(t)
		ctx := context.Background()
		for round := range 8 {
			other := fmt.Sprintf("second%d", round)
			mustUser(t, a, other, RoleAdmin)
			user := RoleUser
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j, c := range []struct {
				s    *Store
				name string
			}{{a, "admin"}, {b, other}} {
				wg.Go(func() { _, errs[j] = c.s.UpdateUser(ctx, c.name, UserUpdate{Role: &user}) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrLastAdmin):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of two demotions succeeded (%v); the store has no admin left", round, ok, errs)
			}
			// Put things back: whoever is still admin stays, the other
			// goes, and admin is an admin again.
			admin := RoleAdmin
			if _, err := a.UpdateUser(ctx, "admin", UserUpdate{Role: &admin}); err != nil {
				t.Fatal(err)
			}
			if err := a.DeleteUser(ctx, other); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A change made through one store is seen by the other at once, and a
// token it revokes stops working there within the cache's lifetime (at
// once where the backend tells the others, see TestRevocationReachesOtherStores).
func TestStoresShareData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		a, b := db.open(t), db.open(t)
		ctx := context.Background()
		mustUser(t, a, "carol", RoleUser)
		tok := mustLogin(t, b, "carol")
		if p, err := a.Authenticate(ctx, tok); err != nil || p.User != "carol" {
			t.Fatalf("a session made through one store, checked through the other: %+v, %v", p, err)
		}
		if _, err := b.PutDevice(ctx, Device{Name: "cam", URL: "rtsp://192.0.2.1/s"}); err != nil {
			t.Fatal(err)
		}
		if d, err := a.GetDevice(ctx, "cam"); err != nil || d.URL != "rtsp://192.0.2.1/s" {
			t.Errorf("device through the other store: %+v, %v", d, err)
		}
		if err := a.SetStreamPublic(ctx, "live/x", true); err != nil {
			t.Fatal(err)
		}
		if pub, err := b.StreamPublic(ctx, "live/x"); err != nil || !pub {
			t.Errorf("stream setting through the other store: %v, %v", pub, err)
		}
	})
}
