package certreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testcert"
)

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func cn(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate: %v %v", c, err)
	}
	return c.Leaf.Subject.CommonName
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	// Written to a temporary file and renamed, so a concurrent Reload never
	// reads half a file (as cert-manager's swap guarantees).
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReloadInPlace(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testcert.Write(t, dir, "one")
	var logs logBuf
	r, err := New(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cn(t, r); got != "one" {
		t.Fatalf("serving %q", got)
	}
	if cfg := r.TLSConfig(); cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil {
		t.Errorf("TLSConfig %+v", cfg)
	}
	// Unchanged files: nothing happens.
	if changed, err := r.Reload(); changed || err != nil {
		t.Errorf("unchanged files: %v %v", changed, err)
	}

	// A renewal.
	cert2, key2 := testcert.New(t, "two")
	write(t, certFile, cert2)
	write(t, keyFile, key2)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("renewal: %v %v", changed, err)
	}
	if got := cn(t, r); got != "two" {
		t.Fatalf("after renewal serving %q", got)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") || !strings.Contains(logs.String(), "CN=two") {
		t.Errorf("renewal not logged:\n%s", &logs)
	}

	// A bad renewal: the certificate is new, the key is not its key. The
	// current pair stays, and the reason is logged once.
	cert3, _ := testcert.New(t, "three")
	write(t, certFile, cert3)
	for i := 0; i < 3; i++ {
		changed, err := r.Reload()
		if changed || (i == 0 && err == nil) {
			t.Fatalf("bad renewal, reload %d: changed %v, err %v", i, changed, err)
		}
	}
	if got := cn(t, r); got != "two" {
		t.Fatalf("after a bad renewal serving %q, want the old pair", got)
	}
	if n := strings.Count(logs.String(), "new TLS certificate rejected"); n != 1 {
		t.Errorf("the bad pair was logged %d times, want once:\n%s", n, &logs)
	}
	if !strings.Contains(logs.String(), "private key does not match public key") {
		t.Errorf("the log does not say why:\n%s", &logs)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log shows the key")
	}

	// The key follows: the pair is whole again and served.
	writeMatching(t, certFile, keyFile, "four")
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("fixed renewal: %v %v", changed, err)
	}
	if got := cn(t, r); got != "four" {
		t.Fatalf("serving %q", got)
	}

	// A file that disappears keeps the pair too.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); changed || err == nil {
		t.Errorf("missing key: %v %v", changed, err)
	}
	if got := cn(t, r); got != "four" {
		t.Errorf("serving %q", got)
	}
	if !strings.Contains(logs.String(), "TLS files cannot be read") {
		t.Errorf("missing key not logged:\n%s", &logs)
	}
}

// writeMatching writes a new pair named name over certFile and keyFile.
func writeMatching(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	c, k := testcert.New(t, name)
	write(t, keyFile, k)
	write(t, certFile, c)
}

// TestReloadSymlinkSwap renews the way a Kubernetes secret volume (and so
// cert-manager) does: the files are symlinks through ..data, a symlink to a
// timestamped directory, and renewal points ..data at a new directory.
// The files' own paths and symlinks never change.
func TestReloadSymlinkSwap(t *testing.T) {
	vol := t.TempDir()
	gen := func(name string) string {
		d := filepath.Join(vol, "..2026_"+name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		c, k := testcert.New(t, name)
		write(t, filepath.Join(d, "tls.crt"), c)
		write(t, filepath.Join(d, "tls.key"), k)
		return filepath.Base(d)
	}
	swap := func(target string) {
		tmp := filepath.Join(vol, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	swap(gen("first"))
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(vol, f)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(filepath.Join(vol, "tls.crt"), filepath.Join(vol, "tls.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cn(t, r); got != "first" {
		t.Fatalf("serving %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	swap(gen("second"))
	deadline := time.Now().Add(5 * time.Second)
	for cn(t, r) != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the swapped pair was not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRefusesBadPair(t *testing.T) {
	dir := t.TempDir()
	certA, _ := testcert.Write(t, dir, "a")
	_, keyB := testcert.Write(t, dir, "b")
	if _, err := New(certA, keyB, nil); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("mismatched pair: %v", err)
	}
	if _, err := New(filepath.Join(dir, "nope.crt"), keyB, nil); err == nil || !strings.Contains(err.Error(), "nope.crt") {
		t.Errorf("missing file: %v", err)
	}
}

// TestReloadRefusesOutOfDatePair checks that a renewal whose certificate
// has expired, or is not valid yet, never replaces the pair in service, and
// that the log says why; once the files hold a valid pair it is served.
func TestReloadRefusesOutOfDatePair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testcert.Write(t, dir, "good")
	var logs logBuf
	r, err := New(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, validity := range map[string][2]time.Time{
		"expired": {now.Add(-48 * time.Hour), now.Add(-time.Hour)},
		"not-yet": {now.Add(time.Hour), now.Add(48 * time.Hour)},
	} {
		c, k := testcert.NewValid(t, name, validity[0], validity[1])
		write(t, keyFile, k)
		write(t, certFile, c)
		if changed, err := r.Reload(); changed || err == nil {
			t.Errorf("%s: changed %v, err %v", name, changed, err)
		}
		if got := cn(t, r); got != "good" {
			t.Errorf("%s: serving %q, want the old pair", name, got)
		}
	}
	for _, want := range []string{"the certificate expired at", "the certificate is not valid before"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, &logs)
		}
	}
	if _, err := New(certFile, keyFile, nil); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Errorf("New with a not-yet-valid pair: %v", err)
	}
	writeMatching(t, certFile, keyFile, "renewed")
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("valid renewal: %v %v", changed, err)
	}
	if got := cn(t, r); got != "renewed" {
		t.Errorf("serving %q", got)
	}
}
