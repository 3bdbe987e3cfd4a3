package pull_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// A first round creates users and groups as observed: mapped attributes,
// active, the manager (also one observed later in the round), the group's
// externalId and direct members; every write carries the pull's origin.
func TestCreate(t *testing.T) {
	f := newFixture(t)
	f.src.PutGroup("g1", "Staff")
	f.src.AddMembers("g1", "u1", "u2")
	// bob comes first and names alice, who comes later, as his manager.
	f.src.PutUser(withManager(user("u2", "bob@x.example", true, "title", "Dev"), "u1"))
	f.src.PutUser(withManager(user("u1", "alice@x.example", true,
		pull.EnterpriseURN, map[string]any{"department": "R&D"}), ""))
	rec := f.run()
	if rec.Counts.Created != 3 || rec.Counts.Updated != 0 || rec.Counts.Users != 2 || rec.Counts.Groups != 1 || rec.Counts.Memberships != 2 {
		t.Fatalf("counts %+v", rec.Counts)
	}
	if !rec.Full {
		t.Error("a first round is a full round")
	}
	alice, bob := f.mustName(store.User, "alice@x.example"), f.mustName(store.User, "bob@x.example")
	if !isActive(alice) || bob.Attrs["title"] != "Dev" || bob.Attrs["externalId"] != "u2" {
		t.Errorf("attrs: %v / %v", alice.Attrs, bob.Attrs)
	}
	if got := manager(bob); got != alice.ID {
		t.Errorf("bob's manager = %q, want alice %q", got, alice.ID)
	}
	if ext := alice.Attrs[pull.EnterpriseURN].(map[string]any); ext["department"] != "R&D" {
		t.Errorf("alice's enterprise attributes %v", ext)
	}
	g := f.mustName(store.Group, "Staff")
	if g.Attrs["externalId"] != "g1" {
		t.Errorf("group externalId %v", g.Attrs["externalId"])
	}
	if m := f.members(g.ID); len(m) != 2 || !m[alice.ID] || !m[bob.ID] {
		t.Errorf("members %v", m)
	}
	cs, err := f.st.Changes(f.ctx, tenant, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatal("no journal entries")
	}
	for _, c := range cs {
		if c.Origin.Source != store.SourcePullGraph || c.Origin.RunID != rec.ID {
			t.Errorf("change %d origin %+v, want %s run %s", c.Seq, c.Origin, store.SourcePullGraph, rec.ID)
		}
	}
	if string(f.state("pull/graph/checkpoint")) == "" {
		t.Error("no checkpoint stored")
	}
}

// A rename keeps the resource (the map decides after first contact), an
// incremental round touches only what changed, and replaying a round
// changes nothing.
func TestRenameUpdateReplay(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "alice@x.example", true))
	f.src.PutUser(user("u2", "bob@x.example", true))
	f.run()
	alice := f.mustName(store.User, "alice@x.example")

	f.src.PutUser(user("u1", "alice.smith@x.example", true, "title", "Boss"))
	rec := f.run()
	if rec.Full || rec.Counts.Updated != 1 || rec.Counts.Users != 1 || rec.Counts.Created != 0 {
		t.Fatalf("incremental round: full %v counts %+v", rec.Full, rec.Counts)
	}
	renamed := f.mustName(store.User, "alice.smith@x.example")
	if renamed.ID != alice.ID || renamed.Attrs["title"] != "Boss" {
		t.Fatalf("renamed user %s %v, want id %s", renamed.ID, renamed.Attrs, alice.ID)
	}
	if _, ok := f.byName(store.User, "alice@x.example"); ok {
		t.Error("the old userName is still there")
	}

	seq := f.lastSeq()
	rec = f.run(full)
	if rec.Counts.Unchanged != 2 || rec.Counts.Created+rec.Counts.Updated+rec.Counts.Disabled+rec.Counts.Deleted != 0 {
		t.Fatalf("replayed full round counts %+v", rec.Counts)
	}
	if got := f.lastSeq(); got != seq {
		t.Errorf("a replayed round wrote journal entries %d..%d", seq, got)
	}
}

