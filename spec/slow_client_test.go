package spec_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A client that sends its headers, then its body one byte at a time, must not
// hold a connection of any of the worker's HTTP servers: each is closed at
// HTTP_READ_TIMEOUT (short here; the spec asserts the close, not its timing).
var _ = Describe("A client trickling its request body", func() {
	const (
		apiIssuer   = "https://va.gov/spec-issuer"
		apiAudience = "lighthouse526-spec-api"
		apiSecret   = "a-spec-hs256-secret-of-at-least-32-bytes"
	)
	var w *world

	BeforeEach(func() {
		w = newWorld()
		w.env["HTTP_READ_HEADER_TIMEOUT"] = "500ms"
		w.env["HTTP_READ_TIMEOUT"] = "1s"
		w.env["HTTP_IDLE_TIMEOUT"] = "1s"
	})

	// waitServing waits until addr answers path over HTTP.
	waitServing := func(addr, path string) {
		GinkgoHelper()
		Eventually(func() error {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	}

	// trickle opens a connection, sends head with a 1000-byte body announced,
	// then one byte of it every 100ms (for 30s at most, never the whole body),
	// and returns a channel that is closed when the server closes the
	// connection.
	trickle := func(addr, head string) <-chan struct{} {
		GinkgoHelper()
		conn, err := net.Dial("tcp", addr)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)
		_, err = io.WriteString(conn, head+"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		Expect(err).NotTo(HaveOccurred())
		stop := make(chan struct{})
		DeferCleanup(func() { close(stop) })
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for range 300 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			r := bufio.NewReader(conn)
			for {
				_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
				if _, err := r.ReadByte(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					return // EOF or reset: the server closed it
				}
			}
		}()
		return closed
	}

	expectClosed := func(closed <-chan struct{}) {
		GinkgoHelper()
		Eventually(closed).WithTimeout(20*time.Second).Should(BeClosed(), "the server still holds the trickling connection")
	}

	It("is cut off by the metrics server of worker run", func() {
		worker := w.startWorker("--no-scheduler")
		expectClosed(trickle(worker.addr, "POST /metrics HTTP/1.1\r\nHost: "+worker.addr+"\r\n"))
	})

	It("is cut off by the enqueue API, while the handler reads the body", func() {
		addr := freeAddr()
		w.start([]string{"api"}, "API_ADDR="+addr, "METRICS_ADDR=",
			"API_JWT_HS256_SECRET="+apiSecret, "API_JWT_ISSUER="+apiIssuer, "API_JWT_AUDIENCE="+apiAudience)
		waitServing(addr, "/healthz")
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": apiIssuer, "aud": apiAudience, "sub": "spec", "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
		}).SignedString([]byte(apiSecret))
		Expect(err).NotTo(HaveOccurred())
		expectClosed(trickle(addr, fmt.Sprintf("POST /v1/uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", addr, token)))
	})

	It("is cut off by the monitor", func() {
		addr := freeAddr()
		w.start([]string{"monitor"}, "MONITOR_ADDR="+addr, "MONITOR_USERNAME=spec", "MONITOR_PASSWORD=a-spec-password-0123456789")
		waitServing(addr, "/healthz")
		expectClosed(trickle(addr, "POST /monitor/api/queues/"+w.queue+":pause HTTP/1.1\r\nHost: "+addr+"\r\n"))
	})
})
