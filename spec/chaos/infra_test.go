package chaos_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/gomega"
)

// This suite owns its Postgres cluster and its Redis server, so that it can
// restart and stop them without disturbing the machine's shared ones that
// other suites use at the same time.

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pgCluster is a throwaway PostgreSQL cluster in a temporary directory,
// initialised with initdb and run with pg_ctl as user postgres (initdb
// refuses root).
type pgCluster struct {
	bin  string // directory of initdb and pg_ctl
	dir  string
	port int
}

// pgBinDir finds the newest /usr/lib/postgresql/<v>/bin.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	Expect(dirs).NotTo(BeEmpty(), "PostgreSQL server binaries are required (scripts/services.sh installs them)")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi < vj
	})
	return filepath.Dir(dirs[len(dirs)-1])
}

// startPGCluster creates and starts a cluster, durable (fsync and synchronous
// commit stay on: a crash must not lose a committed transaction). Local TCP for user postgres
// is trusted; every other role must give its password (scram), so the
// secrets spec can use a real password.
func startPGCluster(ctx context.Context) *pgCluster {
	c := &pgCluster{bin: pgBinDir(), port: freePort()}
	var err error
	c.dir, err = os.MkdirTemp("", "lighthouse526-chaos-pg-")
	Expect(err).NotTo(HaveOccurred())
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		Expect(err).NotTo(HaveOccurred(), "user postgres must exist to run a throwaway cluster as root")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		Expect(os.Chown(c.dir, uid, gid)).To(Succeed())
	}
	c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	hba := "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\nlocal all all trust\n"
	c.writeAsOwner("data/pg_hba.conf", hba)
	c.start(ctx)
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the cluster's URL for database name as user postgres.
func (c *pgCluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

func (c *pgCluster) start(ctx context.Context) {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, c.dir)
	c.run(ctx, "pg_ctl", "-D", c.data(), "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start")
}

// stop stops the cluster at once (mode immediate: like a crash).
func (c *pgCluster) stop(ctx context.Context) {
	c.run(ctx, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "-t", "60", "stop")
}

// destroy stops the cluster if it runs and removes its directory.
func (c *pgCluster) destroy(ctx context.Context) {
	_ = c.cmd(ctx, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").Run()
	Expect(os.RemoveAll(c.dir)).To(Succeed())
}

func (c *pgCluster) cmd(ctx context.Context, tool string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, tool)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

func (c *pgCluster) run(ctx context.Context, tool string, args ...string) {
	cmd := c.cmd(ctx, tool, args...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s: %s", tool, out)
}

func (c *pgCluster) writeAsOwner(rel, content string) {
	path := filepath.Join(c.dir, rel)
	st, err := os.Stat(filepath.Dir(path))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(path, []byte(content), 0o600)).To(Succeed())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		Expect(os.Chown(path, int(sys.Uid), int(sys.Gid))).To(Succeed())
	}
}

// redisServer is a redis-server child process on its own port, with an
// append-only file synced on every write, so that a restart (even after
// SIGKILL) keeps the queues, as a production Redis with persistence does.
type redisServer struct {
	dir      string
	port     int
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *bytes.Buffer
}

func startRedis(password string) *redisServer {
	dir, err := os.MkdirTemp("", "lighthouse526-chaos-redis-")
	Expect(err).NotTo(HaveOccurred())
	r := &redisServer{dir: dir, port: freePort(), password: password}
	r.start()
	return r
}

func (r *redisServer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// URL is the redis:// URL of database 0, with the password when there is one.
func (r *redisServer) URL() string {
	if r.password != "" {
		return fmt.Sprintf("redis://:%s@%s/0", r.password, r.Addr())
	}
	return fmt.Sprintf("redis://%s/0", r.Addr())
}

func (r *redisServer) start() {
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"}
	if r.password != "" {
		args = append(args, "--requirepass", r.password)
	}
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command("redis-server", args...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	Expect(r.cmd.Start()).To(Succeed(), "redis-server is required (scripts/services.sh installs it)")
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.exited)
	Eventually(func() error {
		conn, err := net.DialTimeout("tcp", r.Addr(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	Eventually(func() string {
		out, _ := exec.Command("redis-cli", append(r.cliAuth(), "-p", strconv.Itoa(r.port), "ping")...).Output()
		return strings.TrimSpace(string(out))
	}).WithTimeout(20*time.Second).Should(Equal("PONG"), "redis-server on %d: %s", r.port, r.log)
}

func (r *redisServer) cliAuth() []string {
	if r.password == "" {
		return nil
	}
	return []string{"--no-auth-warning", "-a", r.password}
}

// kill SIGKILLs the server and waits for it to be gone.
func (r *redisServer) kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

// destroy kills the server and removes its directory.
func (r *redisServer) destroy() {
	r.kill()
	Expect(os.RemoveAll(r.dir)).To(Succeed())
}
