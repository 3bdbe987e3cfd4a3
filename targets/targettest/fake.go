// Package targettest holds an in-memory Target that records what it is
// asked to do, for the runner's tests and for adapters' end-to-end tests.
package targettest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/targets"
)

// Account is what the fake holds for one resource.
type Account struct {
	TargetID string
	Kind     store.Kind
	Attrs    map[string]any
	Disabled bool
	Members  map[string]bool // groups only
}

// Fake is an idempotent in-memory target: it keeps one Account per
// resource id, records every Change it is handed (Calls) and, through
// Fail, can be told to fail for a resource.
type Fake struct {
	mu       sync.Mutex
	accounts map[string]*Account
	calls    []targets.Change
	// Fail, when set, is asked before each apply; a non-nil error is
	// returned instead of applying (and recorded in Calls all the same).
	Fail func(c targets.Change) error
}

// New returns an empty fake.
func New() *Fake { return &Fake{accounts: map[string]*Account{}} }

// Apply implements targets.Target.
func (f *Fake) Apply(ctx context.Context, c targets.Change) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	fail := f.Fail
	f.mu.Unlock()
	if fail != nil {
		if err := fail(c); err != nil {
			return "", err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Action == targets.ActionDelete {
		delete(f.accounts, c.ID)
		return "", nil
	}
	a := f.accounts[c.ID]
	if a == nil {
		a = &Account{TargetID: "fake:" + c.ID, Kind: c.Kind, Members: map[string]bool{}}
		f.accounts[c.ID] = a
	}
	a.Attrs = maps.Clone(c.Resource.Attrs)
	a.Disabled = c.Action == targets.ActionDisable
	for _, m := range c.MembersAdded {
		a.Members[m] = true
	}
	for _, m := range c.MembersRemoved {
		delete(a.Members, m)
	}
	return a.TargetID, nil
}

// Calls returns every Change handed to Apply, in order.
func (f *Fake) Calls() []targets.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsFor returns the Changes of one resource, in order.
func (f *Fake) CallsFor(id string) []targets.Change {
	var out []targets.Change
	for _, c := range f.Calls() {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

// Account returns a copy of the account of resource id, or false.
func (f *Fake) Account(id string) (Account, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[id]
	if !ok {
		return Account{}, false
	}
	cp := *a
	cp.Attrs, cp.Members = maps.Clone(a.Attrs), maps.Clone(a.Members)
	return cp, true
}

// IDs returns the resource ids the fake holds, sorted.
func (f *Fake) IDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.accounts))
}

// Interface guards.
var _ targets.Target = (*Fake)(nil)
