package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, &out, &errb); err != nil {
		t.Fatalf("ready: %v", err)
	}
	status = http.StatusServiceUnavailable
	err := run(context.Background(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, &out, &errb)
	if err == nil || exitCode(err, &errb) != 1 {
		t.Fatalf("unready: %v", err)
	}
	srv.Close()
	if err := run(context.Background(), []string{"healthcheck", "--url", srv.URL}, &out, &errb); err == nil {
		t.Fatal("closed server: no error")
	}
}
