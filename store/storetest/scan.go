package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
)

// The keyset listings: Scan and ListStatePage.

// scanPages pages through Scan with limit and returns the pages; it fails
// the test unless ids increase strictly within and across pages and every
// resource is of the tenant and kind asked for.
func scanPages(t *testing.T, s store.Store, tenant string, kind store.Kind, limit int) [][]store.Resource {
	t.Helper()
	var pages [][]store.Resource
	after := ""
	for {
		rs, err := s.Scan(ctxT(t), tenant, kind, after, limit)
		if err != nil {
			t.Fatalf("Scan %s %s after %q: %v", tenant, kind, after, err)
		}
		if len(rs) == 0 {
			return pages
		}
		for _, r := range rs {
			if r.Tenant != tenant || r.Kind != kind {
				t.Fatalf("Scan %s %s returned %v", tenant, kind, r.Ref)
			}
			if r.ID <= after {
				t.Fatalf("Scan %s %s after %q returned %q: not in increasing id order", tenant, kind, after, r.ID)
			}
			after = r.ID
		}
		pages = append(pages, rs)
		if len(pages) > 100000 {
			t.Fatal("Scan does not end")
		}
	}
}

func scanIDs(t *testing.T, s store.Store, tenant string, kind store.Kind, afterID string, limit int) []string {
	t.Helper()
	rs, err := s.Scan(ctxT(t), tenant, kind, afterID, limit)
	if err != nil {
		t.Fatalf("Scan %s %s after %q limit %d: %v", tenant, kind, afterID, limit, err)
	}
	if rs == nil {
		t.Fatalf("Scan %s %s after %q: nil, want an empty slice", tenant, kind, afterID)
	}
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// createMany creates rs with a few writers at once (the in-process
// FerretDB takes milliseconds per write).
func createMany(t *testing.T, s store.Store, rs []store.Resource) {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	parallel(8, func(int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(rs) {
				return
			}
			if _, err := s.Create(ctxT(t), rs[i], nil); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("create %q: %w", rs[i].ID, err)
				}
				mu.Unlock()
				return
			}
		}
	})
	if first != nil {
		t.Fatal(first)
	}
}

func testScanOrder(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	// Bytewise order: upper case before lower, "/" and "%" before digits,
	// "_" between upper and lower case, non-ASCII last.
	userIDs := []string{"b", "a", "B", "a0", "a/", "é", "10", "9", "Z", "a%", "a_"}
	for i, id := range userIDs {
		mustCreate(t, s, newUser(tenantA, id, fmt.Sprint("user", i), "title", "t"+id))
	}
	groupIDs := []string{"ab", "g1", "0"}
	for _, id := range groupIDs {
		mustCreate(t, s, newGroup(tenantA, id, "group "+id), "a", "b")
	}
	mustCreate(t, s, newUser(tenantB, "a1", "other"))
	mustCreate(t, s, newGroup(tenantB, "a2", "other group"))
	gone := mustCreate(t, s, newUser(tenantA, "a00", "gone"))
	if err := s.Delete(ctx, gone.Ref, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, userRef(tenantA, "b"), setAttr("title", "changed")); err != nil {
		t.Fatal(err)
	}
	slices.Sort(userIDs)
	slices.Sort(groupIDs)
	wantIDs(t, "Scan users", scanIDs(t, s, tenantA, store.User, "", 0), userIDs)
	wantIDs(t, "Scan users", userIDs, []string{"10", "9", "B", "Z", "a", "a%", "a/", "a0", "a_", "b", "é"})
	wantIDs(t, "Scan groups", scanIDs(t, s, tenantA, store.Group, "", 0), groupIDs)
	wantIDs(t, "Scan tenant B users", scanIDs(t, s, tenantB, store.User, "", 0), []string{"a1"})
	wantIDs(t, "Scan tenant B groups", scanIDs(t, s, tenantB, store.Group, "", 0), []string{"a2"})

	// Each resource as Get returns it.
	rs, err := s.Scan(ctx, tenantA, store.User, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		g := mustGet(t, s, r.Ref)
		if r.Version != g.Version || !r.Created.Equal(g.Created) || !r.LastModified.Equal(g.LastModified) ||
			canon(t, r.Attrs) != canon(t, g.Attrs) {
			t.Fatalf("Scan returned %+v, Get %+v", r, g)
		}
	}
	if rs[9].ID != "b" || rs[9].Version != 2 || rs[9].Attrs["title"] != "changed" {
		t.Fatalf("Scan: updated user %+v", rs[9])
	}

	// Starting points: an existing id, a missing one, before all, past all.
	wantIDs(t, "Scan after a", scanIDs(t, s, tenantA, store.User, "a", 0), []string{"a%", "a/", "a0", "a_", "b", "é"})
	wantIDs(t, "Scan after a00 (deleted)", scanIDs(t, s, tenantA, store.User, "a00", 0), []string{"a_", "b", "é"})
	wantIDs(t, "Scan after !", scanIDs(t, s, tenantA, store.User, "!", 0), userIDs)
	wantIDs(t, "Scan after ab (a group)", scanIDs(t, s, tenantA, store.User, "ab", 0), []string{"b", "é"})
	if ids := scanIDs(t, s, tenantA, store.User, "é", 0); len(ids) != 0 {
		t.Fatalf("Scan after the last id: %v", ids)
	}
	if ids := scanIDs(t, s, tenantA, store.User, "\U0010FFFF", 0); len(ids) != 0 {
		t.Fatalf("Scan past every id: %v", ids)
	}
	if ids := scanIDs(t, s, "tenant-c", store.User, "", 0); len(ids) != 0 {
		t.Fatalf("Scan of an empty tenant: %v", ids)
	}
	if _, err := s.Scan(ctx, tenantA, "Device", "", 0); err == nil {
		t.Fatal("Scan of an unknown kind: no error")
	}

	// Paging by one gives the same order.
	var paged []string
	for _, p := range scanPages(t, s, tenantA, store.User, 1) {
		if len(p) != 1 {
			t.Fatalf("Scan limit 1: page of %d", len(p))
		}
		paged = append(paged, p[0].ID)
	}
	wantIDs(t, "Scan by pages of 1", paged, userIDs)
}