// Only the mapped attributes are replaced: what a push wrote besides them
// stays; a mapped attribute the source no longer sets is removed.
func TestKeepsUnmappedAttributes(t *testing.T) {
	f := newFixture(t)
	pushed := f.push(store.User, map[string]any{"userName": "Alice@X.example", "active": true, "nickName": "Al",
		"title": "Old", "roles": []any{map[string]any{"value": "admin"}}})
	f.src.PutUser(user("u1", "alice@x.example", true))
	rec := f.run()
	if rec.Counts.Created != 0 || rec.Counts.Updated != 1 {
		t.Fatalf("counts %+v", rec.Counts)
	}
	got := f.mustName(store.User, "alice@x.example")
	if got.ID != pushed.ID {
		t.Fatalf("first contact by userName made a new user %s, want %s", got.ID, pushed.ID)
	}
	if got.Attrs["nickName"] != "Al" || got.Attrs["roles"] == nil {
		t.Errorf("unmapped attributes lost: %v", got.Attrs)
	}
	if _, ok := got.Attrs["title"]; ok {
		t.Errorf("mapped title not set by the source was kept: %v", got.Attrs)
	}
	if got.Attrs["userName"] != "alice@x.example" {
		t.Errorf("userName %v", got.Attrs["userName"])
	}
}

// Disabled users: not created unless createDisabledUsers; an existing
// one is disabled (and stays in its groups).
func TestDisabledUsers(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "off@x.example", false))
	f.src.PutUser(user("u2", "on@x.example", true))
	f.src.PutGroup("g1", "G")
	f.src.AddMembers("g1", "u1", "u2")
	rec := f.run()
	if rec.Counts.Skipped != 1 || rec.Skips[pull.SkipDisabled] != 1 {
		t.Fatalf("counts %+v skips %v", rec.Counts, rec.Skips)
	}
	if _, ok := f.byName(store.User, "off@x.example"); ok {
		t.Fatal("a disabled user was created")
	}
	on := f.mustName(store.User, "on@x.example")
	g := f.mustName(store.Group, "G")
	if m := f.members(g.ID); len(m) != 1 || !m[on.ID] {
		t.Errorf("members %v", m)
	}

	f.src.PutUser(user("u2", "on@x.example", false))
	rec = f.run()
	if rec.Counts.Disabled != 1 {
		t.Fatalf("counts %+v", rec.Counts)
	}
	if isActive(f.mustName(store.User, "on@x.example")) {
		t.Error("not disabled")
	}
	if m := f.members(g.ID); !m[on.ID] {
		t.Error("a disabled user left its group")
	}

	f2 := newFixture(t)
	f2.pol.CreateDisabledUsers = true
	f2.src.PutUser(user("u1", "off@x.example", false))
	rec = f2.run()
	if rec.Counts.Created != 1 || isActive(f2.mustName(store.User, "off@x.example")) {
		t.Fatalf("createDisabledUsers: counts %+v", rec.Counts)
	}
}

