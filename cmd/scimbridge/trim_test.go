package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// syncBuffer is a bytes.Buffer the trimmer's goroutine writes while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTrimmer: the trim loop trims every tenant's entries older than the
// retention in batches, up to a live consumer's position, logs what it
// trimmed, and leaves tenants alone whose trim lease another replica holds.
func TestTrimmer(t *testing.T) {
	ctx := store.WithOrigin(context.Background(), store.Origin{Source: store.SourceAdmin, Actor: "test"})
	t0 := time.Now().Add(-40 * 24 * time.Hour)
	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tenant := range []string{"a", "b", "c"} {
		for i := range 7 {
			if _, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User},
				Attrs: map[string]any{"userName": fmt.Sprintf("u%d@example.com", i)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	ea, _ := st.Changes(ctx, "a", 0, 0)
	eb, _ := st.Changes(ctx, "b", 0, 0)
	mu.Lock()
	clock = time.Now() // the entries are 40 days old now
	mu.Unlock()
	// Tenant b has a live consumer at its fourth entry; another replica
	// trims tenant c.
	if _, err := st.AdvanceCursor(ctx, "b", "target", "", 0, eb[3].Seq); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.AcquireLease(ctx, "c", trimLease, "other-replica", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}

	var logs syncBuffer
	tr := &trimmer{st: st, tenants: []string{"a", "b", "c"}, retention: 30 * 24 * time.Hour,
		interval: 10 * time.Millisecond, batch: 3, holder: "this-replica",
		log: slog.New(slog.NewJSONHandler(&logs, nil)), now: time.Now}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); tr.run(rctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), `"journal trimmed"`) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a few more passes: they trim nothing more
	cancel()
	<-done

	type line struct {
		Msg     string `json:"msg"`
		Tenant  string `json:"tenant"`
		Entries int    `json:"entries"`
		Floor   int64  `json:"floor"`
	}
	got := map[string]line{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if v.Msg != "journal trimmed" {
			t.Fatalf("unexpected log line %s", l)
		}
		if _, dup := got[v.Tenant]; dup {
			t.Fatalf("tenant %s trimmed twice: %s", v.Tenant, logs.String())
		}
		got[v.Tenant] = v
	}
	if a := got["a"]; a.Entries != 7 || a.Floor != ea[6].Seq {
		t.Errorf("tenant a: logged %+v, want 7 entries (in batches of 3), floor %d", a, ea[6].Seq)
	}
	if b := got["b"]; b.Entries != 4 || b.Floor != eb[3].Seq {
		t.Errorf("tenant b: logged %+v, want 4 entries up to the consumer at %d", b, eb[3].Seq)
	}
	if _, ok := got["c"]; ok {
		t.Errorf("tenant c trimmed under another replica's lease")
	}
	if cs, err := st.Changes(ctx, "b", eb[3].Seq, 0); err != nil || len(cs) != 3 {
		t.Errorf("tenant b after trimming: %d entries, %v; want 3", len(cs), err)
	}
	if cs, err := st.Changes(ctx, "c", 0, 0); err != nil || len(cs) != 7 {
		t.Errorf("tenant c: %d entries, %v; want 7", len(cs), err)
	}
}

// TestServeTrimsJournal: serve runs the trimmer with journal.retention and
// journal.trimInterval from its configuration, and logs what it trimmed.
func TestServeTrimsJournal(t *testing.T) {
	dir := t.TempDir()
	ctx := store.WithOrigin(context.Background(), store.Origin{Source: store.SourceAdmin, Actor: "test"})
	old := time.Now().Add(-2 * time.Hour)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "scimbridge.db"), sqlite.WithClock(func() time.Time { return old }))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("u%d@example.com", i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfg, []byte("journal:\n  retention: 1h\n  trimInterval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"SCIMBRIDGE_TOKEN": "default-env-token-0123456789"}, "--config", cfg, "--data-dir", dir)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "journal trimmed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.stop(t)
	if out := s.stderr.String(); !strings.Contains(out, "journal trimmed") || !strings.Contains(out, "entries=5") {
		t.Fatalf("serve did not log the trim of 5 entries:\n%s", out)
	}
}
