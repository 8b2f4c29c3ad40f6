// Package statsdtest is a stand-in for the Datadog agent in specs: a real UDP
// socket that keeps every DogStatsD line it receives, so a spec can assert
// the exact lines a worker sends.
package statsdtest

import (
	"errors"
	"net"
	"strings"
	"sync"
)

// maxPacket is the largest UDP payload.
const maxPacket = 65535

// Listener receives DogStatsD packets on 127.0.0.1.
type Listener struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// Listen opens a UDP socket on a free port of 127.0.0.1 and starts reading.
func Listen() (*Listener, error) {
	return ListenOn("127.0.0.1:0")
}

// ListenOn opens a UDP socket on addr (host:port) and starts reading.
func ListenOn(addr string) (*Listener, error) {
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, err
	}
	l := &Listener{conn: conn, done: make(chan struct{})}
	go l.read()
	return l, nil
}

// Addr is the host:port to send to (STATSD_ADDR).
func (l *Listener) Addr() string { return l.conn.LocalAddr().String() }

// Lines returns every line received so far, in arrival order (a packet may
// carry several, one per metric).
func (l *Listener) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// LinesWithPrefix returns the lines received so far whose key starts with prefix.
func (l *Listener) LinesWithPrefix(prefix string) []string {
	var out []string
	for _, line := range l.Lines() {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

// Close stops reading and closes the socket.
func (l *Listener) Close() error {
	err := l.conn.Close()
	<-l.done
	return err
}

func (l *Listener) read() {
	defer close(l.done)
	buf := make([]byte, maxPacket)
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		l.mu.Lock()
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line != "" {
				l.lines = append(l.lines, line)
			}
		}
		l.mu.Unlock()
	}
}
