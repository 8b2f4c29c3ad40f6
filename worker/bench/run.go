package bench

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

// Identity of the bench's client at its fake Lighthouse.
const (
	benchClientID = "lighthouse526-bench"
	benchAud      = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// unlimitedRate is the workers' budget when the fake has no limit (the most
// the configuration accepts).
const unlimitedRate = 100_000

// run is one bench run's resources.
type run struct {
	o      Options
	res    *Result
	dbURL  string
	db     *gorm.DB // the bench database, for seeding and the floor
	admin  *gorm.DB // the maintenance database: statistics
	rdb    redis.UniversalClient
	fake   *fake.Server
	fleet  *fleet
	queue  string
	prefix string
}

// setup creates and seeds the database, starts the fake and the workers.
func (r *run) setup(ctx context.Context) error {
	id := runID()
	r.queue, r.prefix = "lh526_bench_"+id, "lh526bench:"+id+":"
	r.phase("creating database " + r.o.Database)
	start := time.Now()
	var err error
	if r.dbURL, err = createDatabase(ctx, r.o.AdminURL, r.o.Database); err != nil {
		return err
	}
	if r.db, err = db.Open(ctx, db.Options{URL: r.dbURL, MaxOpenConns: 2, ApplicationName: "lighthouse526-bench"}); err != nil {
		return err
	}
	if r.admin, err = db.Open(ctx, db.Options{URL: r.o.AdminURL, MaxOpenConns: 1, ApplicationName: "lighthouse526-bench"}); err != nil {
		return err
	}
	opts, err := redis.ParseURL(r.o.RedisURL)
	if err != nil {
		return errorf("--redis-url: %v", err)
	}
	r.rdb = redis.NewClient(opts)
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return errorf("redis: %v", err)
	}

	r.phase("seeding " + strconv.Itoa(r.o.Documents) + " pending uploads")
	if err := migrateAndSeed(ctx, r.db, r.o.Documents, r.o.WithoutRecommendedIndexes); err != nil {
		return err
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return err
	}
	r.fake = fake.New(fake.Options{
		PublicKey: &key.PublicKey, ClientID: benchClientID, AudClaimURL: benchAud,
		RateLimitPerMinute: r.o.RateLimit, Seed: 1,
	})
	r.phase("registering the documents in the fake Lighthouse")
	if err := registerDocuments(r.fake, r.o.Documents); err != nil {
		return err
	}
	host, err := r.fake.Start()
	if err != nil {
		return err
	}
	r.res.SeedSeconds = time.Since(start).Seconds()

	r.phase("starting the workers")
	r.fleet, err = startFleet(ctx, &r.o, r.workerEnv(host, keyPEM))
	return err
}

// workerEnv is the workers' configuration.
func (r *run) workerEnv(host, keyPEM string) map[string]string {
	rate := unlimitedRate
	if r.o.RateLimit > 0 {
		rate = r.o.RateLimit
	}
	env := map[string]string{
		"DATABASE_URL":                     r.dbURL,
		"DB_MAX_OPEN_CONNS":                strconv.Itoa(r.o.DBConns),
		"DB_MAX_IDLE_CONNS":                strconv.Itoa(r.o.DBConns),
		"REDIS_URL":                        r.o.RedisURL,
		"REDIS_KEY_PREFIX":                 r.prefix,
		"LIGHTHOUSE_HOST":                  host,
		"LIGHTHOUSE_CLIENT_ID":             benchClientID,
		"LIGHTHOUSE_RSA_KEY":               keyPEM,
		"LIGHTHOUSE_AUD_CLAIM_URL":         benchAud,
		"LIGHTHOUSE_RATE_LIMIT_PER_MINUTE": strconv.Itoa(rate),
		"LIGHTHOUSE_RATE_BUDGET":           strconv.Itoa(rate),
		"POLL_BATCH_SIZE":                  strconv.Itoa(r.o.BatchSize),
		"QUEUE_NAME":                       r.queue,
		"NOTIFICATION_QUEUE":               r.queue + "_notifications",
		"NOTIFICATION_TARGET":              "asynq", // the bench deletes this queue when it ends
		"WORKER_QUEUES":                    "",
		"WORKER_CONCURRENCY":               strconv.Itoa(r.o.Concurrency),
		"FAILURE_NOTIFICATIONS_ENABLED":    strconv.FormatBool(r.o.Notifications),
		"LOG_LEVEL":                        r.o.LogLevel,
		"LOG_FORMAT":                       "semantic_logger",
	}
	for k, v := range r.o.Env {
		env[k] = v
	}
	return env
}