// Removals: changed (soft delete) disables, deleted follows onDelete; a
// removed user leaves every group, also groups that came by push.
func TestRemovals(t *testing.T) {
	for _, policy := range []pull.OnDelete{pull.OnDeleteDisable, pull.OnDeleteDelete} {
		t.Run(string(policy), func(t *testing.T) {
			f := newFixture(t)
			f.pol.OnDelete = policy
			f.src.PutGroup("g1", "G")
			f.src.AddMembers("g1", "u1", "u2")
			f.src.PutUser(user("u1", "soft@x.example", true))
			f.src.PutUser(user("u2", "hard@x.example", true))
			f.run()
			soft, hard := f.mustName(store.User, "soft@x.example"), f.mustName(store.User, "hard@x.example")
			g := f.mustName(store.Group, "G")
			pushed := f.push(store.Group, map[string]any{"displayName": "Pushed"})
			if _, err := f.st.Update(store.WithOrigin(f.ctx, store.Origin{Source: store.SourcePush}),
				store.Ref{Tenant: tenant, Kind: store.Group, ID: pushed.ID}, func(*store.Resource) (store.MemberDelta, error) {
					return store.MemberDelta{Add: []store.Member{{Value: soft.ID}, {Value: hard.ID}}}, nil
				}); err != nil {
				t.Fatal(err)
			}

			f.src.RemoveUser("u1", pull.RemovedChanged)
			f.src.RemoveUser("u2", pull.RemovedDeleted)
			rec := f.run()
			if isActive(f.mustName(store.User, "soft@x.example")) {
				t.Error("soft-deleted user still active")
			}
			h, exists := f.byName(store.User, "hard@x.example")
			switch policy {
			case pull.OnDeleteDelete:
				if exists || rec.Counts.Deleted != 1 || rec.Counts.Disabled != 1 {
					t.Errorf("exists %v counts %+v", exists, rec.Counts)
				}
				if f.state("pull/graph/map/u/u2") != nil {
					t.Error("a deleted user is still in the map")
				}
			default:
				if !exists || isActive(h) || rec.Counts.Disabled != 2 {
					t.Errorf("exists %v counts %+v", exists, rec.Counts)
				}
			}
			for _, gid := range []string{g.ID, pushed.ID} {
				if m := f.members(gid); m[soft.ID] || m[hard.ID] {
					t.Errorf("group %s still has removed users: %v", gid, m)
				}
			}
		})
	}
}

// A removed group is deleted, soft-deleted ones too.
func TestGroupRemoval(t *testing.T) {
	f := newFixture(t)
	f.src.PutGroup("g1", "One")
	f.src.PutGroup("g2", "Two")
	f.run()
	f.src.RemoveGroup("g1", pull.RemovedChanged)
	f.src.RemoveGroup("g2", pull.RemovedDeleted)
	rec := f.run()
	if rec.Counts.Deleted != 2 || f.total(store.Group) != 0 {
		t.Fatalf("counts %+v, %d groups left", rec.Counts, f.total(store.Group))
	}
}

// A group whose members span several observations is merged; a complete
// member list removes members the source no longer has, also ones a
// push added.
func TestSplitGroupMerge(t *testing.T) {
	f := newFixture(t)
	f.src.MemberSplit = 2
	f.src.PutGroup("g1", "Big")
	var objs []string
	for _, o := range []string{"u1", "u2", "u3", "u4", "u5"} {
		f.src.PutUser(user(o, o+"@x.example", true))
		objs = append(objs, o)
	}
	f.src.AddMembers("g1", objs...)
	f.run()
	g := f.mustName(store.Group, "Big")
	if m := f.members(g.ID); len(m) != 5 {
		t.Fatalf("%d members, want 5", len(m))
	}
	stray := f.push(store.User, map[string]any{"userName": "stray@x.example"})
	if _, err := f.st.Update(store.WithOrigin(f.ctx, store.Origin{Source: store.SourcePush}),
		store.Ref{Tenant: tenant, Kind: store.Group, ID: g.ID}, func(*store.Resource) (store.MemberDelta, error) {
			return store.MemberDelta{Add: []store.Member{{Value: stray.ID}}}, nil
		}); err != nil {
		t.Fatal(err)
	}
	f.src.RemoveMembers("g1", "u5")
	rec := f.run(full)
	m := f.members(g.ID)
	if len(m) != 4 || m[stray.ID] || m[f.mustName(store.User, "u5@x.example").ID] {
		t.Fatalf("members after a complete list: %v (counts %+v)", m, rec.Counts)
	}
}

