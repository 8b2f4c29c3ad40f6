package spectest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
)

// RedisServer is a throwaway redis-server of one spec, on a port of its own,
// that the spec may stop and start again (on the same port) to play an
// outage. It keeps nothing on disk.
type RedisServer struct {
	Addr string
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedisServer starts a redis-server on a free port; it is killed when
// the spec ends.
func StartRedisServer() *RedisServer {
	GinkgoHelper()
	s := &RedisServer{port: FreePort(), dir: GinkgoT().TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.Start()
	DeferCleanup(s.Stop)
	return s
}

// Start runs the server and waits until it answers PING.
func (s *RedisServer) Start() {
	GinkgoHelper()
	Expect(s.cmd).To(BeNil(), "redis-server is already running")
	s.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(s.cmd.Start()).To(Succeed(), "redis-server must be installed")
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	Eventually(func() error { return c.Ping(context.Background()).Err() }).
		WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).
		Should(Succeed(), "redis-server on %s did not start", s.Addr)
}

// Stop kills the server and waits for it to exit: every connection to it
// breaks, as in an outage.
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	// Wait until the port refuses connections, so the outage is real.
	Eventually(func() error {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			return nil
		}
		_ = conn.Close()
		return fmt.Errorf("%s still accepts connections", s.Addr)
	}).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
