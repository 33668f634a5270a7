package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg = New(Options{})

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// Each call gives a separate, empty database that answers queries.
func TestDatabase(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		url := pg.Database(t)
		if seen[url] {
			t.Fatalf("database %s handed out twice", url)
		}
		seen[url] = true
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
			t.Errorf("fresh database has %d tables (%v)", n, err)
		}
		_ = conn.Close(ctx)
	}
}

func TestStopTwice(t *testing.T) {
	s := New(Options{})
	s.Stop()
	s.Stop()
}
