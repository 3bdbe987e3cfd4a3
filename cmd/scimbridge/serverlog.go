package main

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// serverErrorLog is http.Server's ErrorLog: its lines go to the structured
// log at warn level, except TLS handshake errors, which go to debug. Every
// port scanner and health probe of a load balancer that does not speak TLS
// causes one, so at warn they would bury the lines that matter.
func serverErrorLog(l *slog.Logger) *log.Logger {
	return log.New(serverLogWriter{l}, "", 0)
}

type serverLogWriter struct{ log *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}
