package certstore

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/corral-run/corral/internal/resp"
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
	c *resp.Client
	// The Lua scripts, made (their SHA-1 worked out) when a Redis storage
	// is opened rather than at every corral start, before the edge binds.
	removeScript, extendScript, releaseScript *resp.Script
}

// openRedis connects to nothing: the first operation dials. Each
// operation's context bounds its network waits (opTimeout); a Redis that
// is down fails it at once, and the caller (certmagic, or corral's own
// loop) tries again later, with backoff. An operation is retried once,
// on a new connection, only when a pooled one was closed by a restart.
func openRedis(rawURL string) (engine, error) {
	o, err := resp.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &redisEngine{c: resp.New(o),
		removeScript: resp.NewScript(redisRemove), extendScript: resp.NewScript(redisExtend), releaseScript: resp.NewScript(redisRelease)}, nil
}

func (r *redisEngine) put(ctx context.Context, key string, value []byte) error {
	_, err := r.c.Tx(ctx,
		[]any{"HSET", redisFile + key, "v", value, "m", time.Now().UnixMilli()},
		[]any{"ZADD", redisIndex, 0, key})
	return err
}

func (r *redisEngine) get(ctx context.Context, key string) ([]byte, error) {
	v, err := r.c.Do(ctx, "HGET", redisFile+key, "v")
	if err != nil {
		return nil, err
	}
	return bulk(v)
}

// bulk is the bytes of a bulk string reply; fs.ErrNotExist for nil.
func bulk(v resp.Value) ([]byte, error) {
	switch v.Kind {
	case resp.Nil:
		return nil, fs.ErrNotExist
	case resp.Bulk:
		return v.Str, nil
	}
	return nil, fmt.Errorf("redis: a reply of kind %d where a string was expected", v.Kind)
}

func (r *redisEngine) stat(ctx context.Context, key string) (int64, time.Time, error) {
	vs, err := r.c.Pipeline(ctx,
		[]any{"HSTRLEN", redisFile + key, "v"},
		[]any{"HGET", redisFile + key, "m"})
	if err != nil {
		return 0, time.Time{}, err
	}
	mod, err := bulk(vs[1])
	if err != nil {
		return 0, time.Time{}, err
	}
	ms, err := strconv.ParseInt(string(mod), 10, 64)
	if err != nil {
		return 0, time.Time{}, err
	}
	return vs[0].Int, time.UnixMilli(ms), nil
}

// under lists the index between dir/ and dir0 ('0' follows '/'): the keys
// that start with dir/.
func (r *redisEngine) under(ctx context.Context, dir string, limit int) ([]string, error) {
	cmd := []any{"ZRANGEBYLEX", redisIndex, "-", "+"}
	if dir != "" {
		cmd[2], cmd[3] = "["+dir+"/", "("+dir+"0"
	}
	if limit > 0 {
		cmd = append(cmd, "LIMIT", 0, limit)
	}
	v, err := r.c.Do(ctx, cmd...)
	if err != nil {
		return nil, err
	}
	if v.Kind != resp.Array {
		return nil, fmt.Errorf("redis: ZRANGEBYLEX answered with a reply of kind %d, want an array", v.Kind)
	}
	keys := make([]string, 0, len(v.Elems))
	for _, e := range v.Elems {
		k, err := bulk(e)
		if err != nil {
			return nil, err
		}
		keys = append(keys, string(k))
	}
	return keys, nil
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
	_, err := r.c.Run(ctx, r.removeScript, []string{redisIndex}, redisFile, key)
	return err
}

// acquire sets the lock only if it is not set (NX); the reply is OK if
// it was set, nil if another holds it.
func (r *redisEngine) acquire(ctx context.Context, name, token string, lease time.Duration) (bool, error) {
	v, err := r.c.Do(ctx, "SET", redisLock+name, token, "NX", "PX", lease.Milliseconds())
	return err == nil && v.Kind == resp.Simple, err
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
	v, err := r.c.Run(ctx, r.extendScript, []string{redisLock + name}, token, lease.Milliseconds())
	return err == nil && v.Kind == resp.Int && v.Int == 1, err
}

func (r *redisEngine) release(ctx context.Context, name, token string) error {
	_, err := r.c.Run(ctx, r.releaseScript, []string{redisLock + name}, token)
	return err
}

func (r *redisEngine) ping(ctx context.Context) error {
	_, err := r.c.Do(ctx, "PING")
	return err
}

func (r *redisEngine) close() { r.c.Close() }
