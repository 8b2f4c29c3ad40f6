package sidekiq

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultMarkerTTL is how long a pushed job's de-duplication marker lives.
// It must outlast the time a caller may take to record a push it made before
// a crash: for the worker's outbox relay that is until Postgres takes its
// next write, normally the next relay tick 30 s later.
const DefaultMarkerTTL = 7 * 24 * time.Hour

// Options configure a Client.
type Options struct {
	// Queue is the queue jobs go to unless they name one ("default", as
	// Sidekiq's own default).
	Queue string
	// Namespace is the redis-namespace of the Sidekiq application, without
	// its colon; empty when it has none. Sidekiq's keys are then
	// "<Namespace>:queues" and "<Namespace>:queue:<queue>".
	Namespace string
	// MarkerPrefix is prepended to every de-duplication key to make its
	// marker's Redis key, e.g. "lighthouse526:sidekiq:pushed:". Markers are
	// the caller's keys, not Sidekiq's, so they are not namespaced.
	MarkerPrefix string
	// MarkerTTL is the markers' time to live, whole seconds
	// (DefaultMarkerTTL when zero).
	MarkerTTL time.Duration
	// Now is the clock of created_at and enqueued_at (time.Now when nil).
	Now func() time.Time
}

// Client pushes jobs onto a Sidekiq application's Redis.
type Client struct {
	rdb  redis.UniversalClient
	opts Options
}

// New builds a client on rdb, the Redis that the Sidekiq processes read.
func New(rdb redis.UniversalClient, opts Options) (*Client, error) {
	if opts.Queue == "" {
		opts.Queue = "default"
	}
	if err := validName("queue", opts.Queue); err != nil {
		return nil, err
	}
	if opts.Namespace != "" {
		if err := validName("namespace", opts.Namespace); err != nil {
			return nil, err
		}
		if strings.HasSuffix(opts.Namespace, ":") {
			return nil, fmt.Errorf("sidekiq: namespace %q: give it without the colon, as Sidekiq's configuration names it", opts.Namespace)
		}
	}
	if opts.MarkerPrefix == "" {
		return nil, errors.New("sidekiq: a marker prefix is required, so that de-duplication keys never collide with anyone's keys")
	}
	switch {
	case opts.MarkerTTL == 0:
		opts.MarkerTTL = DefaultMarkerTTL
	case opts.MarkerTTL < time.Second:
		return nil, fmt.Errorf("sidekiq: marker TTL %s is under a second", opts.MarkerTTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{rdb: rdb, opts: opts}, nil
}

func validName(what, s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n{}") {
		return fmt.Errorf("sidekiq: %s %q must be non-empty, without spaces or braces", what, s)
	}
	return nil
}

// key is one of Sidekiq's keys in the client's namespace.
func (c *Client) key(name string) string {
	if c.opts.Namespace == "" {
		return name
	}
	return c.opts.Namespace + ":" + name
}

// MarkerKey is the Redis key of dedupKey's marker.
func (c *Client) MarkerKey(dedupKey string) string {
	return c.opts.MarkerPrefix + dedupKey
}

// pushSource is the Lua script of a push and its marker, one atomic step.
//
//go:embed push.lua
var pushSource string

// pushScript runs pushSource by its SHA (EVALSHA), loading it when Redis
// does not know it yet.
var pushScript = redis.NewScript(pushSource)

// Pushed is what one Push did.
type Pushed struct {
	// JID is the job id in Redis: the one just pushed, or the one pushed
	// earlier under the same de-duplication key.
	JID string
	// Duplicate is true when a job was already pushed under the key and
	// nothing was pushed now.
	Duplicate bool
}

// Push puts job on its queue unless a job was pushed under dedupKey within
// the marker's lifetime: the check, SADD queues, LPUSH queue:<queue> and the
// marker are one Lua script, so a marker exists exactly when its job was
// pushed. After an error the caller pushes again later: either the script
// did not run or failed before its marker (nothing pushed; at most the queue
// named in `queues`), or its reply was lost and the next push finds the
// marker.
func (c *Client) Push(ctx context.Context, dedupKey string, job Job) (Pushed, error) {
	if dedupKey == "" {
		return Pushed{}, errors.New("sidekiq: push without a de-duplication key")
	}
	if err := job.Validate(); err != nil {
		return Pushed{}, err
	}
	queue := job.Queue
	if queue == "" {
		queue = c.opts.Queue
	} else if err := validName("queue", queue); err != nil {
		return Pushed{}, err
	}
	jid, err := newJID()
	if err != nil {
		return Pushed{}, err
	}
	// Sidekiq's client stamps created_at when it builds the job and
	// enqueued_at as it pushes; here both happen at once.
	now := c.opts.Now()
	body, err := job.encode(queue, jid, now, now)
	if err != nil {
		return Pushed{}, err
	}
	ttl := strconv.FormatInt(int64(c.opts.MarkerTTL/time.Second), 10)
	res, err := pushScript.Run(ctx, c.rdb,
		[]string{c.MarkerKey(dedupKey), c.key("queues"), c.key("queue:" + queue)},
		jid, ttl, queue, body,
	).Slice()
	if err != nil {
		return Pushed{}, fmt.Errorf("sidekiq: push %s onto %s: %w", job.Class, queue, err)
	}
	if len(res) != 2 {
		return Pushed{}, fmt.Errorf("sidekiq: push %s: unexpected script reply %v", job.Class, res)
	}
	pushed, _ := res[0].(int64)
	got, _ := res[1].(string)
	return Pushed{JID: got, Duplicate: pushed == 0}, nil
}
