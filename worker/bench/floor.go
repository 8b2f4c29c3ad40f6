package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/tasks"
)

// Floor is the raw cost of the cycle's work without the product: the same
// rows' polled-at and state written by one bulk UPDATE, and the same number
// of Redis enqueue/dequeue round trips (LPUSH then BRPOP of the batch
// payloads, one client, one at a time).
type Floor struct {
	DBSeconds    float64 `json:"db_seconds"`
	RedisSeconds float64 `json:"redis_seconds"`
	Seconds      float64 `json:"seconds"`
}

// floorUpdateSQL writes every copied row's polled-at and its outcome's state.
const floorUpdateSQL = `
UPDATE ` + floorTable + ` SET
  status_last_polled_at = now(),
  aasm_state = CASE WHEN (id * 37) % 100 < 80 THEN 'completed'
                    WHEN (id * 37) % 100 < 90 THEN 'failed'
                    ELSE 'pending' END
 WHERE aasm_state = 'pending'`

// measureFloor runs the floor's two parts one after the other.
func measureFloor(ctx context.Context, gdb *gorm.DB, rdb redis.UniversalClient, key string, batches, batchSize int) (Floor, error) {
	var f Floor
	start := time.Now()
	if err := gdb.WithContext(ctx).Exec(floorUpdateSQL).Error; err != nil {
		return f, fmt.Errorf("bench: floor update: %w", err)
	}
	f.DBSeconds = time.Since(start).Seconds()

	ids := make([]string, batchSize)
	for i := range ids {
		ids[i] = strconv.Itoa(1_000_000 + i)
	}
	task, err := tasks.NewStatusBatchTask("floor", "bench:floor", 0, ids)
	if err != nil {
		return f, err
	}
	payload := task.Payload()
	defer rdb.Del(context.WithoutCancel(ctx), key)
	start = time.Now()
	for range batches {
		if err := rdb.LPush(ctx, key, payload).Err(); err != nil {
			return f, fmt.Errorf("bench: floor LPUSH: %w", err)
		}
	}
	for range batches {
		if err := rdb.BRPop(ctx, time.Second, key).Err(); err != nil {
			return f, fmt.Errorf("bench: floor BRPOP: %w", err)
		}
	}
	f.RedisSeconds = time.Since(start).Seconds()
	f.Seconds = f.DBSeconds + f.RedisSeconds
	return f, nil
}

// xactCount is the bench database's committed plus rolled back transactions:
// with autocommit, one per statement.
func xactCount(ctx context.Context, admin *gorm.DB, name string) (int64, error) {
	var n int64
	err := admin.WithContext(ctx).Raw(
		`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = ?`, name).Scan(&n).Error
	return n, err
}

// settledXactCount waits until the count stops moving (backends report their
// statistics up to a second after going idle, and at exit) and returns it.
func settledXactCount(ctx context.Context, admin *gorm.DB, name string) (int64, error) {
	last, err := xactCount(ctx, admin, name)
	if err != nil {
		return 0, err
	}
	for stable := 0; stable < 3; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(600 * time.Millisecond):
		}
		n, err := xactCount(ctx, admin, name)
		if err != nil {
			return 0, err
		}
		if n == last {
			stable++
		} else {
			stable, last = 0, n
		}
	}
	return last, nil
}
