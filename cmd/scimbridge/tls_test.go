package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testcert"
)

// replaceFile writes b to path through a rename, as a renewal does.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// servedCN returns the common name of the certificate addr serves, without
// verifying it.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestServeTLS serves HTTPS with a certificate made here, checks the
// protocol floor, renews the pair (served from the next handshake on),
// then renews it badly (the old pair stays, and the log says why); the
// health check follows the config to HTTPS; /metrics wants its token.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testcert.Write(t, dir, "first")
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	yaml := "tls:\n  certFile: first.crt\n  keyFile: first.key\n  reloadInterval: 1s\nmetrics:\n  token:\n    env: METRICS_TOKEN\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data"),
		"SCIMBRIDGE_TOKEN":    "tls-test-token-0123456789",
		"METRICS_TOKEN":       "metrics-token-0123456789",
	}
	s := startServe(t, env, "--config", cfgPath)
	if !strings.HasPrefix(s.base, "https://127.0.0.1:") {
		t.Fatalf("base URL %q: want https", s.base)
	}
	root := strings.TrimSuffix(s.base, "/scim/v2")
	addr := strings.TrimPrefix(root, "https://")

	// A client that trusts the certificate provisions over HTTPS.
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", s.base+"/Users", nil)
	req.Header.Set("Authorization", "Bearer "+env["SCIMBRIDGE_TOKEN"])
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS with the certificate trusted: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("GET /Users over HTTPS: %d, TLS %+v", res.StatusCode, res.TLS)
	}
	// TLS 1.1 is refused.
	if conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// /metrics over HTTPS wants its token.
	for token, want := range map[string]int{"": http.StatusUnauthorized, env["SCIMBRIDGE_TOKEN"]: http.StatusUnauthorized, env["METRICS_TOKEN"]: http.StatusOK} {
		req, _ := http.NewRequest("GET", root+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || (want == http.StatusOK) != strings.Contains(string(body), "scimbridge_http_requests_total") {
			t.Errorf("/metrics with token %q: %d, want %d", token, res.StatusCode, want)
		}
	}

	// The health check reads the scheme from the config (and the port from
	// SCIMBRIDGE_LISTEN, as serve does): HTTPS on loopback, the
	// certificate not verified (a public certificate never names
	// 127.0.0.1).
	hcEnv := map[string]string{"SCIMBRIDGE_LISTEN": addr, "METRICS_TOKEN": env["METRICS_TOKEN"], "SCIMBRIDGE_DATA_DIR": env["SCIMBRIDGE_DATA_DIR"]}
	if out, _, err := runCmd(t, hcEnv, "healthcheck", "--config", cfgPath); err != nil || out != "ok\n" {
		t.Errorf("healthcheck --config (TLS): %v %q", err, out)
	}
	hcEnv["SCIMBRIDGE_CONFIG"] = cfgPath
	if _, _, err := runCmd(t, hcEnv, "healthcheck"); err != nil {
		t.Errorf("healthcheck with SCIMBRIDGE_CONFIG (TLS): %v", err)
	}
	if _, _, err := runCmd(t, nil, "healthcheck", "--url", "http://"+addr+"/readyz"); err == nil {
		t.Error("plain HTTP to the HTTPS port passed the health check")
	}

	// Renewal: a new pair is served from the next handshake on.
	if got := servedCN(t, addr); got != "first" {
		t.Fatalf("serving %q", got)
	}
	second, secondKey := testcert.New(t, "second")
	replaceFile(t, keyFile, secondKey)
	replaceFile(t, certFile, second)
	deadline := time.Now().Add(10 * time.Second)
	for servedCN(t, addr) != "second" {
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served\nstderr:\n%s", s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A bad renewal (a certificate without its key) keeps the current pair.
	third, _ := testcert.New(t, "third")
	replaceFile(t, certFile, third)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "new TLS certificate rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("the bad renewal was not logged\nstderr:\n%s", s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), "private key does not match public key") {
		t.Errorf("the log does not say why the pair was rejected:\n%s", s.stderr)
	}
	if got := servedCN(t, addr); got != "second" {
		t.Errorf("after a bad renewal serving %q, want second", got)
	}
	// The bridge still serves its current pair, so it is healthy: a health
	// check that failed here would get it restarted into a start that fails.
	if out, _, err := runCmd(t, hcEnv, "healthcheck"); err != nil || out != "ok\n" {
		t.Errorf("healthcheck with a bad renewal on disk: %v %q", err, out)
	}
	s.stop(t)
}

// TestServeTLSBadPair: serve refuses to start without a usable pair, and
// says which files.
func TestServeTLSBadPair(t *testing.T) {
	dir := t.TempDir()
	certFile, _ := testcert.Write(t, dir, "a")
	_, keyFile := testcert.Write(t, dir, "b")
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("tls:\n  certFile: "+certFile+"\n  keyFile: "+keyFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, map[string]string{"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}, "serve", "--listen", "127.0.0.1:0", "--config", cfgPath)
	if err == nil || !strings.Contains(err.Error(), "a.crt") || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("serve with a mismatched pair: %v", err)
	}
}

// TestServeDebugListener: debug.listen serves pprof on its own loopback
// listener, never on the API's.
func TestServeDebugListener(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("debug:\n  listen: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}, "--config", cfgPath)
	m := regexp.MustCompile(`pprof debug listener started.* addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no debug listener logged:\n%s", s.stderr)
	}
	for path, want := range map[string]string{
		"/debug/pprof/":                     "goroutine",
		"/debug/pprof/cmdline":              "scimbridge",
		"/debug/pprof/goroutine?debug=1":    "goroutine profile",
		"/debug/pprof/profile?seconds=1":    "", // a CPU profile (binary)
		"/debug/pprof/heap":                 "",
		"/debug/pprof/symbol":               "num_symbols",
		"/debug/pprof/trace?seconds=0.1":    "",
		"/debug/pprof/threadcreate?debug=1": "threadcreate",
	} {
		res, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) || len(body) == 0 {
			t.Errorf("GET %s: %d %.100q", path, res.StatusCode, body)
		}
	}
	root := strings.TrimSuffix(s.base, "/scim/v2")
	if code := do(t, "GET", root+"/debug/pprof/", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("pprof on the API listener: %d", code)
	}
	s.stop(t)
	if _, err := http.Get("http://" + m[1] + "/debug/pprof/"); err == nil {
		t.Error("the debug listener outlives serve")
	}
}

// TestServeDebugListenerRefused: a non-loopback debug.listen without
// debug.allowNonLoopback is a configuration error.
func TestServeDebugListenerRefused(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("debug:\n  listen: 0.0.0.0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, map[string]string{"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}, "serve", "--listen", "127.0.0.1:0", "--config", cfgPath)
	if err == nil || !strings.Contains(err.Error(), "debug.listen") || !strings.Contains(err.Error(), "debug.allowNonLoopback") {
		t.Errorf("serve with debug.listen on every interface: %v", err)
	}
}