// Groups match on first contact by externalId, then by a unique
// displayName, keeping the pushed group's id.
func TestGroupFirstContact(t *testing.T) {
	f := newFixture(t)
	byExt := f.push(store.Group, map[string]any{"displayName": "Old name", "externalId": "g1"})
	byName := f.push(store.Group, map[string]any{"displayName": "Unique"})
	f.push(store.Group, map[string]any{"displayName": "Twice"})
	f.push(store.Group, map[string]any{"displayName": "Twice"})
	f.src.PutGroup("g1", "New name")
	f.src.PutGroup("g2", "Unique")
	f.src.PutGroup("g3", "Twice")
	rec := f.run()
	if got := f.mustName(store.Group, "New name"); got.ID != byExt.ID {
		t.Errorf("externalId match: got %s want %s", got.ID, byExt.ID)
	}
	if got := f.mustName(store.Group, "Unique"); got.ID != byName.ID || got.Attrs["externalId"] != "g2" {
		t.Errorf("displayName match: got %s %v want %s", got.ID, got.Attrs, byName.ID)
	}
	if rec.Counts.Created != 1 || f.total(store.Group) != 5 {
		t.Errorf("an ambiguous name must create a group: counts %+v, %d groups", rec.Counts, f.total(store.Group))
	}
}

// A full resync removes or disables only what this source's map holds and
// did not observe; other resources are counted as unmatched, untouched.
func TestFullResyncRemovesOnlyMapped(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "stays@x.example", true))
	f.src.PutUser(user("u2", "goes@x.example", true))
	f.src.PutGroup("g1", "Goes")
	f.run()
	pushedU := f.push(store.User, map[string]any{"userName": "pushed@x.example", "active": true})
	f.push(store.Group, map[string]any{"displayName": "Pushed"})
	f.src.VanishUser("u2")
	f.src.RemoveGroup("g1", pull.RemovedDeleted)

	rec := f.run() // incremental: a vanished user is not noticed
	if !isActive(f.mustName(store.User, "goes@x.example")) {
		t.Fatal("an incremental round disabled a user it did not observe")
	}
	seq := f.lastSeq()
	rec = f.run(full)
	if rec.Counts.Disabled != 1 || rec.Counts.Unmatched != 2 {
		t.Fatalf("counts %+v", rec.Counts)
	}
	if isActive(f.mustName(store.User, "goes@x.example")) {
		t.Error("vanished user still active")
	}
	cs, err := f.st.Changes(f.ctx, tenant, seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == pushedU.ID {
			t.Errorf("the full round touched a pushed user: %+v", c)
		}
	}
	if !isActive(f.mustName(store.User, "pushed@x.example")) {
		t.Error("pushed user disabled")
	}
}

// Bad input is skipped with a reason, and two source users with one
// userName do not take each other's resource.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(pull.User{ObjectID: "u0", Attrs: map[string]any{"displayName": "nameless"}, Enabled: true})
	f.src.PutUser(user("u1", "same@x.example", true))
	f.src.PutUser(user("u2", "SAME@x.example", true))
	rec := f.run()
	if rec.Outcome != pull.OutcomeSucceeded || rec.Counts.Created != 1 || rec.Skips[pull.SkipNoUserName] != 1 ||
		rec.Skips[pull.SkipUserNameUsed] != 1 {
		t.Fatalf("counts %+v skips %v", rec.Counts, rec.Skips)
	}
	// Users apply concurrently: either object may win, but only one, and
	// the resource and the map agree on which.
	u := f.mustName(store.User, "same@x.example")
	winner, _ := u.Attrs["externalId"].(string)
	loser := map[string]string{"u1": "u2", "u2": "u1"}[winner]
	if loser == "" || string(f.state("pull/graph/map/u/"+winner)) != u.ID || f.state("pull/graph/map/u/"+loser) != nil {
		t.Errorf("resource %v, map of u1 %q, of u2 %q", u.Attrs, f.state("pull/graph/map/u/u1"), f.state("pull/graph/map/u/u2"))
	}
}

