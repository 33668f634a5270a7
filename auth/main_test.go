package auth

import (
	"os"
	"testing"

	"github.com/wishcast/wishcast/internal/pgtest"
)

// pg is the PostgreSQL server of this package's tests, started when a
// test first asks for a database; pgDurable is one with PostgreSQL's own
// durability, for benchmarks.
var (
	pg        = pgtest.New(pgtest.Options{Required: os.Getenv("CI") != ""})
	pgDurable = pgtest.New(pgtest.Options{Durable: true, Required: os.Getenv("CI") != ""})
)

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	pgDurable.Stop()
	os.Exit(code)
}
