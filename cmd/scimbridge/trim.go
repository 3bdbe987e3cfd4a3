package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
)

// Journal retention: serve trims each tenant's journal of the entries older
// than journal.retention (store.Journal.Trim, which never trims past a live
// consumer).

// trimLease is the per-tenant lease that lets one replica at a time trim.
const trimLease = "journal/trim"

// trimBatch is how many entries one Trim deletes: one write transaction on
// SQLite, whose single writer queues the SCIM writes meanwhile, so it is
// kept to a few milliseconds.
const trimBatch = 1000

// trimmer trims the journals of tenants every interval.
type trimmer struct {
	st        store.Store
	tenants   []string
	retention time.Duration
	interval  time.Duration
	batch     int
	holder    string // this replica, for the lease
	log       *slog.Logger
	now       func() time.Time
}

// startTrimmer starts trimming the configured tenants' journals in the
// background (nothing when journal.retention is 0) and returns a function
// that stops it and waits for it.
func startTrimmer(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) func() {
	if cfg.Journal.Retention <= 0 {
		log.Info("journal retention off: entries are kept forever")
		return func() {}
	}
	t := &trimmer{st: st, tenants: cfg.TenantNames(), retention: cfg.Journal.Retention,
		interval: cfg.Journal.TrimInterval, batch: trimBatch, holder: replicaID(), log: log, now: time.Now}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// replicaID names this process among the replicas sharing a store.
func replicaID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}

// run trims every interval, the first time right away, until ctx ends.
func (t *trimmer) run(ctx context.Context) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		t.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pass trims each tenant whose trim lease this replica gets, batch after
// batch until one comes back short, and logs what it trimmed.
func (t *trimmer) pass(ctx context.Context) {
	// The lease outlives an interval, so its holder keeps it from pass to
	// pass; another replica takes over once it has stopped for two.
	ttl := 2*t.interval + time.Minute
	for _, tenant := range t.tenants {
		ok, err := t.st.AcquireLease(ctx, tenant, trimLease, t.holder, ttl)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Warn("journal trim: lease", "tenant", tenant, "err", err)
			}
			continue
		}
		if !ok {
			continue // another replica trims this tenant
		}
		before := t.now().Add(-t.retention)
		total := 0
		for ctx.Err() == nil {
			n, err := t.st.Trim(ctx, tenant, before, t.batch)
			total += n
			if err != nil {
				if ctx.Err() == nil {
					t.log.Warn("journal trim", "tenant", tenant, "trimmed", total, "err", err)
				}
				break
			}
			if n < t.batch {
				break
			}
		}
		if total == 0 {
			continue
		}
		floor, err := t.st.TrimFloor(ctx, tenant)
		if err != nil {
			floor = -1
		}
		t.log.Info("journal trimmed", "tenant", tenant, "entries", total, "floor", floor,
			"before", before.UTC().Format(time.RFC3339))
	}
}