// cycle runs one cycle through the workers and measures it.
func (r *run) cycle(ctx context.Context) error {
	// The bench's own progress queries go through a pool closed before the
	// final count, so that its backend reports them.
	watch, err := db.Open(ctx, db.Options{URL: r.dbURL, MaxOpenConns: 1, MaxIdleConns: 1, ApplicationName: "lighthouse526-bench-watch"})
	if err != nil {
		return err
	}
	r.phase("waiting for the database statistics to settle")
	before, err := settledXactCount(ctx, r.admin, r.o.Database)
	if err != nil {
		_ = db.Close(watch)
		return err
	}
	r.fake.ResetRequests()
	cpuBefore := snapshotCPU(ctx, r.admin, r.o.Database, r.fleet)
	cycleDone := func() {}
	if r.o.AroundCycle != nil {
		cycleDone = r.o.AroundCycle()
	}
	client := asynq.NewClientFromRedisClient(r.rdb)
	cycleID := "bench:" + r.prefix
	start := time.Now()
	task, err := tasks.NewAdHocPollingTask(r.queue, cycleID, start)
	if err == nil {
		_, err = client.EnqueueContext(ctx, task)
	}
	if err != nil {
		cycleDone()
		_ = db.Close(watch)
		return errorf("enqueue the cycle: %v", err)
	}
	r.phase("polling")
	c, own, err := r.wait(ctx, watch, cycleID)
	cycleDone()
	_ = db.Close(watch)
	if err != nil {
		return err
	}
	r.res.WallSeconds = c.UpdatedAt.Sub(start.UTC()).Seconds()
	if c.FanOutDoneAt != nil {
		r.res.FanOutSeconds = c.FanOutDoneAt.Sub(start.UTC()).Seconds()
	}
	r.res.Batches = c.BatchesEnqueued
	r.res.Polled, r.res.Completed, r.res.Failed, r.res.Unknown = c.DocumentsPolled, c.CompletedCount, c.FailedCount, c.UnknownCount
	if r.res.WallSeconds > 0 {
		r.res.DocumentsPerSecond = float64(c.DocumentsPolled) / r.res.WallSeconds
		r.res.MicrosPerDocument = r.res.WallSeconds * 1e6 / float64(max(c.DocumentsPolled, 1))
	}

	r.res.CPU = snapshotCPU(ctx, r.admin, r.o.Database, r.fleet).since(cpuBefore)
	r.phase("collecting figures")
	h, err := scrapeBatchDurations(ctx, r.fleet.addrs)
	if err != nil {
		return err
	}
	r.res.BatchP50Seconds, r.res.BatchP99Seconds, r.res.BatchTasks = h.quantile(0.5), h.quantile(0.99), int(h.total)
	if r.res.PeakRSSBytes, err = r.fleet.peakRSS(); err != nil {
		return err
	}
	r.res.PeakRSSOf = "each worker process (VmHWM)"
	if r.o.Workers == 0 {
		r.res.PeakRSSOf = "the bench process, fake Lighthouse included (in-process worker)"
	}
	for _, b := range r.res.PeakRSSBytes {
		r.res.PeakRSSMaxBytes = max(r.res.PeakRSSMaxBytes, b)
	}
	r.fleet.stop()
	r.res.Lighthouse = countCalls(r.fake.Requests(), r.o.RateLimit)

	after, err := settledXactCount(ctx, r.admin, r.o.Database)
	if err != nil {
		return err
	}
	r.res.SQLStatements = after - before - own
	r.res.SQLCountMethod = sqlCountMethod
	if r.res.Batches > 0 {
		r.res.SQLStatementsPerBatch = float64(r.res.SQLStatements) / float64(r.res.Batches)
	}
	return nil
}

// wait polls the cycle row until its fan-out is done and every batch is
// done, and returns it with the number of statements it ran.
func (r *run) wait(ctx context.Context, watch *gorm.DB, id string) (models.PollingCycle, int64, error) {
	var own int64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return models.PollingCycle{}, own, errorf("cycle not done: %v", ctx.Err())
		case <-tick.C:
		}
		var c models.PollingCycle
		own++
		err := watch.WithContext(ctx).Take(&c, "id = ?", id).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue
		}
		if err != nil {
			return c, own, errorf("read the cycle: %v", err)
		}
		if r.o.Progress != nil {
			r.o.Progress(c.DocumentsPolled, r.o.Documents)
		}
		if c.Done() {
			return c, own, nil
		}
	}
}

// close stops whatever setup started, and cleans up.
func (r *run) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r.fleet != nil {
		r.fleet.stop()
	}
	if r.fake != nil {
		r.fake.Close()
	}
	if r.rdb != nil {
		insp := asynq.NewInspectorFromRedisClient(r.rdb)
		for _, q := range []string{r.queue, r.queue + "_notifications"} {
			_ = insp.DeleteQueue(q, true)
		}
		iter := r.rdb.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			r.rdb.Del(ctx, iter.Val())
		}
		_ = r.rdb.Close()
	}
	if r.db != nil {
		_ = db.Close(r.db)
	}
	if r.admin != nil {
		_ = db.Close(r.admin)
	}
	if r.dbURL != "" && !r.o.Keep {
		_ = dropDatabase(ctx, r.o.AdminURL, r.o.Database)
	}
}
