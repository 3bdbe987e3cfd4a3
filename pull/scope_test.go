package pull_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// With a scope only the scoped groups are provisioned and only their
// members (and the listed users) are; a user who leaves every scoped group
// is disabled and comes back when re-added; a member added later that was
// never provisioned is fetched from the source.
func TestScope(t *testing.T) {
	f := newFixture(t)
	f.pol.Scope = &pull.Scope{Groups: []string{"print users"}, Users: []string{"Listed@x.example"}}
	f.src.PutGroup("g1", "Print Users")
	f.src.PutGroup("g2", "Other")
	f.src.AddMembers("g1", "u1")
	f.src.AddMembers("g2", "u2", "u1")
	f.src.PutUser(user("u1", "in@x.example", true))
	f.src.PutUser(user("u2", "out@x.example", true))
	f.src.PutUser(user("u3", "listed@x.example", true))
	rec := f.run()
	if rec.Counts.Created != 3 || rec.Skips[pull.SkipOutOfScope] != 1 {
		t.Fatalf("counts %+v skips %v", rec.Counts, rec.Skips)
	}
	if _, ok := f.byName(store.User, "out@x.example"); ok {
		t.Fatal("an out-of-scope user was provisioned")
	}
	if _, ok := f.byName(store.Group, "Other"); ok {
		t.Fatal("an out-of-scope group was provisioned")
	}
	in := f.mustName(store.User, "in@x.example")
	g := f.mustName(store.Group, "Print Users")
	f.mustName(store.User, "listed@x.example")

	// u1 leaves the scoped group: disabled (though still in g2).
	f.src.RemoveMembers("g1", "u1")
	rec = f.run()
	if rec.Counts.Disabled != 1 || isActive(f.mustName(store.User, "in@x.example")) {
		t.Fatalf("left the scope: counts %+v", rec.Counts)
	}
	if m := f.members(g.ID); m[in.ID] {
		t.Error("still a member")
	}
	// Re-added: enabled again (the user itself did not change in the source).
	f.src.AddMembers("g1", "u1")
	rec = f.run()
	if back := f.mustName(store.User, "in@x.example"); !isActive(back) || back.ID != in.ID || !f.members(g.ID)[in.ID] {
		t.Fatalf("re-added: %+v counts %+v", back, rec.Counts)
	}
	// u2, never provisioned, joins the scoped group: fetched and created.
	f.src.AddMembers("g1", "u2")
	rec = f.run()
	out, ok := f.byName(store.User, "out@x.example")
	if !ok || rec.Counts.Created != 1 || !f.members(g.ID)[out.ID] {
		t.Fatalf("came into scope: exists %v counts %+v", ok, rec.Counts)
	}
	// A changed scope definition makes a full round.
	f.pol.Scope = &pull.Scope{Groups: []string{"g2"}}
	rec = f.run()
	if !rec.Full {
		t.Error("a changed scope did not make a full round")
	}
	if _, ok := f.byName(store.Group, "Print Users"); ok {
		t.Error("the group that left the scope is still provisioned")
	}
	if isActive(f.mustName(store.User, "listed@x.example")) {
		t.Error("a user no longer listed is still active")
	}
	if !isActive(f.mustName(store.User, "in@x.example")) {
		t.Error("u1 is in g2, which is now scoped")
	}
}

// Nested: members of groups below a scoped group are in scope too; the
// group-in-group membership is never stored.
func TestScopeNested(t *testing.T) {
	f := newFixture(t)
	f.pol.Scope = &pull.Scope{Groups: []string{"Top"}, Nested: true}
	f.src.PutGroup("top", "Top")
	f.src.PutGroup("sub", "Sub")
	f.src.AddNested("top", "sub")
	f.src.AddMembers("top", "u1")
	f.src.AddMembers("sub", "u2")
	f.src.PutUser(user("u1", "a@x.example", true))
	f.src.PutUser(user("u2", "b@x.example", true))
	f.run()
	f.mustName(store.User, "b@x.example")
	if _, ok := f.byName(store.Group, "Sub"); ok {
		t.Error("the nested group was provisioned")
	}
	top := f.mustName(store.Group, "Top")
	if m := f.members(top.ID); len(m) != 1 {
		t.Errorf("top members %v", m)
	}
	// Incremental: u2 leaves the nested group.
	f.src.RemoveMembers("sub", "u2")
	f.run()
	if isActive(f.mustName(store.User, "b@x.example")) {
		t.Error("left the nested group but still active")
	}
	// Back in sub; then sub leaves top: out of scope again.
	f.src.AddMembers("sub", "u2")
	f.run()
	if !isActive(f.mustName(store.User, "b@x.example")) {
		t.Fatal("back in the nested group but not active")
	}
	f.src.RemoveNested("top", "sub")
	f.run()
	if isActive(f.mustName(store.User, "b@x.example")) {
		t.Error("its group left the scoped group but the user is still active")
	}
}

// A scope group name that matches several groups fails the round and
// names their ids.
func TestScopeAmbiguousName(t *testing.T) {
	f := newFixture(t)
	f.pol.Scope = &pull.Scope{Groups: []string{"Dup"}}
	f.src.PutGroup("ga", "Dup")
	f.src.PutGroup("gb", "dup")
	f.src.PutUser(user("u1", "a@x.example", true))
	rec, err := f.eng.Run(f.ctx, f.req())
	if err == nil || !strings.Contains(err.Error(), "ga, gb") || rec.Outcome != pull.OutcomeFailed {
		t.Fatalf("err %v outcome %q", err, rec.Outcome)
	}
	if f.state("pull/graph/checkpoint") != nil {
		t.Error("a failed round stored a checkpoint")
	}
	if errors.Is(err, pull.ErrBusy) {
		t.Error("wrong error")
	}
}

// A source that restarts as a full round by itself (expired checkpoint)
// makes the engine remove what vanished, and recompute the scope without
// the groups that vanished with it.
func TestSourceRestartsFull(t *testing.T) {
	f := newFixture(t)
	f.pol.Scope = &pull.Scope{Groups: []string{"A", "B"}}
	f.src.PutGroup("ga", "A")
	f.src.PutGroup("gb", "B")
	f.src.AddMembers("ga", "u1")
	f.src.AddMembers("gb", "u2")
	f.src.PutUser(user("u1", "a@x.example", true))
	f.src.PutUser(user("u2", "b@x.example", true))
	f.src.PutUser(user("u3", "c@x.example", true))
	f.src.AddMembers("ga", "u3")
	f.run()
	f.src.VanishUser("u3")
	f.src.RemoveGroup("gb", pull.RemovedDeleted)
	f.src.RestartFull = true
	// The removal of gb is not in a full round's stream: gb just vanished.
	rec := f.run()
	if !rec.Full {
		t.Fatal("the record does not say the round was full")
	}
	if isActive(f.mustName(store.User, "c@x.example")) {
		t.Error("vanished user still active")
	}
	if isActive(f.mustName(store.User, "b@x.example")) {
		t.Error("the user of the vanished scoped group is still active")
	}
	if _, ok := f.byName(store.Group, "B"); ok {
		t.Error("vanished group still there")
	}
	if !isActive(f.mustName(store.User, "a@x.example")) {
		t.Error("a user still in scope was disabled")
	}
}
