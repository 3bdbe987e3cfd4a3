package targets_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
	"github.com/scimbridge/scimbridge/targets"
	"github.com/scimbridge/scimbridge/targets/targettest"
)

const tenant = "t1"

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "targets.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type fixture struct {
	t     *testing.T
	ctx   context.Context // carries an origin, for the writes that make journal entries
	plain context.Context // no origin: what the runner gets
	st    store.Store
	fake  *targettest.Fake
}

func newFixture(t *testing.T) *fixture {
	ctx, cancel := context.WithTimeout(storetest.Background(), 60*time.Second)
	t.Cleanup(cancel)
	// The runner writes only state records: it runs without an origin.
	plain, cancelPlain := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancelPlain)
	return &fixture{t: t, ctx: ctx, plain: plain, st: openStore(t), fake: targettest.New()}
}

func (f *fixture) runner(mod ...func(*targets.Options)) *targets.Runner {
	f.t.Helper()
	o := targets.Options{Tenant: tenant, Name: "fake", Target: f.fake, Store: f.st, Holder: "h1",
		BackoffMin: time.Millisecond, BackoffMax: 4 * time.Millisecond, MaxAttempts: 3, Poll: 5 * time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	r, err := targets.NewRunner(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) createUser(id, userName string) {
	f.t.Helper()
	_, err := f.st.Create(f.ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User, ID: id},
		Attrs: map[string]any{"userName": userName, "active": true}}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) createGroup(id, name string, members ...string) {
	f.t.Helper()
	var ms []store.Member
	for _, m := range members {
		ms = append(ms, store.Member{Value: m})
	}
	_, err := f.st.Create(f.ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.Group, ID: id},
		Attrs: map[string]any{"displayName": name}}, ms)
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) set(kind store.Kind, id, attr string, v any) {
	f.t.Helper()
	_, err := f.st.Update(f.ctx, store.Ref{Tenant: tenant, Kind: kind, ID: id}, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs[attr] = v
		return store.MemberDelta{}, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) members(group string, add []string, remove []string) {
	f.t.Helper()
	_, err := f.st.Update(f.ctx, store.Ref{Tenant: tenant, Kind: store.Group, ID: group}, func(r *store.Resource) (store.MemberDelta, error) {
		d := store.MemberDelta{Remove: remove}
		for _, a := range add {
			d.Add = append(d.Add, store.Member{Value: a})
		}
		return d, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) del(kind store.Kind, id string) {
	f.t.Helper()
	if err := f.st.Delete(f.ctx, store.Ref{Tenant: tenant, Kind: kind, ID: id}, 0); err != nil {
		f.t.Fatal(err)
	}
}

// drain steps r until the journal is consumed.
func (f *fixture) drain(r *targets.Runner) {
	f.t.Helper()
	for range 100 {
		n, err := r.Step(f.plain)
		if err != nil {
			f.t.Fatalf("step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	f.t.Fatal("the runner never caught up")
}

func (f *fixture) cursor() int64 {
	f.t.Helper()
	c, err := f.st.GetCursor(f.ctx, tenant, "target/fake")
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Seq
}

func (f *fixture) head() int64 {
	f.t.Helper()
	floor, err := f.st.TrimFloor(f.ctx, tenant)
	if err != nil {
		f.t.Fatal(err)
	}
	cs, err := f.st.Changes(f.ctx, tenant, floor, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(cs) == 0 {
		return floor
	}
	return cs[len(cs)-1].Seq
}

func actions(cs []targets.Change) []targets.Action {
	var out []targets.Action
	for _, c := range cs {
		out = append(out, c.Action)
	}
	return out
}
