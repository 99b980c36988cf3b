package certstore

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The tables, made on first use if they are not there. Keys sort in the
// "C" collation, byte by byte, so that a directory is a range of the
// primary key: key >= 'dir/' AND key < 'dir0' ('0' follows '/').
//
// A lock is a row with its holder's token and an expiry, not an advisory
// lock: a session advisory lock lives as long as one connection, which
// would tie every held lock to a connection taken out of the pool for
// its whole life, be lost without a word when that connection breaks
// (a Postgres restart, a proxy's idle timeout) while the holder goes on
// as if it held it, and not work at all through a transaction-pooling
// proxy such as PgBouncer. A row with a lease behaves as the Redis lock
// does, through any pool or proxy, and its expiry is the server's clock,
// so the hosts' clocks need not agree.
const postgresSchema = `
CREATE TABLE IF NOT EXISTS corral_certs (
	key text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL,
	modified timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS corral_cert_locks (
	name text PRIMARY KEY,
	token text NOT NULL,
	expires timestamptz NOT NULL
)`

// schemaLock serializes the CREATE TABLEs of hosts starting at once, which
// Postgres would otherwise let fail on its catalog's unique index.
const schemaLock = 0x636f7272616c // "corral"

// postgresEngine keeps the files and locks in two Postgres tables.
type postgresEngine struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	ready bool // the tables are there
}

func openPostgres(rawURL string) (engine, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	// NewWithConfig connects lazily: a database that is down at start
	// fails the first operation, which is retried, not the start.
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return &postgresEngine{pool: pool}, nil
}

// schema makes the tables once; until it succeeds, every operation tries.
func (p *postgresEngine) schema(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready {
		return nil
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, postgresSchema)
		return err
	})
	p.ready = err == nil
	return err
}

func (p *postgresEngine) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if err := p.schema(ctx); err != nil {
		return 0, err
	}
	tag, err := p.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (p *postgresEngine) put(ctx context.Context, key string, value []byte) error {
	_, err := p.exec(ctx, `INSERT INTO corral_certs (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, modified = now()`, key, value)
	return err
}

func (p *postgresEngine) get(ctx context.Context, key string) ([]byte, error) {
	if err := p.schema(ctx); err != nil {
		return nil, err
	}
	var v []byte
	err := p.pool.QueryRow(ctx, `SELECT value FROM corral_certs WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fs.ErrNotExist
	}
	return v, err
}

func (p *postgresEngine) stat(ctx context.Context, key string) (int64, time.Time, error) {
	if err := p.schema(ctx); err != nil {
		return 0, time.Time{}, err
	}
	var size int64
	var mod time.Time
	err := p.pool.QueryRow(ctx, `SELECT length(value), modified FROM corral_certs WHERE key = $1`, key).Scan(&size, &mod)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, fs.ErrNotExist
	}
	return size, mod, err
}

func (p *postgresEngine) under(ctx context.Context, dir string, limit int) ([]string, error) {
	if err := p.schema(ctx); err != nil {
		return nil, err
	}
	lo, hi := dir+"/", dir+"0"
	if dir == "" {
		lo, hi = "", "\U0010FFFF"
	}
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := p.pool.Query(ctx, `SELECT key FROM corral_certs WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3`, lo, hi, lim)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *postgresEngine) remove(ctx context.Context, key string) error {
	_, err := p.exec(ctx, `DELETE FROM corral_certs WHERE key = $1 OR (key >= $2 AND key < $3)`, key, key+"/", key+"0")
	return err
}

// acquire takes the lock when it has no row, or when its row's lease has
// run out (its holder stopped renewing: it crashed, or lost the
// database for longer than the lease).
func (p *postgresEngine) acquire(ctx context.Context, name, token string, lease time.Duration) (bool, error) {
	n, err := p.exec(ctx, `INSERT INTO corral_cert_locks (name, token, expires)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, expires = EXCLUDED.expires
		WHERE corral_cert_locks.expires < now()`, name, token, lease.Milliseconds())
	return n == 1, err
}

func (p *postgresEngine) extend(ctx context.Context, name, token string, lease time.Duration) (bool, error) {
	n, err := p.exec(ctx, `UPDATE corral_cert_locks SET expires = now() + $3 * interval '1 millisecond'
		WHERE name = $1 AND token = $2`, name, token, lease.Milliseconds())
	return n == 1, err
}

func (p *postgresEngine) release(ctx context.Context, name, token string) error {
	_, err := p.exec(ctx, `DELETE FROM corral_cert_locks WHERE name = $1 AND token = $2`, name, token)
	return err
}

func (p *postgresEngine) ping(ctx context.Context) error {
	if err := p.schema(ctx); err != nil {
		return err
	}
	return p.pool.Ping(ctx)
}

func (p *postgresEngine) close() { p.pool.Close() }
