package dbtest

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
)

// StatementCounter counts the statements a pool sends Postgres, whatever
// layer sends them (GORM, database/sql, pgx or its protocol layer), by
// reading the messages written on the connections it wraps: each Bind (the
// extended protocol's one per statement run) and each simple Query but
// pgx's pings ("-- ping", sent when database/sql reuses a connection idle
// for a second). Preparing a statement runs nothing and is not counted.
type StatementCounter struct {
	n atomic.Int64
}

// Load is the number of statements sent so far.
func (c *StatementCounter) Load() int64 { return c.n.Load() }

// Reset sets the count to zero.
func (c *StatementCounter) Reset() { c.n.Store(0) }

// Wrap is a db.Options.WrapConn.
func (c *StatementCounter) Wrap(conn net.Conn) net.Conn {
	return &countingConn{Conn: conn, statements: &c.n}
}

// ping is the whole body of pgx's ping message, a simple Query.
const ping = "-- ping\x00"

// countingConn reads the frontend's messages as they are written: a startup
// message (length-prefixed, no type byte), then messages of a type byte
// and a length that counts itself but not the type.
type countingConn struct {
	net.Conn
	statements *atomic.Int64

	mu      sync.Mutex
	started bool   // the startup message has been seen
	header  []byte // the current message's header, as far as written
	typ     byte   // the current message's type, once its header is whole
	skip    int    // bytes of its body still to come
	text    []byte // the start of a Query's body, up to len(ping)+1 bytes
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.scan(p)
	return c.Conn.Write(p)
}

func (c *countingConn) scan(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(p))
			if c.typ == 'Q' && len(c.text) <= len(ping) {
				c.text = append(c.text, p[:min(k, len(ping)+1-len(c.text))]...)
			}
			c.skip, p = c.skip-k, p[k:]
			if c.skip == 0 {
				c.end()
			}
			continue
		}
		size := 5
		if !c.started {
			size = 4
		}
		k := min(size-len(c.header), len(p))
		c.header, p = append(c.header, p[:k]...), p[k:]
		if len(c.header) < size {
			return
		}
		c.typ = 0
		if c.started {
			c.typ = c.header[0]
		}
		c.started, c.skip = true, int(binary.BigEndian.Uint32(c.header[size-4:]))-4
		c.header, c.text = c.header[:0], c.text[:0]
		if c.skip <= 0 {
			c.skip = 0
			c.end()
		}
	}
}

// end counts the message just read whole.
func (c *countingConn) end() {
	switch {
	case c.typ == 'B':
		c.statements.Add(1)
	case c.typ == 'Q' && string(c.text) != ping:
		c.statements.Add(1)
	}
}
