// Package graphparity_test checks that a tenant pulled from Microsoft Graph
// holds exactly what Entra's push of the same directory writes (issue 15:
// "resources land exactly as Entra's push would have written them"), and
// that a tenant moves between push and pull without duplicates or changed
// ids. The push runs over HTTP through the whole SCIM handler stack, the
// pull through the engine and graphpull against the fake Graph.
package graphparity_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/graphpull"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/test/fakegraph"
)

const (
	tenant = scim.DefaultTenant
	token  = "graph-parity-token"
)

// bridge is one scimbridge: a SQLite store with the SCIM stack over it.
type bridge struct {
	st   store.Store
	scim *scimClient
}

func newBridge(t *testing.T) *bridge {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scim.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := scim.NewHandler(scim.Options{
		Store:   st,
		Schemas: reg,
		Tenants: []auth.Tenant{{Name: tenant, TokenHashes: [][32]byte{auth.HashToken(token)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bridge{st: st, scim: &scimClient{t: t, base: srv.URL + "/scim/v2", token: token}}
}

// pull runs one pull round of the fake Graph into the bridge's store.
func (b *bridge) pull(t *testing.T, ctx context.Context, g *fakegraph.Server) pull.RunRecord {
	t.Helper()
	src, err := graphpull.New(graphpull.Config{
		TenantID: g.TenantID(), ClientID: g.ClientID(), ClientSecret: g.ClientSecret(),
		AuthorityHost: g.AuthorityHost(), GraphBaseURL: g.GraphBaseURL(), RootCAs: g.CertPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := pull.NewEngine(b.st, pull.Options{Holder: "graphparity"}).Run(ctx, pull.RunRequest{
		Tenant: tenant, Source: src, Trigger: pull.TriggerCLI,
		Policy: pull.Policy{OnDelete: pull.OnDeleteDisable},
	})
	if err != nil || rec.Outcome != pull.OutcomeSucceeded {
		t.Fatalf("pull: %v (record %+v)", err, rec)
	}
	return rec
}

func newGraph(t *testing.T) *fakegraph.Server {
	// Small pages and split member lists: the pull merges them.
	g := fakegraph.New(fakegraph.Options{PageSize: 3, MemberSplit: 2})
	t.Cleanup(g.Close)
	loadGraph(g)
	return g
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func requireEqual(t *testing.T, aName string, a snapshot, bName string, b snapshot) {
	t.Helper()
	if d := diffSnapshots(aName, a, bName, b); len(d) > 0 {
		t.Fatalf("%d differences between %s and %s:\n%s", len(d), aName, bName, strings.Join(d, "\n"))
	}
}

// enabledUsers is how many users Entra provisions: the enabled ones.
func enabledUsers() int {
	n := 0
	for _, u := range directory.users {
		if !u.Disabled {
			n++
		}
	}
	return n
}

// TestPullEqualsPush pushes the directory as Entra would into one store,
// pulls it from the fake Graph into another, and compares the two.
func TestPullEqualsPush(t *testing.T) {
	ctx := ctxT(t)
	pushed, pulled := newBridge(t), newBridge(t)
	pr := entraPush(pushed.scim, directory.users, directory.groups)
	if want := enabledUsers() + len(directory.groups); pr.created != want {
		t.Fatalf("push created %d resources, want %d", pr.created, want)
	}
	g := newGraph(t)
	rec := pulled.pull(t, ctx, g)
	if rec.Counts.Created != enabledUsers()+len(directory.groups) || rec.Skips[pull.SkipDisabled] != 1 {
		t.Fatalf("pull counts %+v skips %v", rec.Counts, rec.Skips)
	}
	a, b := takeSnapshot(t, ctx, pushed.st, tenant), takeSnapshot(t, ctx, pulled.st, tenant)
	if len(a.users) != enabledUsers() || len(a.groups) != len(directory.groups) {
		t.Fatalf("push store holds %d users and %d groups", len(a.users), len(a.groups))
	}
	requireEqual(t, "push", a, "pull", b)

	// The comparison is not vacuous: the manager chain and the filtered
	// memberships are there on both sides.
	if m := b.users["linus@contoso.example"].manager; m != "ada@contoso.example" {
		t.Fatalf("linus's manager %q", m)
	}
	if m := b.users["oscar@contoso.example"].manager; m != "" {
		t.Fatalf("oscar's manager (disabled, never provisioned) %q", m)
	}
	if ms := b.groups["Engineering"].members; strings.Join(ms, ",") != "ada@contoso.example,barbara@contoso.example,linus@contoso.example" {
		t.Fatalf("Engineering members %v", ms)
	}
}
