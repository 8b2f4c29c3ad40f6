package chaos_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// replica is one `worker run` process under a supervisor that restarts it
// whenever it exits, as a container orchestrator would, until stopped.
type replica struct {
	name        string
	env         []string
	logPath     string
	metricsAddr string

	mu       sync.Mutex
	cmd      *exec.Cmd
	starts   int
	stopping bool
	done     chan struct{}
}

// startReplicas starts n supervised replicas with env, each with its own
// METRICS_ADDR; their JSON logs go to files in dir (one per replica,
// appended across restarts).
func startReplicas(n int, env []string, dir string) []*replica {
	rs := make([]*replica, n)
	for i := range rs {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		rs[i] = &replica{
			name: fmt.Sprintf("worker-%d", i+1), metricsAddr: addr,
			env:     append(append([]string(nil), env...), "METRICS_ADDR="+addr),
			logPath: filepath.Join(dir, fmt.Sprintf("worker-%d.log", i+1)),
			done:    make(chan struct{}),
		}
		go rs[i].supervise()
	}
	return rs
}

func (r *replica) supervise() {
	defer GinkgoRecover()
	defer close(r.done)
	log, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	Expect(err).NotTo(HaveOccurred())
	defer log.Close()
	for {
		r.mu.Lock()
		if r.stopping {
			r.mu.Unlock()
			return
		}
		cmd := exec.Command(workerBin, "run", "--no-scheduler")
		cmd.Env = r.env
		cmd.Stdout, cmd.Stderr = io.Discard, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			r.mu.Unlock()
			Fail("start worker: " + err.Error())
			return
		}
		r.cmd = cmd
		r.starts++
		r.mu.Unlock()
		_ = cmd.Wait()
		// A replica that died (killed, or could not start while Postgres
		// was down) comes back after a short pause.
		r.mu.Lock()
		stopping := r.stopping
		r.mu.Unlock()
		if stopping {
			return
		}
		<-time.After(300 * time.Millisecond)
	}
}

// kill SIGKILLs the replica's current process; the supervisor restarts it.
func (r *replica) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// stop ends the replica: SIGTERM (graceful shutdown), SIGKILL after 15s.
func (r *replica) stop() {
	r.mu.Lock()
	r.stopping = true
	cmd := r.cmd
	r.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-r.done
	}
}

// restarts is how many times the process was started beyond the first.
func (r *replica) restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts - 1
}

func stopAll(rs []*replica) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop() }()
	}
	wg.Wait()
}

// killRandom SIGKILLs one replica picked at random.
func killRandom(rs []*replica, rng *rand.Rand) {
	rs[rng.IntN(len(rs))].kill()
}
