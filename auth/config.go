package auth

import (
	"time"
)

// DefaultFileName is the store's file name inside the data directory.
const DefaultFileName = "wishcast.db"

// Config is the accounts and security configuration. Zero values are
// replaced by the defaults in the envDefault tags.
type Config struct {
	AdminName     string `env:"ADMIN_NAME" envDefault:"admin" desc:"name of the admin account created when the store has no user"`
	AdminPassword string `env:"ADMIN_PASSWORD" desc:"password of that first admin (at least 8 characters); if empty one is generated and logged once; never used after the first start"`

	SessionTTL       time.Duration `env:"SESSION_TTL" envDefault:"720h" desc:"how long a sign-in session token stays valid"`
	LoginMaxFailures int           `env:"LOGIN_MAX_FAILURES" envDefault:"5" desc:"failed sign-ins allowed per user name and per client address within LOGIN_WINDOW; more get 429"`
	LoginWindow      time.Duration `env:"LOGIN_WINDOW" envDefault:"1m" desc:"sliding window over which failed sign-ins are counted"`
	LoginConcurrency int           `env:"LOGIN_CONCURRENCY" envDefault:"2" desc:"password hashes computed at once (each uses PASSWORD_MEMORY); more sign-ins wait"`

	PasswordTime    uint32 `env:"PASSWORD_TIME" envDefault:"2" desc:"argon2id passes over memory for new password hashes"`
	PasswordMemory  uint32 `env:"PASSWORD_MEMORY_KIB" envDefault:"65536" desc:"argon2id memory in KiB for new password hashes"`
	PasswordThreads uint8  `env:"PASSWORD_THREADS" envDefault:"2" desc:"argon2id lanes for new password hashes"`

	TokenCacheTTL time.Duration `env:"TOKEN_CACHE_TTL" envDefault:"10s" desc:"how long a checked token is remembered in memory; revocations through this process apply at once, and on PostgreSQL those of other processes too (LISTEN/NOTIFY; the cache is off while they cannot be heard); on SQLite changes by another process apply within this time; negative disables the cache"`
	BusyTimeout   time.Duration `env:"DB_BUSY_TIMEOUT" envDefault:"5s" desc:"SQLite: how long a database statement waits for a lock held by another connection"`

	DBMaxConns         int           `env:"DB_MAX_CONNS" envDefault:"10" desc:"PostgreSQL: most pooled connections this process opens (the URL's pool_max_conns, if any, wins); one more listens for revocations"`
	DBStatementTimeout time.Duration `env:"DB_STATEMENT_TIMEOUT" envDefault:"10s" desc:"PostgreSQL: longest a statement may run (statement_timeout), and twice that a transaction may sit idle; negative for no limit"`
}

// withDefaults replaces zero values by the defaults.
func (c Config) withDefaults() Config {
	if c.AdminName == "" {
		c.AdminName = "admin"
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 720 * time.Hour
	}
	if c.LoginMaxFailures <= 0 {
		c.LoginMaxFailures = 5
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = time.Minute
	}
	if c.LoginConcurrency <= 0 {
		c.LoginConcurrency = 2
	}
	if c.PasswordTime == 0 {
		c.PasswordTime = 2
	}
	if c.PasswordMemory == 0 {
		c.PasswordMemory = 64 * 1024
	}
	if c.PasswordThreads == 0 {
		c.PasswordThreads = 2
	}
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = 10 * time.Second
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.DBMaxConns <= 0 {
		c.DBMaxConns = 10
	}
	if c.DBStatementTimeout == 0 {
		c.DBStatementTimeout = 10 * time.Second
	}
	return c
}
