package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestServerErrorLog checks that TLS handshake errors (any scanner causes
// them) are logged at debug and other server errors at warn.
func TestServerErrorLog(t *testing.T) {
	var buf bytes.Buffer
	l := serverErrorLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("http: TLS handshake error from 192.0.2.1:5555: EOF")
	l.Printf("http: Accept error: too many open files; retrying in 5ms")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log:\n%s", buf.String())
	}
	if !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "TLS handshake error from 192.0.2.1:5555") {
		t.Errorf("handshake error: %s", lines[0])
	}
	if !strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[1], "Accept error") {
		t.Errorf("accept error: %s", lines[1])
	}
}