// testScanLimits checks limits and, at full size (SCIMBRIDGE_TEST_FULL=1:
// a thousand creates take a minute on the in-process FerretDB), the
// default page of store.DefaultPageLimit.
func testScanLimits(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	n := testscale.Size(30, store.DefaultPageLimit+3)
	var rs []store.Resource
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		rs = append(rs, newUser(tenantA, id, id))
		ids = append(ids, id)
	}
	// Groups interleaved with the users by id.
	rs = append(rs, newGroup(tenantA, "u00000g", "g1"), newGroup(tenantA, "u00001g", "g2"))
	createMany(t, s, rs)
	def := ids[:min(n, store.DefaultPageLimit)]
	for _, c := range []struct {
		limit int
		want  []string
	}{
		{0, def},
		{-5, def},
		{1, ids[:1]},
		{n - 1, ids[:n-1]},
		{n, ids},
		{store.MaxPageLimit, ids},
	} {
		wantIDs(t, fmt.Sprintf("Scan limit %d", c.limit), scanIDs(t, s, tenantA, store.User, "", c.limit), c.want)
	}
	if _, err := s.Scan(ctx, tenantA, store.User, "", store.MaxPageLimit+1); err == nil {
		t.Fatalf("Scan with limit %d: no error", store.MaxPageLimit+1)
	}
	var walked []string
	for _, p := range scanPages(t, s, tenantA, store.User, 0) {
		if len(p) > store.DefaultPageLimit || len(p) < store.DefaultPageLimit && len(walked)+len(p) != n {
			t.Fatalf("Scan by default pages: a page of %d after %d", len(p), len(walked))
		}
		for _, r := range p {
			walked = append(walked, r.ID)
		}
	}
	wantIDs(t, "Scan by default pages", walked, ids)
	wantIDs(t, "Scan groups", scanIDs(t, s, tenantA, store.Group, "", 1), []string{"u00000g"})
	wantIDs(t, "Scan groups", scanIDs(t, s, tenantA, store.Group, "u00000g", 1), []string{"u00001g"})
}

