package certstore

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis keys, all under one prefix so that the storage can share a
// database with the app: a hash per file (value and modification time),
// a sorted set of every file's key (all at score 0, so ordered by key:
// ZRANGEBYLEX lists a directory without scanning the keyspace), and a
// string per lock holding its holder's token, with the lease as its TTL.
const (
	redisPrefix = "corral:certs:"
	redisFile   = redisPrefix + "file:"
	redisIndex  = redisPrefix + "index"
	redisLock   = redisPrefix + "lock:"
)

// redisEngine keeps the files and locks in Redis (a single server or a
// primary; not Redis Cluster, whose keys of one operation must share a slot).
type redisEngine struct {
	c *redis.Client
	// The Lua scripts, made (their SHA-1 worked out) when a Redis storage
	// is opened rather than at every corral start, before the edge binds.
	removeScript, extendScript, releaseScript *redis.Script
}

// quiet is go-redis's logger: none. Its default prints to stderr, past
// corral's log format, what the operations' errors say anyway.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func openRedis(rawURL string) (engine, error) {
	// The logger is go-redis's own package state: set, never read, here.
	redis.SetLogger(quiet{})
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// Each operation's context bounds its network waits (opTimeout).
	o.ContextTimeoutEnabled = true
	// A Redis that is down fails an operation at once, and the caller
	// (certmagic, or corral's own loop) tries again later, with backoff:
	// one retry, for a pooled connection that a restart closed, not
	// go-redis's default of 3 retries of 5 dials each.
	o.MaxRetries, o.DialerRetries = 1, 1
	// No CLIENT MAINT_NOTIFICATIONS handshake: a plain Redis refuses it.
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &redisEngine{c: redis.NewClient(o),
		removeScript: redis.NewScript(redisRemove), extendScript: redis.NewScript(redisExtend), releaseScript: redis.NewScript(redisRelease)}, nil
}

func (r *redisEngine) put(ctx context.Context, key string, value []byte) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, redisFile+key, "v", value, "m", time.Now().UnixMilli())
		p.ZAdd(ctx, redisIndex, redis.Z{Member: key})
		return nil
	})
	return err
}

func (r *redisEngine) get(ctx context.Context, key string) ([]byte, error) {
	v, err := r.c.HGet(ctx, redisFile+key, "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fs.ErrNotExist
	}
	return v, err
}

func (r *redisEngine) stat(ctx context.Context, key string) (int64, time.Time, error) {
	var size *redis.IntCmd
	var mod *redis.StringCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		size = p.HStrLen(ctx, redisFile+key, "v")
		mod = p.HGet(ctx, redisFile+key, "m")
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return 0, time.Time{}, fs.ErrNotExist
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	ms, err := strconv.ParseInt(mod.Val(), 10, 64)
	if err != nil {
		return 0, time.Time{}, err
	}
	return size.Val(), time.UnixMilli(ms), nil
}

// under lists the index between dir/ and dir0 ('0' follows '/'): the keys
// that start with dir/.
func (r *redisEngine) under(ctx context.Context, dir string, limit int) ([]string, error) {
	by := &redis.ZRangeBy{Min: "-", Max: "+", Count: int64(limit)}
	if dir != "" {
		by.Min, by.Max = "["+dir+"/", "("+dir+"0"
	}
	if limit == 0 {
		by.Count = -1
	}
	return r.c.ZRangeByLex(ctx, redisIndex, by).Result()
}

// redisRemove deletes a file and the files under it, with the index, at
// once. The file keys are made inside the script, which a single server
// allows (Redis Cluster would not).
const redisRemove = `
local function drop(k)
  redis.call('DEL', ARGV[1] .. k)
  redis.call('ZREM', KEYS[1], k)
end
drop(ARGV[2])
for _, k in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[2] .. '/', '(' .. ARGV[2] .. '0')) do
  drop(k)
end
return 1`

func (r *redisEngine) remove(ctx context.Context, key string) error {
	return r.removeScript.Run(ctx, r.c, []string{redisIndex}, redisFile, key).Err()
}

func (r *redisEngine) acquire(ctx context.Context, name, token string, lease time.Duration) (bool, error) {
	return r.c.SetNX(ctx, redisLock+name, token, lease).Result()
}

// redisExtend and redisRelease act on a lock only while it holds the
// caller's token: a holder whose lease ran out, and whose lock another
// host took, cannot extend or delete the new holder's.
const (
	redisExtend = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`
	redisRelease = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`
)

func (r *redisEngine) extend(ctx context.Context, name, token string, lease time.Duration) (bool, error) {
	n, err := r.extendScript.Run(ctx, r.c, []string{redisLock + name}, token, lease.Milliseconds()).Int()
	return n == 1, err
}

func (r *redisEngine) release(ctx context.Context, name, token string) error {
	return r.releaseScript.Run(ctx, r.c, []string{redisLock + name}, token).Err()
}

func (r *redisEngine) ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

func (r *redisEngine) close() { r.c.Close() }