// A member that was not provisioned (disabled) joins its groups in the
// round that creates it, although that round does not observe the groups.
func TestPendingMembership(t *testing.T) {
	f := newFixture(t)
	f.src.PutGroup("g1", "G1")
	f.src.PutGroup("g2", "G2")
	f.src.PutUser(user("u1", "starter@x.example", false))
	f.src.PutUser(user("u2", "other@x.example", true))
	f.src.AddMembers("g1", "u1", "u2")
	f.src.AddMembers("g2", "u1")
	f.run()
	if f.state("pull/graph/pending/u1") == nil {
		t.Fatal("no pending record for the skipped member")
	}
	f.src.RemoveMembers("g2", "u1") // left g2 before being provisioned
	f.run()
	f.src.PutUser(user("u1", "starter@x.example", true)) // start date: enabled
	rec := f.run()
	u := f.mustName(store.User, "starter@x.example")
	if rec.Counts.Groups != 0 {
		t.Fatalf("the round observed groups: %+v", rec.Counts)
	}
	if !f.members(f.mustName(store.Group, "G1").ID)[u.ID] {
		t.Error("not added to G1")
	}
	if f.members(f.mustName(store.Group, "G2").ID)[u.ID] {
		t.Error("added to G2, which it left")
	}
	if f.state("pull/graph/pending/u1") != nil {
		t.Error("the pending record is still there")
	}
	seq := f.lastSeq()
	f.run(full)
	if f.lastSeq() != seq {
		t.Error("a full replay changed something")
	}
}

// A manager resolves to the bridge id of that user: one created later in
// the round, one matched to a pushed user, and none when the manager is
// not provisioned.
func TestManagers(t *testing.T) {
	f := newFixture(t)
	pushedBoss := f.push(store.User, map[string]any{"userName": "boss@x.example", "active": true})
	f.src.PutUser(withManager(user("u1", "a@x.example", true), "boss"))
	f.src.PutUser(withManager(user("u2", "b@x.example", true), "off"))
	f.src.PutUser(withManager(user("u3", "c@x.example", true), "u4"))
	f.src.PutUser(user("boss", "boss@x.example", true))
	f.src.PutUser(user("off", "off@x.example", false))
	f.src.PutUser(user("u4", "d@x.example", true))
	rec := f.run()
	if got := manager(f.mustName(store.User, "a@x.example")); got != pushedBoss.ID {
		t.Errorf("manager matched by userName: %q, want %q", got, pushedBoss.ID)
	}
	if got := manager(f.mustName(store.User, "b@x.example")); got != "" {
		t.Errorf("unprovisioned manager: %q", got)
	}
	if got, want := manager(f.mustName(store.User, "c@x.example")), f.mustName(store.User, "d@x.example").ID; got != want {
		t.Errorf("later manager: %q want %q", got, want)
	}
	if rec.Counts.Created != 4 || rec.Counts.Updated != 1 || rec.Skips[pull.SkipDisabled] != 1 {
		t.Errorf("counts %+v skips %v", rec.Counts, rec.Skips)
	}
	// An observation without manager information keeps the manager; an
	// empty one removes it.
	u3 := user("u3", "c@x.example", true, "title", "T")
	f.src.PutUser(u3)
	f.run()
	if manager(f.mustName(store.User, "c@x.example")) == "" {
		t.Error("manager lost by an observation that did not mention it")
	}
	f.src.PutUser(withManager(u3, ""))
	f.run()
	if got := manager(f.mustName(store.User, "c@x.example")); got != "" {
		t.Errorf("manager not removed: %q", got)
	}
}

