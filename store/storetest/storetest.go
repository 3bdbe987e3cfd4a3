// Package storetest is the conformance suite every store backend runs:
// RunTests for behaviour on a fresh store per subtest and
// RunConcurrencyTests for the guarantees under concurrent writers. A
// backend's test file only supplies a constructor:
//
//	func TestStore(t *testing.T) { storetest.RunTests(t, newStore) }
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// suiteTimeout bounds one subtest (generous: the in-process FerretDB is slow on
// a busy machine, and the journal proof at full size takes about 7 minutes
// there); on expiry every goroutine's stack is
// dumped and the test binary panics, so a deadlock names itself.
const suiteTimeout = 30 * time.Minute

type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// RunTests runs the behaviour suite, each subtest on a fresh, empty store
// from newStore (which should close it with t.Cleanup). The store must treat
// StrictTenant with strict uniqueness and every other tenant with RFC 7643
// uniqueness.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	run(t, newStore, tests())
}

// RunConcurrencyTests runs the concurrency suite, each subtest on a fresh,
// empty store from newStore (StrictTenant strict, as for RunTests).
func RunConcurrencyTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	run(t, newStore, concurrencyTests())
}

func run(t *testing.T, newStore func(t *testing.T) store.Store, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			withTimeout(t, suiteTimeout, func() { tc.run(t, newStore(t)) })
		})
	}
}

// withTimeout runs fn and crashes the test binary with all goroutine stacks
// if it takes longer than d.
func withTimeout(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		fmt.Fprintf(os.Stderr, "storetest: %s did not finish within %v; goroutines:\n", name, d)
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		panic("storetest: " + name + " timed out")
	})
	defer timer.Stop()
	fn()
}

func tests() []testCase {
	return []testCase{
		{"CreateGet", testCreateGet},
		{"CreateExplicitIDAndCreated", testCreateExplicit},
		{"CreateKeepsImportedMeta", testCreateImported},
		{"GetNotFound", testGetNotFound},
		{"UpdateBumpsVersion", testUpdate},
		{"UpdateNoChange", testUpdateNoChange},
		{"UpdateFnError", testUpdateFnError},
		{"UpdateNotFound", testUpdateNotFound},
		{"UpdateGetsDeepCopy", testUpdateDeepCopy},
		{"Delete", testDelete},
		{"DeleteIfVersion", testDeleteIfVersion},
		{"TenantIsolation", testTenantIsolation},
		{"UniqueUserName", testUniqueUserName},
		{"GroupDisplayNameNotUnique", testGroupDisplayNameNotUnique},
		{"ExternalIDNotUnique", testExternalIDNotUnique},
		{"StrictGroupDisplayName", testStrictGroupDisplayName},
		{"StrictExternalID", testStrictExternalID},
		{"DuplicateID", testDuplicateID},
		{"Exists", testExists},
		{"MembersAddRemoveReplace", testMembers},
		{"MembersPaging", testMembersPaging},
		{"MemberOf", testMemberOf},
		{"DeleteRemovesMemberships", testDeleteMemberships},
		{"LargeGroup", testLargeGroup},
		{"Journal", testJournal},
		{"JournalPaging", testJournalPaging},
		{"State", testState},
		{"ListState", testListState},
		{"ListStatePage", testListStatePage},
		{"ListStatePageLimits", testListStatePageLimits},
		{"ScanOrder", testScanOrder},
		{"ScanLimits", testScanLimits},
		{"ScanPagingWhileWriting", testScanPaging},
		{"Lease", testLease},
		{"Consumer", testConsumer},
		{"QueryFilters", testQueryFilters},
		{"QuerySort", testQuerySort},
		{"QueryPaging", testQueryPaging},
		{"QueryEveryAttribute", testQueryEveryAttribute},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
		{"Provenance", testProvenance},
		{"Trim", testTrim},
		{"TrimConcurrent", testTrimConcurrent},
	}
}

// Test fixtures and helpers.

const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(Background(), suiteTimeout)
	t.Cleanup(cancel)
	return ctx
}

func userRef(tenant, id string) store.Ref { return store.Ref{Tenant: tenant, Kind: store.User, ID: id} }
func groupRef(tenant, id string) store.Ref {
	return store.Ref{Tenant: tenant, Kind: store.Group, ID: id}
}

func newUser(tenant, id, userName string, attrs ...any) store.Resource {
	a := map[string]any{"userName": userName}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i].(string)] = attrs[i+1]
	}
	return store.Resource{Ref: userRef(tenant, id), Attrs: a}
}

func newGroup(tenant, id, displayName string, attrs ...any) store.Resource {
	a := map[string]any{"displayName": displayName}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i].(string)] = attrs[i+1]
	}
	return store.Resource{Ref: groupRef(tenant, id), Attrs: a}
}

func mustCreate(t *testing.T, s store.Store, r store.Resource, members ...string) store.Resource {
	t.Helper()
	out, err := s.Create(ctxT(t), r, memberList(members...))
	if err != nil {
		t.Fatalf("Create %s %q: %v", r.Kind, r.ID, err)
	}
	return out
}

func mustGet(t *testing.T, s store.Store, ref store.Ref) store.Resource {
	t.Helper()
	r, err := s.Get(ctxT(t), ref)
	if err != nil {
		t.Fatalf("Get %v: %v", ref, err)
	}
	return r
}

func memberList(ids ...string) []store.Member {
	var ms []store.Member
	for _, id := range ids {
		ms = append(ms, store.Member{Value: id})
	}
	return ms
}

// setAttr returns an update fn that sets one top-level attribute.
func setAttr(name string, v any) func(r *store.Resource) (store.MemberDelta, error) {
	return func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs[name] = v
		return store.MemberDelta{}, nil
	}
}

// members returns an update fn that only changes memberships.
func members(d store.MemberDelta) func(r *store.Resource) (store.MemberDelta, error) {
	return func(r *store.Resource) (store.MemberDelta, error) { return d, nil }
}

func memberIDs(t *testing.T, s store.Store, group store.Ref) []string {
	t.Helper()
	ms, err := s.Members(ctxT(t), group, "", 0)
	if err != nil {
		t.Fatalf("Members %v: %v", group, err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.Value)
	}
	return ids
}

func changes(t *testing.T, s store.Store, tenant string, after int64) []store.Change {
	t.Helper()
	cs, err := s.Changes(ctxT(t), tenant, after, 0)
	if err != nil {
		t.Fatalf("Changes %s: %v", tenant, err)
	}
	return cs
}

func lastSeq(t *testing.T, s store.Store, tenant string) int64 {
	t.Helper()
	cs := changes(t, s, tenant, 0)
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}

// canon returns v as canonical JSON for comparisons.
func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantConflict(t *testing.T, err error, attr, what string) {
	t.Helper()
	wantErr(t, err, store.ErrConflict, what)
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: error %v is not a *store.ConflictError", what, err)
	}
	if ce.Attribute != attr {
		t.Fatalf("%s: conflict on %q, want %q", what, ce.Attribute, attr)
	}
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}
