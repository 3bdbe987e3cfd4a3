package pull

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// RunRecord is what a run did, as stored and listed.
type RunRecord struct {
	ID, Tenant        string
	Source            store.Source
	Trigger           Trigger
	DryRun, Full      bool
	Started, Finished time.Time // Finished zero while running
	Outcome           string    // "running" | "succeeded" | "failed"
	Counts            Counts
	Skips             map[string]int // reason -> count
	Errors            []string       // the first errors (at most 20)
	Holder            string
}

// The outcomes of a run.
const (
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
)

// Counts are a run's counters.
type Counts struct {
	Created, Updated, Disabled, Deleted, Unchanged, Skipped, Errors int
	Unmatched                                                       int // full round: resources of the tenant not from this source, never touched
	Pages, Users, Groups, Memberships                               int // observed
}

// PlanItem is one change a dry run would make.
type PlanItem struct {
	Seq      int
	Kind     store.Kind
	ObjectID string   // source object id
	ID       string   // bridge id ("" for a create)
	Name     string   // userName / displayName
	Action   string   // "create" | "update" | "disable" | "delete" | "unmatched"
	Changed  []string // attribute paths (update), member adds/removes summarised
}

// The plan actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionDisable   = "disable"
	ActionDelete    = "delete"
	ActionUnmatched = "unmatched"
)

const (
	// maxErrors bounds the errors a run record keeps.
	maxErrors = 20
	// keepRuns is how many run records a tenant keeps.
	keepRuns = 50
	// planPageSize is how many plan items one state record holds, so that a
	// plan of a whole tenant never becomes one large document.
	planPageSize = 500
)

func (rec *RunRecord) addError(msg string) {
	rec.Counts.Errors++
	if len(rec.Errors) < maxErrors {
		rec.Errors = append(rec.Errors, msg)
	}
}

// maxSkipReasons bounds the distinct skip reasons a record keeps: a
// source that puts an object's data in its reasons must not make the
// record grow with the directory.
const maxSkipReasons = 50

// SkipOther counts the skips beyond maxSkipReasons distinct reasons.
const SkipOther = "other reasons"

func (rec *RunRecord) skip(reason string) {
	rec.Counts.Skipped++
	if rec.Skips == nil {
		rec.Skips = map[string]int{}
	}
	if _, ok := rec.Skips[reason]; !ok && len(rec.Skips) >= maxSkipReasons {
		reason = SkipOther
	}
	rec.Skips[reason]++
}

// newRunID returns an id that sorts by start time, so that the records'
// keys list oldest first.
func newRunID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000000000Z") + "-" + randomHex(3)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func (e *Engine) putRecord(ctx context.Context, rec RunRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("pull: encode the run record: %w", err)
	}
	if _, err := e.st.PutState(ctx, rec.Tenant, keyRunPrefix+rec.ID, b, -1); err != nil {
		return fmt.Errorf("pull: write the run record: %w", err)
	}
	return nil
}

// Runs returns the tenant's run records, newest first, at most limit
// (limit <= 0: all kept).
func (e *Engine) Runs(ctx context.Context, tenant string, limit int) ([]RunRecord, error) {
	ents, err := e.st.ListState(ctx, tenant, keyRunPrefix)
	if err != nil {
		return nil, fmt.Errorf("pull: list runs: %w", err)
	}
	out := make([]RunRecord, 0, len(ents))
	for i := len(ents) - 1; i >= 0; i-- {
		if limit > 0 && len(out) == limit {
			break
		}
		var rec RunRecord
		if err := json.Unmarshal(ents[i].Value, &rec); err != nil {
			return nil, fmt.Errorf("pull: decode run record %s: %w", ents[i].Key, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// GetRun returns one run record: store.ErrNotFound if there is none.
func (e *Engine) GetRun(ctx context.Context, tenant, id string) (RunRecord, error) {
	if id == "" || strings.Contains(id, "/") {
		return RunRecord{}, fmt.Errorf("pull: run %q: %w", id, store.ErrNotFound)
	}
	ent, err := e.st.GetState(ctx, tenant, keyRunPrefix+id)
	if err != nil {
		return RunRecord{}, fmt.Errorf("pull: run %q: %w", id, err)
	}
	var rec RunRecord
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return RunRecord{}, fmt.Errorf("pull: decode run record %q: %w", id, err)
	}
	return rec, nil
}

// Plan returns a dry run's plan items with Seq > after, at most limit
// (limit <= 0: all), in Seq order. store.ErrNotFound if there is no such
// run; a run that planned nothing (or was no dry run) has no items.
func (e *Engine) Plan(ctx context.Context, tenant, runID string, after, limit int) ([]PlanItem, error) {
	if _, err := e.GetRun(ctx, tenant, runID); err != nil {
		return nil, err
	}
	out := []PlanItem{}
	// Pages hold items Seq 1..500, 501..1000, ...: start at the page of after+1.
	for page := after / planPageSize; ; page++ {
		ent, err := e.st.GetState(ctx, tenant, planKey(runID, page))
		if errors.Is(err, store.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pull: read plan of run %q: %w", runID, err)
		}
		var items []PlanItem
		if err := json.Unmarshal(ent.Value, &items); err != nil {
			return nil, fmt.Errorf("pull: decode plan of run %q: %w", runID, err)
		}
		for _, it := range items {
			if it.Seq <= after {
				continue
			}
			if limit > 0 && len(out) == limit {
				return out, nil
			}
			out = append(out, it)
		}
	}
}

func planKey(runID string, page int) string {
	return fmt.Sprintf("%s%s/%08d", keyPlanPrefix, runID, page)
}

// trimRuns deletes the tenant's oldest run records (and their plans)
// beyond keepRuns.
func (e *Engine) trimRuns(ctx context.Context, tenant string) error {
	ents, err := e.st.ListState(ctx, tenant, keyRunPrefix)
	if err != nil {
		return err
	}
	if len(ents) <= keepRuns {
		return nil
	}
	for _, ent := range ents[:len(ents)-keepRuns] {
		id := strings.TrimPrefix(ent.Key, keyRunPrefix)
		pages, err := e.st.ListState(ctx, tenant, keyPlanPrefix+id+"/")
		if err != nil {
			return err
		}
		for _, p := range pages {
			if err := e.st.DeleteState(ctx, tenant, p.Key); err != nil {
				return err
			}
		}
		if err := e.st.DeleteState(ctx, tenant, ent.Key); err != nil {
			return err
		}
	}
	return nil
}

// planWriter collects a dry run's plan items and writes them a page at a time.
type planWriter struct {
	st     store.Store
	tenant string
	runID  string
	seq    int
	page   int
	buf    []PlanItem
}

func (p *planWriter) add(ctx context.Context, it PlanItem) error {
	p.seq++
	it.Seq = p.seq
	if it.Changed != nil {
		it.Changed = slices.Clone(it.Changed)
	}
	p.buf = append(p.buf, it)
	if len(p.buf) == planPageSize {
		return p.flush(ctx)
	}
	return nil
}

func (p *planWriter) flush(ctx context.Context) error {
	if len(p.buf) == 0 {
		return nil
	}
	b, err := json.Marshal(p.buf)
	if err != nil {
		return fmt.Errorf("pull: encode plan: %w", err)
	}
	if _, err := p.st.PutState(ctx, p.tenant, planKey(p.runID, p.page), b, -1); err != nil {
		return fmt.Errorf("pull: write plan: %w", err)
	}
	p.page++
	p.buf = p.buf[:0]
	return nil
}
