package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestIdleConnectionClosesQuietly: a socket opened and left unused (as
// browsers pre-open them) is closed when the read timeout passes, with
// nothing written on it: a body there would be read by the browser as the
// answer to its next request. A request sent in time is answered as ever.
func TestIdleConnectionClosesQuietly(t *testing.T) {
	a := newTestAPI(t, "sqlite", Config{ReadTimeout: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = a.srv.App().Shutdown() })

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(idle)
	if err != nil {
		t.Fatalf("the idle connection was not closed: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("the idle connection got %d bytes before closing:\n%s", len(got), got)
	}

	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := busy.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a request in time: %v, %v", resp, err)
	}
}
