package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fleet is the worker processes of one run (or the one in-process server).
type fleet struct {
	procs   []*exec.Cmd
	exited  []chan error
	addrs   []string // METRICS_ADDR of each worker
	stopIn  func()   // in-process mode
	logFile *os.File
}

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startFleet starts o.Workers children `<exe> run --no-scheduler` with env,
// or, with Workers 0, o.InProcess once; and waits until each answers /readyz.
func startFleet(ctx context.Context, o *Options, env map[string]string) (*fleet, error) {
	f := &fleet{}
	if o.Workers == 0 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		env["METRICS_ADDR"] = addr
		stop, err := o.InProcess(ctx, environ(env, false))
		if err != nil {
			return nil, fmt.Errorf("bench: in-process worker: %w", err)
		}
		f.stopIn, f.addrs = stop, []string{addr}
		return f, f.waitReady(ctx)
	}
	logPath := o.WorkerLog
	if logPath == "" {
		logPath = os.DevNull
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bench: --worker-log: %w", err)
	}
	f.logFile = lf
	for range o.Workers {
		addr, err := freeAddr()
		if err != nil {
			f.stop()
			return nil, err
		}
		env["METRICS_ADDR"] = addr
		cmd := exec.Command(o.Executable, "run", "--no-scheduler")
		cmd.Env = environ(env, true)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			f.stop()
			return nil, fmt.Errorf("bench: start a worker: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		f.procs = append(f.procs, cmd)
		f.exited = append(f.exited, done)
		f.addrs = append(f.addrs, addr)
	}
	if err := f.waitReady(ctx); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// environ is the process environment with env's settings on top. Children
// get the parent's environment (PATH, HOME...) minus any setting of the
// product that env does not set itself.
func environ(env map[string]string, inherit bool) []string {
	var out []string
	if inherit {
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if _, ours := env[k]; !ours && !productVar(k) {
				out = append(out, kv)
			}
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// productVar reports whether k configures the worker (and must not leak from
// the bench's own environment into its workers).
func productVar(k string) bool {
	for _, p := range []string{"DATABASE_", "DB_", "REDIS_", "LIGHTHOUSE_", "POLL_", "PROCESSING_", "QUEUE_", "WORKER_", "SHUTDOWN_", "FAILURE_", "NOTIFICATION_", "METRICS_", "LOG_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// waitReady polls each worker's /readyz for up to 30s.
func (f *fleet) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i, addr := range f.addrs {
		for {
			if i < len(f.exited) {
				select {
				case err := <-f.exited[i]:
					f.exited[i] <- err
					return fmt.Errorf("bench: worker %d exited while starting (%w): rerun with --worker-log FILE to see why", i+1, err)
				default:
				}
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("bench: worker %d not ready at %s: %w", i+1, addr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// peakRSS returns each worker's VmHWM in bytes (the bench process's own in
// in-process mode).
func (f *fleet) peakRSS() ([]int64, error) {
	pids := []int{os.Getpid()}
	if len(f.procs) > 0 {
		pids = pids[:0]
		for _, p := range f.procs {
			pids = append(pids, p.Process.Pid)
		}
	}
	out := make([]int64, 0, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			return nil, fmt.Errorf("bench: peak RSS of %d: %w", pid, err)
		}
		out = append(out, vmHWM(string(b)))
	}
	return out, nil
}

// vmHWM reads the VmHWM line ("VmHWM:   123456 kB") of /proc/<pid>/status.
func vmHWM(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// stop shuts every worker down (SIGTERM, then SIGKILL after 20s) and waits.
func (f *fleet) stop() {
	if f.stopIn != nil {
		f.stopIn()
		f.stopIn = nil
	}
	for _, p := range f.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for i, p := range f.procs {
		select {
		case <-f.exited[i]: //nolint:errcheck // how a stopped child exited does not matter here
		case <-time.After(20 * time.Second):
			_ = p.Process.Kill()
			<-f.exited[i] //nolint:errcheck // killed: its exit status is known
		}
	}
	f.procs, f.exited = nil, nil
	if f.logFile != nil {
		_ = f.logFile.Close()
		f.logFile = nil
	}
}

var errNoWorkers = errors.New("bench: --workers 0 needs an in-process server")
