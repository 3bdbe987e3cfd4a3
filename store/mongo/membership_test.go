package mongo

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// membershipRace is the setup of the tests below: user u, group g without
// members, and two handles on one database, the first with a fault hook
// that calls at(step) while armed.
type membershipRace struct {
	ctx      context.Context
	s, other *Store
	u, g     store.Ref
	// arm makes the hook of s call f at every step until f calls disarm.
	arm    func(f func(step string) error)
	disarm func()
}

func newMembershipRace(t *testing.T, lease time.Duration) *membershipRace {
	t.Helper()
	r := &membershipRace{
		ctx: storetest.Background(),
		u:   store.Ref{Tenant: "t", Kind: store.User, ID: "u"},
		g:   store.Ref{Tenant: "t", Kind: store.Group, ID: "g"},
	}
	uri, db := testmongo.DB(t)
	var err error
	r.other, err = Open(r.ctx, uri, db, WithLease(lease), withoutRecoverer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.other.Close() })
	hook := make(chan func(string) error, 1)
	r.s, err = Open(r.ctx, uri, db, WithLease(lease), withoutRecoverer(), WithFaultHook(func(step string) error {
		select {
		case f := <-hook:
			hook <- f
			return f(step)
		default:
			return nil
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.s.Close() })
	r.arm = func(f func(string) error) { hook <- f }
	r.disarm = func() { <-hook }
	if _, err := r.other.Create(r.ctx, store.Resource{Ref: r.g, Attrs: map[string]any{"displayName": "G"}}, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *membershipRace) createU(s *Store) error {
	_, err := s.Create(r.ctx, store.Resource{Ref: r.u, Attrs: map[string]any{"userName": "u"}}, nil)
	return err
}

// addU adds u to g (and retitles g, so that the write is journaled even
// when the add does not hold).
func (r *membershipRace) addU(s *Store, title string) error {
	_, err := s.Update(r.ctx, r.g, func(res *store.Resource) (store.MemberDelta, error) {
		res.Attrs["title"] = title
		return store.MemberDelta{Add: []store.Member{{Value: r.u.ID}}}, nil
	})
	return err
}

// check asserts the journal's story and the store's state agree: every
// add names a member live at that point of the journal, and g's members
// (both ways: Members and MemberOf) are those the journal leaves. It
// returns the journal.
func (r *membershipRace) check(t *testing.T, want ...string) []store.Change {
	t.Helper()
	cs, err := r.other.Changes(r.ctx, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkJournal(t, cs)
	live := map[string]bool{}
	members := map[string]bool{}
	for _, c := range cs {
		switch c.Op {
		case store.OpCreate:
			live[c.ID] = true
		case store.OpDelete:
			delete(live, c.ID)
			delete(members, c.ID)
		}
		for _, id := range c.Removed {
			delete(members, id)
		}
		for _, id := range c.Added {
			if !live[id] {
				t.Fatalf("seq %d: %s v%d adds %s, which is not live then; journal %+v", c.Seq, c.ID, c.Version, id, cs)
			}
			members[id] = true
		}
	}
	replayed := []string{}
	for id := range members {
		replayed = append(replayed, id)
	}
	slices.Sort(replayed)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(replayed, want) {
		t.Fatalf("journal leaves g with %v, want %v; journal %+v", replayed, want, cs)
	}
	ms, err := r.other.Members(r.ctx, r.g, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, m := range ms {
		got = append(got, m.Value)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("members of g %v, want %v", got, want)
	}
	mo, err := r.other.MemberOf(r.ctx, r.u)
	if err != nil {
		t.Fatal(err)
	}
	if inG := len(want) > 0; (len(mo) == 1 && mo[0].Value == "g") != inG || len(mo) > 1 {
		t.Fatalf("u is member of %v, want g only if %v", mo, inG)
	}
	// No record is left that a read has to skip.
	n, err := r.other.mem.CountDocuments(r.ctx, bson.D{})
	if err != nil || n != int64(len(want)) {
		t.Fatalf("%d membership records (%v), want %d", n, err, len(want))
	}
	return cs
}

// TestAddOfDeletedMember runs a group write that adds u while u is deleted
// (and, in some cases, created again) between the group write's commit and
// its membership step, or between that step's insert and its re-read. The
// add must not hold: the record is removed, the journal entry does not
// name u, and the new u does not inherit the membership.
func TestAddOfDeletedMember(t *testing.T) {
	for _, tc := range []struct {
		name     string
		step     string
		recreate bool
	}{
		{"deleted before insert", "written", false},
		{"recreated before insert", "written", true},
		// At "inserted" the record exists when u's delete looks: the delete
		// waits for the group write, which is parked in this hook, until its
		// lease is over, and then finishes it itself.
		{"deleted after insert", "inserted", false},
		{"recreated after insert", "inserted", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newMembershipRace(t, lease)
			if err := r.createU(r.other); err != nil {
				t.Fatal(err)
			}
			r.arm(func(step string) error {
				if step != tc.step {
					return nil
				}
				r.disarm()
				if err := r.other.Delete(r.ctx, r.u, 0); err != nil {
					return err
				}
				if tc.recreate {
					return r.createU(r.other)
				}
				return nil
			})
			if err := r.addU(r.s, "x"); err != nil {
				t.Fatal(err)
			}
			cs := r.check(t)
			i := slices.IndexFunc(cs, func(c store.Change) bool { return c.ID == "g" && c.Version == 2 })
			if i < 0 || len(cs[i].Added) != 0 {
				t.Fatalf("journal %+v: want g's v2, adding nobody", cs)
			}
			if !tc.recreate {
				if err := r.createU(r.other); err != nil {
					t.Fatal(err)
				}
				r.check(t)
			}
			// The group still takes the new u.
			if err := r.addU(r.other, "y"); err != nil {
				t.Fatal(err)
			}
			r.check(t, "u")
		})
	}
}

// TestDeleteWaitsForGroupWrite parks a group write that adds u after it
// has re-read u as live and before it is journaled, and deletes u
// meanwhile: the delete must wait for the group's entry, so that the
// journal says "added u" before "u deleted", and the record goes with u.
func TestDeleteWaitsForGroupWrite(t *testing.T) {
	r := newMembershipRace(t, 30*time.Second)
	if err := r.createU(r.other); err != nil {
		t.Fatal(err)
	}
	parked, release := make(chan struct{}), make(chan struct{})
	r.arm(func(step string) error {
		if step == "members" {
			r.disarm()
			close(parked)
			<-release
		}
		return nil
	})
	wrote := make(chan error, 1)
	go func() { wrote <- r.addU(r.s, "x") }()
	<-parked
	deleted := make(chan error, 1)
	go func() { deleted <- r.other.Delete(r.ctx, r.u, 0) }()
	select {
	case err := <-deleted:
		t.Fatalf("delete of u returned (%v) while a group write adding u was pending", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	cs := r.check(t)
	add := slices.IndexFunc(cs, func(c store.Change) bool { return c.ID == "g" && slices.Contains(c.Added, "u") })
	del := slices.IndexFunc(cs, func(c store.Change) bool { return c.ID == "u" && c.Op == store.OpDelete })
	if add < 0 || del < add {
		t.Fatalf("journal %+v: want g adding u, then u's delete", cs)
	}
	if err := r.createU(r.other); err != nil {
		t.Fatal(err)
	}
	r.check(t)
}

// TestGroupWriteWaitsForMemberCreate parks u's create between its commit
// and its journal entry, and adds u to g meanwhile: the group write must
// wait, so that the journal creates u before g adds it.
func TestGroupWriteWaitsForMemberCreate(t *testing.T) {
	r := newMembershipRace(t, 30*time.Second)
	parked, release := make(chan struct{}), make(chan struct{})
	r.arm(func(step string) error {
		if step == "written" {
			r.disarm()
			close(parked)
			<-release
		}
		return nil
	})
	created := make(chan error, 1)
	go func() { created <- r.createU(r.s) }()
	<-parked
	added := make(chan error, 1)
	go func() { added <- r.addU(r.other, "x") }()
	select {
	case err := <-added:
		t.Fatalf("group write returned (%v) while the create of its member was not journaled", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	r.check(t, "u") // fails if g's entry adds u before u's create
}
