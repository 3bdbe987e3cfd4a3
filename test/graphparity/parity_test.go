// Package graphparity_test checks that a tenant pulled from Microsoft Graph
// holds exactly what Entra's push of the same directory writes (issue 15:
// "resources land exactly as Entra's push would have written them"), and
// that a tenant moves between push and pull without duplicates or changed
// ids. The push runs over HTTP through the whole SCIM handler stack, the
// pull through the engine and graphpull against the fake Graph.
package graphparity_test

import (
	"context"
	"fmt"
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
	rec, _ := b.run(t, ctx, g, false, nil)
	return rec
}

// dryRun plans a pull round and returns its plan.
func (b *bridge) dryRun(t *testing.T, ctx context.Context, g *fakegraph.Server) (pull.RunRecord, []pull.PlanItem) {
	t.Helper()
	return b.run(t, ctx, g, true, nil)
}

func (b *bridge) run(t *testing.T, ctx context.Context, g *fakegraph.Server, dry bool, scope *pull.Scope) (pull.RunRecord, []pull.PlanItem) {
	t.Helper()
	src, err := graphpull.New(graphpull.Config{
		TenantID: g.TenantID(), ClientID: g.ClientID(), ClientSecret: g.ClientSecret(),
		AuthorityHost: g.AuthorityHost(), GraphBaseURL: g.GraphBaseURL(), RootCAs: g.CertPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng := pull.NewEngine(b.st, pull.Options{Holder: "graphparity"})
	rec, err := eng.Run(ctx, pull.RunRequest{
		Tenant: tenant, Source: src, Trigger: pull.TriggerCLI, DryRun: dry,
		Policy: pull.Policy{OnDelete: pull.OnDeleteDisable, Scope: scope},
	})
	if err != nil || rec.Outcome != pull.OutcomeSucceeded {
		t.Fatalf("pull: %v (record %+v)", err, rec)
	}
	if !dry {
		return rec, nil
	}
	plan, err := eng.Plan(ctx, tenant, rec.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rec, plan
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
	// The push store holds what Entra sent, value for value (§1.6: no
	// normalisation), so the comparison below is against Entra's bodies.
	for _, u := range directory.users {
		if got, ok := a.users[u.UserPrincipalName]; ok && got.attrs != sentAttrs(t, u) {
			t.Fatalf("user %s: the push store differs from the POST body:\n%s", u.UserPrincipalName,
				lineDiff("sent", sentAttrs(t, u), "stored", got.attrs))
		}
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

// sentAttrs is what the push's POST body asks the bridge to store: the
// body without the message parts (schemas, meta) and without active,
// which the snapshot keeps apart.
func sentAttrs(t *testing.T, u fakegraph.User) string {
	b := entraUserBody(u)
	delete(b, "schemas")
	delete(b, "meta")
	delete(b, "active")
	return canonical(t, unordered(b))
}

// userIDs are the ids of a snapshot's resources by name.
func ids(s snapshot) map[string]string {
	out := map[string]string{}
	for n, u := range s.users {
		out["user "+n] = u.id
	}
	for n, g := range s.groups {
		out["group "+n] = g.id
	}
	return out
}

func requireSameIDs(t *testing.T, before, after map[string]string) {
	t.Helper()
	for n, id := range before {
		if after[n] != id {
			t.Errorf("%s: id %s became %q", n, id, after[n])
		}
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			t.Errorf("%s: new resource", n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestMovePushToPull switches a pushed tenant to pull: after two Entra
// cycles (the second PATCHes changes, which leaves phoneNumbers in another
// order than a POST), the first pull of the same directory matches every
// user by userName and every group by externalId, creates nothing, keeps
// every id and writes nothing; a later change in Graph updates the same
// resource.
func TestMovePushToPull(t *testing.T) {
	ctx := ctxT(t)
	br := newBridge(t)
	pr := entraPush(br.scim, directory.users, directory.groups)
	users, groups := changedDirectory()
	entraCycle(br.scim, pr, users, groups)
	before := takeSnapshot(t, ctx, br.st, tenant)
	seqBefore := journalHead(t, ctx, br.st)

	g := fakegraph.New(fakegraph.Options{PageSize: 3, MemberSplit: 2})
	t.Cleanup(g.Close)
	loadChanges(g, users, groups)
	// The dry run an admin would read first says the same: nothing to do.
	drec, plan := br.dryRun(t, ctx, g)
	if c := drec.Counts; c.Created != 0 || c.Updated != 0 || c.Disabled != 0 || len(plan) != 0 {
		t.Errorf("dry run over a pushed tenant: counts %+v plan %+v", c, plan)
	}
	rec := br.pull(t, ctx, g)
	c := rec.Counts
	if c.Created != 0 || c.Updated != 0 || c.Disabled != 0 || c.Deleted != 0 || c.Errors != 0 {
		t.Errorf("first pull over a pushed tenant: counts %+v skips %v errors %v", c, rec.Skips, rec.Errors)
	}
	if want := len(before.users) + len(before.groups); c.Unchanged != want {
		t.Errorf("unchanged %d, want %d (counts %+v)", c.Unchanged, want, c)
	}
	if len(rec.Skips) != 0 { // cher, disabled by the push, is matched
		t.Errorf("skips %v", rec.Skips)
	}
	// Nothing was written: not even a write that put back what it found.
	if seq := journalHead(t, ctx, br.st); seq != seqBefore {
		t.Fatalf("the pull wrote %d journal entries over an equal tenant: %v", seq-seqBefore, changesSince(t, ctx, br.st, seqBefore))
	}
	after := takeSnapshot(t, ctx, br.st, tenant)
	requireSameIDs(t, ids(before), ids(after))
	requireEqual(t, "push", before, "push+pull", after)

	// A change in Graph now updates the resource the push created.
	ada, _ := g.User("u-5-cto")
	ada.JobTitle = "Chief Technology Officer"
	ada.MobilePhone = "+44 7700 900000"
	g.PutUser(ada)
	rec = br.pull(t, ctx, g)
	if rec.Counts.Updated != 1 || rec.Counts.Created != 0 {
		t.Fatalf("incremental pull: counts %+v", rec.Counts)
	}
	final := takeSnapshot(t, ctx, br.st, tenant)
	requireSameIDs(t, ids(before), ids(final))
	got := final.users["ada@contoso.example"].attrs
	if !strings.Contains(got, `"Chief Technology Officer"`) || !strings.Contains(got, `"+44 7700 900000"`) {
		t.Fatalf("ada after the change: %s", got)
	}
	// And it is what Entra's push of the changed user would hold.
	if want := sentAttrs(t, ada); got != want {
		t.Fatalf("ada after the change differs from Entra's body:\n%s", lineDiff("entra", want, "pull", got))
	}
}

// TestMovePullToPush switches a pulled tenant to Entra's push: after a
// full and an incremental pull, Entra's first cycle of the same directory
// finds every user by userName and every group by displayName, and has
// nothing to create or change (every manager and membership reference
// check finds its reference).
func TestMovePullToPush(t *testing.T) {
	ctx := ctxT(t)
	br := newBridge(t)
	g := newGraph(t)
	br.pull(t, ctx, g)
	users, groups := changedDirectory()
	loadChanges(g, users, groups)
	br.pull(t, ctx, g)
	before := takeSnapshot(t, ctx, br.st, tenant)
	seqBefore := journalHead(t, ctx, br.st)

	pr := entraPush(br.scim, users, groups)
	if pr.created != 0 || pr.patched != 0 {
		t.Fatalf("Entra's push after a pull created %d and patched %d resources", pr.created, pr.patched)
	}
	after := takeSnapshot(t, ctx, br.st, tenant)
	requireSameIDs(t, ids(before), ids(after))
	requireEqual(t, "pull", before, "pull+push", after)
	if seq := journalHead(t, ctx, br.st); seq != seqBefore {
		t.Fatalf("the push wrote %d journal entries: %v", seq-seqBefore, changesSince(t, ctx, br.st, seqBefore))
	}
}

// journalHead is the tenant's last journal sequence number.
func journalHead(t *testing.T, ctx context.Context, st store.Store) int64 {
	t.Helper()
	var seq int64
	for {
		cs, err := st.Changes(ctx, tenant, seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			return seq
		}
		seq = cs[len(cs)-1].Seq
	}
}

func changesSince(t *testing.T, ctx context.Context, st store.Store, seq int64) []string {
	cs, err := st.Changes(ctx, tenant, seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s (%s) changed %+v added %v removed %v", c.Op, c.Kind, c.ID, c.Name, c.Changed, c.Added, c.Removed))
	}
	return out
}

// TestIncrementalParity edits the directory after a first cycle on both
// sides: Entra's next cycle PATCHes the push store, an incremental pull
// updates the pull store, and the two still hold the same Users and
// Groups, each under the ids of its first cycle.
func TestIncrementalParity(t *testing.T) {
	ctx := ctxT(t)
	pushed, pulled := newBridge(t), newBridge(t)
	pr := entraPush(pushed.scim, directory.users, directory.groups)
	g := newGraph(t)
	pulled.pull(t, ctx, g)
	idsPush, idsPull := ids(takeSnapshot(t, ctx, pushed.st, tenant)), ids(takeSnapshot(t, ctx, pulled.st, tenant))

	users, groups := changedDirectory()
	if pr2 := entraCycle(pushed.scim, pr, users, groups); pr2.created != 2 || pr2.patched == 0 {
		t.Fatalf("Entra's second cycle created %d and patched %d resources", pr2.created, pr2.patched)
	}
	loadChanges(g, users, groups)
	rec := pulled.pull(t, ctx, g)
	if rec.Full || rec.Counts.Created != 2 || rec.Counts.Disabled != 1 {
		t.Fatalf("incremental pull: full %v counts %+v", rec.Full, rec.Counts)
	}
	a, b := takeSnapshot(t, ctx, pushed.st, tenant), takeSnapshot(t, ctx, pulled.st, tenant)
	requireEqual(t, "push", a, "pull", b)
	if u := b.users["don.knuth@contoso.example"]; u.id != idsPull["user knuth@contoso.example"] || u.id == "" {
		t.Fatalf("the renamed user is %q, was %q", u.id, idsPull["user knuth@contoso.example"])
	}
	if u := a.users["don.knuth@contoso.example"]; u.id != idsPush["user knuth@contoso.example"] {
		t.Fatalf("the push renamed into a new user")
	}
	if m := b.users["linus@contoso.example"].manager; m != "grace@contoso.example" {
		t.Fatalf("linus's manager %q", m)
	}
	if act := b.users["cher@contoso.example"].active; act != false {
		t.Fatalf("cher active %v", act)
	}
	// Mallory, enabled, joined the group Graph had her in while disabled.
	if ms := strings.Join(b.groups["Engineering"].members, ","); !strings.Contains(ms, "mallory@contoso.example") {
		t.Fatalf("Engineering members %s", ms)
	}
}

// TestMailAddedLater pins the one difference the push's history makes: a
// user created with a mail gets {"primary": true, "type": "work"} from
// Entra's POST, but one whose mail came later gets only what the PATCH of
// emails[type eq "work"].value sets, {"type": "work", "value": …}. The
// pull maps the first form either way, so moving such a tenant to pull
// rewrites that user's emails once, with the same id, and nothing else.
func TestMailAddedLater(t *testing.T) {
	ctx := ctxT(t)
	br := newBridge(t)
	pr := entraPush(br.scim, directory.users, directory.groups)
	users, groups := changedDirectory()
	for i := range users {
		if users[i].ID == "u-2-nomail" {
			users[i].Mail = "barbara@contoso.example"
		}
	}
	entraCycle(br.scim, pr, users, groups)
	before := takeSnapshot(t, ctx, br.st, tenant)
	if got := before.users["barbara@contoso.example"].attrs; strings.Contains(got, `"primary"`) {
		t.Fatalf("the push's PATCH set primary: %s", got)
	}
	seq := journalHead(t, ctx, br.st)

	g := fakegraph.New(fakegraph.Options{})
	t.Cleanup(g.Close)
	loadChanges(g, users, groups)
	rec := br.pull(t, ctx, g)
	if c := rec.Counts; c.Created != 0 || c.Updated != 1 {
		t.Fatalf("counts %+v", c)
	}
	cs := changesSince(t, ctx, br.st, seq)
	if len(cs) != 1 || !strings.Contains(cs[0], "(barbara@contoso.example) changed [{Path:emails ") {
		t.Fatalf("writes %v, want barbara's emails only", cs)
	}
	after := takeSnapshot(t, ctx, br.st, tenant)
	requireSameIDs(t, ids(before), ids(after))
	if got := after.users["barbara@contoso.example"].attrs; !strings.Contains(got, `"primary": true`) {
		t.Fatalf("barbara after the pull: %s", got)
	}
}

// TestScopedPullEqualsPush: Entra provisions only the groups assigned to
// the app and their user members; a pull scoped to the same group holds
// the same, and a manager outside the scope is left out on both sides.
func TestScopedPullEqualsPush(t *testing.T) {
	ctx := ctxT(t)
	pushed, pulled := newBridge(t), newBridge(t)
	var eng fakegraph.Group
	for _, g := range directory.groups {
		if g.DisplayName == "Engineering" {
			eng = g
		}
	}
	scope := &pull.Scope{Groups: []string{"Engineering"}}
	pr := entraPush(pushed.scim, assignedUsers(directory.users, eng), []fakegraph.Group{eng})
	g := newGraph(t)
	pulled.run(t, ctx, g, false, scope)
	a, b := takeSnapshot(t, ctx, pushed.st, tenant), takeSnapshot(t, ctx, pulled.st, tenant)
	if len(a.users) != 3 || len(a.groups) != 1 {
		t.Fatalf("push store holds %d users and %d groups", len(a.users), len(a.groups))
	}
	requireEqual(t, "push", a, "pull", b)
	if m := b.users["ada@contoso.example"].manager; m != "" {
		t.Fatalf("ada's manager (out of scope) %q", m)
	}

	// Second cycle: linus leaves the group (out of scope: disabled, out of
	// the group, his own changes not provisioned), the new hire and the
	// now enabled mallory join it.
	users, groups := changedDirectory()
	for _, cg := range groups {
		if cg.ID == eng.ID {
			eng = cg
		}
	}
	entraCycle(pushed.scim, pr, assignedUsers(users, eng), []fakegraph.Group{eng})
	loadChanges(g, users, groups)
	pulled.run(t, ctx, g, false, scope)
	a, b = takeSnapshot(t, ctx, pushed.st, tenant), takeSnapshot(t, ctx, pulled.st, tenant)
	requireEqual(t, "push", a, "pull", b)
	if u := b.users["linus@contoso.example"]; u.active != false {
		t.Fatalf("linus out of scope: active %v", u.active)
	}
	if ms := strings.Join(b.groups["Engineering"].members, ","); ms != "ada@contoso.example,barbara@contoso.example,mallory@contoso.example,new@contoso.example" {
		t.Fatalf("Engineering members %s", ms)
	}
}

// assignedUsers are the users Entra provisions when only group g is
// assigned to the app: its direct user members.
func assignedUsers(users []fakegraph.User, g fakegraph.Group) []fakegraph.User {
	member := map[string]bool{}
	for _, m := range g.Members {
		member[m.ID] = m.Type == fakegraph.TypeUser
	}
	var out []fakegraph.User
	for _, u := range users {
		if member[u.ID] {
			out = append(out, u)
		}
	}
	return out
}
