package pull_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/pull/pulltest"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

const tenant = "t1"

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pull.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// user builds a source user.
func user(obj, userName string, enabled bool, extra ...any) pull.User {
	a := map[string]any{"userName": userName, "displayName": "D " + userName, "externalId": obj}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i].(string)] = extra[i+1]
	}
	return pull.User{ObjectID: obj, Attrs: a, Enabled: enabled}
}

func withManager(u pull.User, mgr string) pull.User {
	u.Manager = &mgr
	return u
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	src *pulltest.Source
	eng *pull.Engine
	pol pull.Policy
}

func newFixture(t *testing.T) *fixture {
	st := openStore(t)
	return &fixture{t: t, ctx: ctxT(t), st: st, src: pulltest.New(store.SourcePullGraph),
		eng: pull.NewEngine(st, pull.Options{Holder: "test-holder"})}
}

func (f *fixture) req() pull.RunRequest {
	return pull.RunRequest{Tenant: tenant, Source: f.src, Policy: f.pol, Trigger: pull.TriggerCLI}
}

// run runs a round and fails the test if it fails.
func (f *fixture) run(mod ...func(*pull.RunRequest)) pull.RunRecord {
	f.t.Helper()
	req := f.req()
	for _, m := range mod {
		m(&req)
	}
	rec, err := f.eng.Run(f.ctx, req)
	if err != nil {
		f.t.Fatalf("run: %v (record %+v)", err, rec)
	}
	if rec.Outcome != pull.OutcomeSucceeded {
		f.t.Fatalf("outcome %q", rec.Outcome)
	}
	return rec
}

func full(r *pull.RunRequest) { r.Full = true }
func dry(r *pull.RunRequest)  { r.DryRun = true }

// byName returns the user or group of that userName / displayName.
func (f *fixture) byName(kind store.Kind, name string) (store.Resource, bool) {
	f.t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		f.t.Fatal(err)
	}
	rt, attr := reg.User, "userName"
	if kind == store.Group {
		rt, attr = reg.Group, "displayName"
	}
	flt, err := query.Parse(rt, attr+` eq "`+name+`"`)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.st.Query(f.ctx, tenant, kind, store.Query{Filter: flt, Count: 10})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(p.Resources) > 1 {
		f.t.Fatalf("%d %ss named %q", len(p.Resources), kind, name)
	}
	if len(p.Resources) == 0 {
		return store.Resource{}, false
	}
	return p.Resources[0], true
}

func (f *fixture) mustName(kind store.Kind, name string) store.Resource {
	f.t.Helper()
	r, ok := f.byName(kind, name)
	if !ok {
		f.t.Fatalf("no %s %q", kind, name)
	}
	return r
}

func (f *fixture) members(groupID string) map[string]bool {
	f.t.Helper()
	ms, err := f.st.Members(f.ctx, store.Ref{Tenant: tenant, Kind: store.Group, ID: groupID}, "", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range ms {
		out[m.Value] = true
	}
	return out
}

func (f *fixture) total(kind store.Kind) int {
	f.t.Helper()
	p, err := f.st.Query(f.ctx, tenant, kind, store.Query{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.Total
}

// lastSeq is the tenant's newest journal entry.
func (f *fixture) lastSeq() int64 {
	f.t.Helper()
	cs, err := f.st.Changes(f.ctx, tenant, 0, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}

func (f *fixture) state(key string) []byte {
	f.t.Helper()
	e, err := f.st.GetState(f.ctx, tenant, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return e.Value
}

// push creates a resource as a SCIM client would have.
func (f *fixture) push(kind store.Kind, attrs map[string]any) store.Resource {
	f.t.Helper()
	ctx := store.WithOrigin(f.ctx, store.Origin{Source: store.SourcePush, Actor: "entra"})
	r, err := f.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: kind}, Attrs: attrs}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func isActive(r store.Resource) bool { v, _ := r.Attrs["active"].(bool); return v }

func manager(r store.Resource) string {
	ext, _ := r.Attrs[pull.EnterpriseURN].(map[string]any)
	m, _ := ext["manager"].(map[string]any)
	v, _ := m["value"].(string)
	return v
}