// A tenant Entra pushed, managers included, is pulled for the first time
// with reports streamed before their managers: the first contact matches
// every user and writes nothing (no detour through a reserved manager id
// and back), and a manager that is not provisioned clears the stored one.
func TestManagerLaterOverPushedTenant(t *testing.T) {
	f := newFixture(t)
	boss := f.push(store.User, map[string]any{"userName": "boss@x.example", "displayName": "D boss@x.example",
		"externalId": "boss", "active": true})
	f.push(store.User, map[string]any{"userName": "a@x.example", "displayName": "D a@x.example", "externalId": "u1",
		"active": true, pull.EnterpriseURN: map[string]any{"manager": map[string]any{"value": boss.ID}}})
	stale := f.push(store.User, map[string]any{"userName": "b@x.example", "displayName": "D b@x.example", "externalId": "u2",
		"active": true, pull.EnterpriseURN: map[string]any{"manager": map[string]any{"value": boss.ID}}})
	f.src.PutUser(withManager(user("u1", "a@x.example", true), "boss"))
	f.src.PutUser(withManager(user("u2", "b@x.example", true), "off"))
	f.src.PutUser(user("boss", "boss@x.example", true))
	f.src.PutUser(user("off", "off@x.example", false))
	seq := f.lastSeq()
	rec := f.run()
	if c := rec.Counts; c.Created != 0 || c.Updated != 1 || c.Unchanged != 2 {
		t.Errorf("counts %+v", c)
	}
	if got := manager(f.mustName(store.User, "a@x.example")); got != boss.ID {
		t.Errorf("manager %q, want %q", got, boss.ID)
	}
	if got := manager(f.mustName(store.User, "b@x.example")); got != "" {
		t.Errorf("unprovisioned manager kept: %q", got)
	}
	// One write: b's manager removed.
	cs, err := f.st.Changes(f.ctx, tenant, seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != stale.ID {
		t.Errorf("%d writes, want 1 (b's manager): %+v", len(cs), cs)
	}
}

// A pushed user whose multi-valued attributes hold the source's values in
// another order is unchanged: no write. A real change writes the source's
// order.
func TestMultiValuedOrderIsNoChange(t *testing.T) {
	f := newFixture(t)
	work := map[string]any{"type": "work", "value": "1"}
	fax := map[string]any{"type": "fax", "value": "3"}
	mobile := map[string]any{"type": "mobile", "value": "2"}
	f.push(store.User, map[string]any{"userName": "a@x.example", "displayName": "D a@x.example", "externalId": "u1",
		"active": true, "phoneNumbers": []any{work, fax, mobile}})
	f.src.PutUser(user("u1", "a@x.example", true, "phoneNumbers", []any{work, mobile, fax}))
	seq := f.lastSeq()
	if rec := f.run(); rec.Counts.Unchanged != 1 || rec.Counts.Updated != 0 {
		t.Errorf("counts %+v", rec.Counts)
	}
	if f.lastSeq() != seq {
		t.Error("a reordering was written")
	}
	f.src.PutUser(user("u1", "a@x.example", true, "phoneNumbers", []any{work, mobile}))
	if rec := f.run(); rec.Counts.Updated != 1 {
		t.Errorf("counts %+v", rec.Counts)
	}
	got, _ := f.mustName(store.User, "a@x.example").Attrs["phoneNumbers"].([]any)
	if len(got) != 2 || got[1].(map[string]any)["type"] != "mobile" {
		t.Errorf("phoneNumbers %v", got)
	}
}

// Replaying an incremental round (its checkpoint was not stored, say)
// changes nothing: renames, member changes, removals and managers are all
// applied idempotently.
func TestReplayIncremental(t *testing.T) {
	for _, scoped := range []bool{false, true} {
		t.Run(map[bool]string{false: "all", true: "scoped"}[scoped], func(t *testing.T) {
			f := newFixture(t)
			if scoped {
				f.pol.Scope = &pull.Scope{Groups: []string{"G"}}
			}
			f.src.PutGroup("g1", "G")
			for _, o := range []string{"u1", "u2", "u3", "u4"} {
				f.src.PutUser(user(o, o+"@x.example", true))
			}
			f.src.AddMembers("g1", "u1", "u2", "u3", "u4")
			f.run()
			cp := f.state("pull/graph/checkpoint")

			f.src.PutUser(withManager(user("u1", "renamed@x.example", true), "u5"))
			f.src.PutUser(user("u5", "u5@x.example", true))
			f.src.AddMembers("g1", "u5")
			f.src.RemoveMembers("g1", "u2")
			f.src.RemoveUser("u3", pull.RemovedChanged)
			f.src.PutGroup("g1", "G") // touched, same name
			rec := f.run()
			if rec.Counts.Created != 1 || rec.Counts.Disabled < 1 {
				t.Fatalf("round counts %+v", rec.Counts)
			}
			seq := f.lastSeq()
			if _, err := f.st.PutState(f.ctx, tenant, "pull/graph/checkpoint", cp, -1); err != nil {
				t.Fatal(err)
			}
			rec = f.run()
			if c := rec.Counts; c.Created+c.Updated+c.Disabled+c.Deleted != 0 || c.Unchanged == 0 {
				t.Errorf("replay counts %+v", rec.Counts)
			}
			if got := f.lastSeq(); got != seq {
				cs, _ := f.st.Changes(f.ctx, tenant, seq, 0)
				t.Errorf("the replay wrote %d journal entries: %+v", got-seq, cs)
			}
		})
	}
}

// skipSource reports one skip per object, each with its own reason.
type skipSource struct{ n int }

func (s skipSource) Kind() store.Source { return store.SourcePullLDAP }
func (s skipSource) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	for i := range s.n {
		obs.Skip(ctx, pull.Skip{Kind: store.User, ObjectID: fmt.Sprint(i), Reason: fmt.Sprintf("bad value %d", i)})
	}
	return pull.Result{Checkpoint: []byte("x"), Full: true}, nil
}
func (s skipSource) Users(context.Context, []string, pull.Observer) error { return nil }

