package auth

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFiles holds the schema migrations of each dialect, named
// migrations/DIALECT/NNNN_what.sql and applied in order, each once, each
// in its own transaction. Both dialects have the same versions: version N
// is the same schema, in SQLite's words or PostgreSQL's, so that a store
// can be copied from one to the other.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the embedded migrations of a dialect;
// versions must run 1, 2, 3... without gaps.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := migrationFiles.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// checkVersion refuses a database whose schema is newer than the
// migrations this build knows.
func checkVersion(have, known int) error {
	if have > known {
		return fmt.Errorf("the database has schema version %d but this wishcast knows only %d: it was written by a newer wishcast", have, known)
	}
	return nil
}