// testScanPaging pages through a tenant while resources are created and
// deleted, both just behind and just ahead of the scan's position (where
// offset paging would skip or repeat one) and at random from another
// goroutine: every resource that existed throughout comes exactly once, and
// none deleted before the scan reached it.
func testScanPaging(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	// Users with the even numbers 0, 2, ... 2n-2; odd ones are created
	// during the scan. Every page costs a collection scan on FerretDB.
	n, limit := testscale.Size(100, 300), testscale.Size(3, 7)
	id := func(i int) string { return fmt.Sprintf("u%04d", i) }
	var rs []store.Resource
	doomed := map[string]bool{} // deleted during the scan
	var doomedOrder []string
	for i := 0; i < 2*n; i += 2 {
		rs = append(rs, newUser(tenantA, id(i), id(i)))
		if i%10 == 4 {
			doomed[id(i)] = true
			doomedOrder = append(doomedOrder, id(i))
		}
		// Groups and another tenant's users interleave by id.
		if i%20 == 0 {
			rs = append(rs, newGroup(tenantA, id(i)+"g", "group "+id(i)), newUser(tenantB, id(i)+"b", id(i)))
		}
	}
	createMany(t, s, rs)

	// Another writer adds and removes users between the others all along.
	stop := make(chan struct{})
	var bgErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			r := newUser(tenantA, fmt.Sprintf("%sx", id((k*37)%(2*n))), fmt.Sprint("churn", k))
			if _, err := s.Create(ctx, r, nil); errors.Is(err, store.ErrConflict) {
				continue // kept from an earlier round
			} else if err != nil {
				bgErr.Store(err)
				return
			}
			if k%2 == 0 {
				if err := s.Delete(ctx, r.Ref, 0); err != nil {
					bgErr.Store(err)
					return
				}
			}
		}
	}()

	deletedAhead := map[string]bool{}
	deleted := map[string]bool{}
	seen := map[string]bool{}
	after := ""
	pages := 0
	for {
		page, err := s.Scan(ctx, tenantA, store.User, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, r := range page {
			if r.ID <= after {
				t.Fatalf("page %d: %q after %q", pages, r.ID, after)
			}
			if deletedAhead[r.ID] {
				t.Fatalf("page %d: %q was deleted before the scan reached it", pages, r.ID)
			}
			if r.Kind != store.User || r.Tenant != tenantA {
				t.Fatalf("page %d: %v", pages, r.Ref)
			}
			seen[r.ID] = true
			after = r.ID
		}
		// Write behind and ahead of the position.
		var num int
		if _, err := fmt.Sscanf(after, "u%04d", &num); err != nil {
			t.Fatalf("id %q: %v", after, err)
		}
		for _, odd := range []int{num - num%2 - 1, num - num%2 + 3} {
			if odd > 0 && odd < 2*n {
				if _, err := s.Create(ctx, newUser(tenantA, id(odd), id(odd)), nil); err != nil && !errors.Is(err, store.ErrConflict) {
					t.Fatal(err)
				}
			}
		}
		var behind, ahead string
		for _, d := range doomedOrder {
			if deleted[d] {
				continue
			}
			if d <= after && behind == "" {
				behind = d
			}
			if d > after && ahead == "" {
				ahead = d
			}
		}
		for _, d := range []string{behind, ahead} {
			if d == "" {
				continue
			}
			if err := s.Delete(ctx, userRef(tenantA, d), 0); err != nil {
				t.Fatal(err)
			}
			deleted[d] = true
			if d > after {
				deletedAhead[d] = true
			}
		}
	}
	close(stop)
	wg.Wait()
	if err, _ := bgErr.Load().(error); err != nil {
		t.Fatalf("background writer: %v", err)
	}
	if pages < n*4/5/limit {
		t.Fatalf("only %d pages", pages)
	}
	if len(deletedAhead) == 0 || len(deleted) == len(deletedAhead) {
		t.Fatalf("deletions: %d ahead of the scan, %d in all", len(deletedAhead), len(deleted))
	}
	for i := 0; i < 2*n; i += 2 {
		if !doomed[id(i)] && !seen[id(i)] {
			t.Fatalf("%s existed throughout the scan but was not returned", id(i))
		}
	}
}

func statePageKeys(t *testing.T, s store.Store, tenant, prefix, after string, limit int) []string {
	t.Helper()
	es, err := s.ListStatePage(ctxT(t), tenant, prefix, after, limit)
	if err != nil {
		t.Fatalf("ListStatePage %s %q after %q: %v", tenant, prefix, after, err)
	}
	if es == nil {
		t.Fatalf("ListStatePage %s %q after %q: nil, want an empty slice", tenant, prefix, after)
	}
	keys := []string{}
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	return keys
}

