package admin

import (
	"time"

	"github.com/scimbridge/scimbridge/pull"
)

// Run is the JSON form of a run record (pull.RunRecord), as the API and
// `scimbridge pull status --output json` show it.
type Run struct {
	ID       string     `json:"id"`
	Tenant   string     `json:"tenant"`
	Source   string     `json:"source"`
	Trigger  string     `json:"trigger"`
	DryRun   bool       `json:"dryRun"`
	Full     bool       `json:"full"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"` // absent while running
	// DurationSeconds is Finished-Started, or so far while running.
	DurationSeconds float64        `json:"durationSeconds"`
	Outcome         string         `json:"outcome"`
	Counts          Counts         `json:"counts"`
	Skips           map[string]int `json:"skips"`
	Errors          []string       `json:"errors"`
	Holder          string         `json:"holder"`
	// Plan is a page of a dry run's plan (GET …/runs/{id} only).
	Plan *Plan `json:"plan,omitempty"`
}

// Counts is the JSON form of pull.Counts.
type Counts struct {
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Disabled    int `json:"disabled"`
	Deleted     int `json:"deleted"`
	Unchanged   int `json:"unchanged"`
	Skipped     int `json:"skipped"`
	Errors      int `json:"errors"`
	Unmatched   int `json:"unmatched"`
	Pages       int `json:"pages"`
	Users       int `json:"users"`
	Groups      int `json:"groups"`
	Memberships int `json:"memberships"`
}

// Plan is one page of a dry run's plan. Next, when set, is the after= of
// the next page.
type Plan struct {
	Items []PlanItem `json:"items"`
	Next  string     `json:"next,omitempty"`
}

// PlanItem is the JSON form of pull.PlanItem.
type PlanItem struct {
	Seq      int      `json:"seq"`
	Kind     string   `json:"kind"`
	ObjectID string   `json:"objectId"`
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name"`
	Action   string   `json:"action"`
	Changed  []string `json:"changed,omitempty"`
}

// RunOf returns the JSON form of rec (without a plan).
func RunOf(rec pull.RunRecord) Run {
	v := Run{
		ID: rec.ID, Tenant: rec.Tenant, Source: string(rec.Source), Trigger: string(rec.Trigger),
		DryRun: rec.DryRun, Full: rec.Full, Started: rec.Started, Outcome: rec.Outcome,
		Counts: Counts{
			Created: rec.Counts.Created, Updated: rec.Counts.Updated, Disabled: rec.Counts.Disabled,
			Deleted: rec.Counts.Deleted, Unchanged: rec.Counts.Unchanged, Skipped: rec.Counts.Skipped,
			Errors: rec.Counts.Errors, Unmatched: rec.Counts.Unmatched, Pages: rec.Counts.Pages,
			Users: rec.Counts.Users, Groups: rec.Counts.Groups, Memberships: rec.Counts.Memberships,
		},
		Skips: rec.Skips, Errors: rec.Errors, Holder: rec.Holder,
	}
	if v.Skips == nil {
		v.Skips = map[string]int{}
	}
	if v.Errors == nil {
		v.Errors = []string{}
	}
	end := time.Now()
	if !rec.Finished.IsZero() {
		f := rec.Finished
		v.Finished, end = &f, f
	}
	v.DurationSeconds = end.Sub(rec.Started).Seconds()
	return v
}

// PlanItemOf returns the JSON form of it.
func PlanItemOf(it pull.PlanItem) PlanItem {
	return PlanItem{Seq: it.Seq, Kind: string(it.Kind), ObjectID: it.ObjectID, ID: it.ID, Name: it.Name, Action: it.Action, Changed: it.Changed}
}

// status is the answer of GET …/pull.
type status struct {
	Tenant  string     `json:"tenant"`
	LastRun *Run       `json:"lastRun"`
	NextRun *time.Time `json:"nextRun"` // null: on demand only
}

type runs struct {
	Runs []Run  `json:"runs"`
	Next string `json:"next,omitempty"` // after= of the next page
}

// apiError is every error answer.
type apiError struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
	// Holder and Since say who holds a busy tenant's pull lease (409).
	Holder string     `json:"holder,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
