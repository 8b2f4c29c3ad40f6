package statsd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The agent's address is resolved in the background when it does not
// resolve at start (a node's agent not yet in DNS, a typo): a metrics host
// name never decides whether documents are polled. The first attempt is
// made at once; the next after resolveFirstWait, doubling up to
// resolveMaxWait, until it resolves or the client is closed.
const (
	resolveFirstWait = time.Second
	resolveMaxWait   = time.Minute
	// resolveTimeout bounds one lookup.
	resolveTimeout = 5 * time.Second
)

// errUnresolved is what a write returns while the address has not
// resolved: the packet is dropped (and counted as one not sent), the log
// having said once why.
var errUnresolved = errors.New("statsd: the agent's address has not resolved yet")

// lookupFunc resolves a host name to its addresses.
type lookupFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

// resolvingWriter is the client's UDP transport (datadog-go's is resolved
// once, in its constructor, and fails it): a socket connected to the
// agent once its address resolves, and until then a writer that drops.
type resolvingWriter struct {
	addr     string
	host     string
	port     string
	lookup   lookupFunc
	wait     time.Duration // before the second attempt; doubles up to maxWait
	maxWait  time.Duration
	logger   *slog.Logger
	failures prometheus.Counter // nil: not counted

	conn atomic.Pointer[net.UDPConn]
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// start makes the first attempt and, when it fails, says so once and keeps
// trying in the background.
func (w *resolvingWriter) start() {
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	err := w.resolve()
	if err == nil {
		close(w.done)
		return
	}
	w.logger.Warn("StatsD address does not resolve: retrying in the background, StatsD metrics are dropped until it does; polling goes on",
		"statsd_addr", w.addr, "error", err.Error(),
		"retry_first", w.wait.String(), "retry_max", w.maxWait.String())
	go w.retry()
}

// retry resolves again with a doubling wait, until it succeeds or Close.
func (w *resolvingWriter) retry() {
	defer close(w.done)
	wait := w.wait
	for attempts := 2; ; attempts++ {
		t := time.NewTimer(wait)
		select {
		case <-w.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if w.resolve() == nil {
			w.logger.Info("StatsD address resolved: StatsD metrics are sent from now on",
				"statsd_addr", w.addr, "attempts", attempts)
			return
		}
		wait = min(2*wait, w.maxWait)
	}
}

// resolve looks the host up once (bounded) and connects the socket.
func (w *resolvingWriter) resolve() error {
	ip := net.ParseIP(w.host)
	if ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		addrs, err := w.lookup(ctx, w.host)
		cancel()
		if err == nil && len(addrs) == 0 {
			err = errors.New("no address")
		}
		if err != nil {
			if w.failures != nil {
				w.failures.Inc()
			}
			return err
		}
		ip = preferIPv4(addrs)
	}
	port, err := net.LookupPort("udp", w.port)
	if err != nil {
		return err // config.ValidateStatsDAddr made it a number: not reached
	}
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		if w.failures != nil {
			w.failures.Inc()
		}
		return err
	}
	w.conn.Store(conn)
	return nil
}

// preferIPv4 picks the first IPv4 address, as net.ResolveUDPAddr does.
func preferIPv4(addrs []net.IPAddr) net.IP {
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP
		}
	}
	return addrs[0].IP
}

// Write sends one packet, or drops it while the address has not resolved.
func (w *resolvingWriter) Write(p []byte) (int, error) {
	conn := w.conn.Load()
	if conn == nil {
		return 0, errUnresolved
	}
	return conn.Write(p)
}

// Close stops the retries and closes the socket.
func (w *resolvingWriter) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	if conn := w.conn.Load(); conn != nil {
		return conn.Close()
	}
	return nil
}
