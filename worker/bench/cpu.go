package bench

import (
	"context"
	"os"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// CPU is the CPU time (user + system) each party spent during the cycle: a
// figure a busy machine distorts much less than wall time.
type CPU struct {
	Workers  float64 `json:"workers_seconds"`
	Postgres float64 `json:"postgres_seconds"` // the bench database's backends
	Bench    float64 `json:"bench_seconds"`    // this process: the fake Lighthouse and the progress queries
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procCPU returns the CPU seconds of a process so far, 0 if it is gone.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses:
	// utime and stime are the 14th and 15th fields of the line.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// cpuSnapshot is the CPU seconds of every process of interest at one time.
type cpuSnapshot struct {
	workers  map[int]float64
	backends map[int]float64
	self     float64
}

// snapshotCPU reads the workers', the bench database's backends' and this
// process's CPU seconds (backends are found in pg_stat_activity, so the
// server must be local).
func snapshotCPU(ctx context.Context, admin *gorm.DB, database string, f *fleet) cpuSnapshot {
	s := cpuSnapshot{workers: map[int]float64{}, backends: map[int]float64{}, self: procCPU(os.Getpid())}
	for _, p := range f.procs {
		s.workers[p.Process.Pid] = procCPU(p.Process.Pid)
	}
	var pids []int
	_ = admin.WithContext(ctx).Raw(`SELECT pid FROM pg_stat_activity WHERE datname = ?`, database).Scan(&pids).Error
	for _, pid := range pids {
		s.backends[pid] = procCPU(pid)
	}
	return s
}

// since is the CPU spent between an earlier snapshot and s.
func (s cpuSnapshot) since(before cpuSnapshot) CPU {
	var c CPU
	for pid, t := range s.workers {
		c.Workers += t - before.workers[pid]
	}
	for pid, t := range s.backends {
		c.Postgres += t - before.backends[pid]
	}
	c.Bench = s.self - before.self
	return c
}
