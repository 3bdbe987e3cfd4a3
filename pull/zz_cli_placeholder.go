package pull

// TEMPORARY (i15/cli): the contract's engine API, so that admin/ and cmd/
// compile before i15/engine lands. Deleted before the final commit.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

type Policy struct {
	OnDelete            OnDelete
	CreateDisabledUsers bool
	Scope               *Scope
}
type OnDelete string

const (
	OnDeleteDisable OnDelete = "disable"
	OnDeleteDelete  OnDelete = "delete"
)

type Scope struct {
	Groups []string
	Users  []string
	Nested bool
}
type Options struct {
	Holder   string
	LeaseTTL time.Duration
	Logger   *slog.Logger
}
type Engine struct{}

func NewEngine(st store.Store, opts Options) *Engine { return &Engine{} }

type Trigger string

const (
	TriggerCLI      Trigger = "cli"
	TriggerSchedule Trigger = "schedule"
	TriggerAdmin    Trigger = "admin"
)

type RunRequest struct {
	Tenant   string
	Source   Source
	Policy   Policy
	DryRun   bool
	Full     bool
	Trigger  Trigger
	Wait     bool
	Progress func(Progress)
}
type Progress struct{ Pages, Users, Groups, Memberships int }

func (e *Engine) Run(ctx context.Context, req RunRequest) (RunRecord, error) { panic("placeholder") }
func (e *Engine) Start(ctx context.Context, req RunRequest) (string, error)  { panic("placeholder") }
func (e *Engine) Runs(ctx context.Context, tenant string, limit int) ([]RunRecord, error) {
	panic("placeholder")
}
func (e *Engine) GetRun(ctx context.Context, tenant, id string) (RunRecord, error) {
	panic("placeholder")
}
func (e *Engine) Plan(ctx context.Context, tenant, runID string, after, limit int) ([]PlanItem, error) {
	panic("placeholder")
}
func (e *Engine) Schedule(ctx context.Context, entries []Scheduled) { panic("placeholder") }

type Scheduled struct {
	Tenant   string
	Interval time.Duration
	Request  func() RunRequest
}

func (e *Engine) NextRun(ctx context.Context, tenant string) (time.Time, error) { panic("placeholder") }

var ErrBusy = errors.New("pull: another run holds the tenant's pull lease")

type BusyError struct {
	Holder string
	Since  time.Time
}

func (e *BusyError) Error() string        { return ErrBusy.Error() }
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

type RunRecord struct {
	ID, Tenant        string
	Source            store.Source
	Trigger           Trigger
	DryRun, Full      bool
	Started, Finished time.Time
	Outcome           string
	Counts            Counts
	Skips             map[string]int
	Errors            []string
	Holder            string
}

const (
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
)

type Counts struct {
	Created, Updated, Disabled, Deleted, Unchanged, Skipped, Errors int
	Unmatched                                                       int
	Pages, Users, Groups, Memberships                               int
}
type PlanItem struct {
	Seq      int
	Kind     store.Kind
	ObjectID string
	ID       string
	Name     string
	Action   string
	Changed  []string
}