// Skip reasons are counted, but a record keeps a bounded number of them.
func TestSkipReasonsBounded(t *testing.T) {
	f := newFixture(t)
	req := f.req()
	req.Source = skipSource{n: 500}
	rec, err := f.eng.Run(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counts.Skipped != 500 || len(rec.Skips) != 51 || rec.Skips[pull.SkipOther] != 450 {
		t.Fatalf("skipped %d, %d reasons, other %d", rec.Counts.Skipped, len(rec.Skips), rec.Skips[pull.SkipOther])
	}
}

// A full round over a loaded store changes nothing, including the users
// whose manager was never provisioned (a disabled user) or comes later in
// the round: no write at all, not a dangling manager taken back again.
func TestFullRoundManagersUnchanged(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(withManager(user("u2", "b@x.example", true), "off"))
	f.src.PutUser(withManager(user("u3", "c@x.example", true), "u4"))
	f.src.PutUser(user("off", "off@x.example", false))
	f.src.PutUser(user("u4", "d@x.example", true))
	f.run()
	seq := f.lastSeq()
	for _, mode := range []string{"dry", "real"} {
		mod := []func(*pull.RunRequest){full}
		if mode == "dry" {
			mod = append(mod, dry)
		}
		rec := f.run(mod...)
		if rec.Counts.Updated != 0 || rec.Counts.Unchanged != 3 {
			t.Errorf("%s full round: counts %+v", mode, rec.Counts)
		}
	}
	if got := f.lastSeq(); got != seq {
		t.Errorf("full round wrote: journal %d -> %d", seq, got)
	}
	if got := manager(f.mustName(store.User, "b@x.example")); got != "" {
		t.Errorf("unprovisioned manager: %q", got)
	}
	if got, want := manager(f.mustName(store.User, "c@x.example")), f.mustName(store.User, "d@x.example").ID; got != want {
		t.Errorf("later manager: %q want %q", got, want)
	}
	// A stored user whose new manager is created later in the round gets it.
	f.src.PutUser(withManager(user("u3", "c@x.example", true), "u5"))
	f.src.PutUser(user("u5", "e@x.example", true))
	rec := f.run(full)
	if got, want := manager(f.mustName(store.User, "c@x.example")), f.mustName(store.User, "e@x.example").ID; got != want {
		t.Errorf("new later manager: %q want %q", got, want)
	}
	if rec.Counts.Created != 1 || rec.Counts.Updated != 1 {
		t.Errorf("counts %+v", rec.Counts)
	}
}