func testListStatePage(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const maxRune = "\U0010FFFF"
	keys := []string{"", "a", "a/", "a/%", "a/1", "a/_x", "a/b", "a/é", "a0", "a%", "a%b", "a_b", "ab", "b/1",
		"x" + maxRune, "x" + maxRune + "a", "x" + maxRune + maxRune, "y", maxRune}
	for _, k := range keys {
		if _, err := s.PutState(ctx, tenantA, k, []byte("v"+k), 0); err != nil {
			t.Fatalf("PutState %q: %v", k, err)
		}
	}
	for _, k := range []string{"a/1", "a/zz"} {
		if _, err := s.PutState(ctx, tenantB, k, []byte("b"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutState(ctx, tenantA, "a/1", []byte("new"), 1); err != nil {
		t.Fatal(err)
	}
	aSlash := []string{"a/", "a/%", "a/1", "a/_x", "a/b", "a/é"}
	for _, c := range []struct {
		prefix, after string
		want          []string
	}{
		{"a/", "", aSlash}, // not a0
		{"a/", "0", aSlash},
		{"a/", "a/", aSlash[1:]},
		{"a/", "a/1", aSlash[3:]},
		{"a/", "a/c", []string{"a/é"}},
		{"a/", "a0", nil},
		{"a/", "b", nil},
		{"a%", "", []string{"a%", "a%b"}}, // % is no wildcard
		{"a_", "", []string{"a_b"}},       // nor _
		{"a/%", "", []string{"a/%"}},
		{"a/_", "", []string{"a/_x"}},
		{"a", "a/b", []string{"a/é", "a0", "a_b", "ab"}},
		{"x" + maxRune, "", []string{"x" + maxRune, "x" + maxRune + "a", "x" + maxRune + maxRune}},
		{maxRune, "", []string{maxRune}},
		{"", "", slices.Sorted(slices.Values(keys))},
		{"", "ab", []string{"b/1", "x" + maxRune, "x" + maxRune + "a", "x" + maxRune + maxRune, "y", maxRune}},
		{"zzz", "", nil},
		{"a/1/", "", nil},
	} {
		wantIDs(t, fmt.Sprintf("ListStatePage %q after %q", c.prefix, c.after),
			statePageKeys(t, s, tenantA, c.prefix, c.after, 0), c.want)
	}
	wantIDs(t, "ListStatePage tenant B", statePageKeys(t, s, tenantB, "a/", "", 0), []string{"a/1", "a/zz"})
	if ks := statePageKeys(t, s, "tenant-c", "", "", 0); len(ks) != 0 {
		t.Fatalf("ListStatePage of an empty tenant: %v", ks)
	}

	// Entries as ListState returns them, paged by two.
	all, err := s.ListState(ctx, tenantA, "a/")
	if err != nil {
		t.Fatal(err)
	}
	var paged []store.StateEntry
	after := ""
	for {
		es, err := s.ListStatePage(ctx, tenantA, "a/", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		if len(es) > 2 {
			t.Fatalf("ListStatePage limit 2: %d entries", len(es))
		}
		paged = append(paged, es...)
		after = es[len(es)-1].Key
	}
	wantEqual(t, "ListStatePage by twos", paged, all)
	if paged[2].Key != "a/1" || string(paged[2].Value) != "new" || paged[2].Version != 2 {
		t.Fatalf("ListStatePage entry %+v", paged[2])
	}
}

func testListStatePageLimits(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const n = store.DefaultPageLimit + 1
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("k/%05d", i))
	}
	var next atomic.Int64
	var failed atomic.Value
	parallel(8, func(int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			if _, err := s.PutState(ctx, tenantA, keys[i], []byte{byte(i)}, 0); err != nil {
				failed.Store(err)
				return
			}
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutState(ctx, tenantA, "l", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, keys[:store.DefaultPageLimit]},
		{"", -1, keys[:store.DefaultPageLimit]},
		{"", 1, keys[:1]},
		{"", store.MaxPageLimit, keys},
		{keys[store.DefaultPageLimit-1], 0, keys[store.DefaultPageLimit:]},
	} {
		wantIDs(t, fmt.Sprintf("ListStatePage after %q limit %d", c.after, c.limit),
			statePageKeys(t, s, tenantA, "k/", c.after, c.limit), c.want)
	}
	if _, err := s.ListStatePage(ctx, tenantA, "k/", "", store.MaxPageLimit+1); err == nil {
		t.Fatalf("ListStatePage with limit %d: no error", store.MaxPageLimit+1)
	}
}
