package replicas_test

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The Entra-like workload. Its final state does not depend on how the
// races in it turn out (who wins a duplicate create or an If-Match race):
// every loser's request is either a duplicate of the winner's or is
// retried, as a SCIM client would, with the fresh ETag. So the state it
// leaves is fully known in advance (the model below), and two replicas
// must produce exactly that, like one bridge does.
const (
	nUsers     = 60 // user00..user59, created alternately through A and B
	nDups      = 4  // dup0..dup3, each POSTed to A and B at the same moment
	nGroups    = 3  // group0..group2; group0 is POSTed to both at once
	perGroup   = 20 // groupK gets user(20K)..user(20K+19)
	batch      = 2  // members per PATCH (Entra batches member adds)
	nRaces     = 5  // user10..user14: If-Match races, A vs B
	raceFirst  = 10
	disabled   = 5  // user05: disabled through A (created through B)
	deleted    = 7  // user07: deleted through A (created through B); member of group0
	removedU   = 21 // removed from group1 through B
	renamedG   = 2  // group2 renamed through B
	width      = 8  // concurrent requests in flight
	wantWrites = nUsers + nDups + nGroups + nGroups*perGroup/batch + nUsers + 1 + 1 + 1 + 1 + 2*nRaces
)

func userKey(i int) string     { return fmt.Sprintf("user%02d", i) }
func userName(k string) string { return k + "@contoso.com" }
func groupKey(i int) string    { return fmt.Sprintf("group%d", i) }
func groupName(i int) string   { return fmt.Sprintf("Group %d", i) }

func userBody(key string) map[string]any {
	return map[string]any{
		"schemas":     []any{urnUser, urnEnterprise},
		"externalId":  "ext-" + key,
		"userName":    userName(key),
		"active":      true,
		"displayName": "Display " + key,
		"name":        map[string]any{"givenName": "Given " + key, "familyName": "Family " + key, "formatted": "Given Family " + key},
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": userName(key)}},
		urnEnterprise: map[string]any{"department": "Dept " + key[len(key)-1:], "employeeNumber": key},
		"meta":        map[string]any{"resourceType": "User"},
	}
}

func groupBody(i int) map[string]any {
	return map[string]any{
		"schemas":     []any{urnGroup},
		"externalId":  "ext-" + groupKey(i),
		"displayName": groupName(i),
		"members":     []any{},
		"meta":        map[string]any{"resourceType": "Group"},
	}
}

func patchOp(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []any{urnPatchOp}, "Operations": l}
}

func op(o, path string, value any) map[string]any {
	m := map[string]any{"op": o, "path": path}
	if value != nil {
		m["value"] = value
	}
	return m
}

func filterPath(kind, attr, value string) string {
	q := url.Values{"filter": {fmt.Sprintf("%s eq %q", attr, value)}}
	if kind == "Groups" {
		q.Set("excludedAttributes", "members")
	}
	return "/" + kind + "?" + q.Encode()
}

// workload drives one run against a and b (the same bridge for the
// single-bridge baseline).
type workload struct {
	t      *testing.T
	a, b   *bridge
	mu     sync.Mutex
	ids    map[string]string // key → id
	writes atomic.Int64      // successful writes (one journal entry each)
}

func (w *workload) pick(i int) *bridge {
	if i%2 == 0 {
		return w.a
	}
	return w.b
}

func (w *workload) other(br *bridge) *bridge {
	if br == w.a {
		return w.b
	}
	return w.a
}

func (w *workload) id(key string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.ids[key]
	if !ok {
		w.t.Errorf("no id for %s", key)
	}
	return id
}

func (w *workload) setID(key, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ids[key] = id
}

// expect reports a request that did not get status.
func (w *workload) expect(br *bridge, what string, r resp, status ...int) bool {
	if r.err == nil && slices.Contains(status, r.status) {
		return true
	}
	w.t.Errorf("%s via %s: %v, want %v", what, br.name, r, status)
	return false
}

// total asserts a list response's totalResults.
func (w *workload) total(br *bridge, what string, r resp, n int) {
	if !w.expect(br, what, r, 200) {
		return
	}
	if got, _ := r.body["totalResults"].(float64); int(got) != n {
		w.t.Errorf("%s via %s: totalResults %v, want %d: %s", what, br.name, r.body["totalResults"], n, r.raw)
	}
}

// createUser is Entra's create: filter on userName, then POST.
func (w *workload) createUser(br *bridge, key string) {
	w.total(br, "filter "+key, br.do("GET", filterPath("Users", "userName", userName(key)), nil), 0)
	r := br.do("POST", "/Users", userBody(key))
	if w.expect(br, "create "+key, r, 201) {
		w.writes.Add(1)
		w.setID(key, r.str("id"))
	}
}

// race sends the same create to A and B at the same moment, after both
// found nothing with the filter: exactly one must get 201, the other 409
// uniqueness, and both replicas must then find exactly one resource.
func (w *workload) race(kind, attr, value, key string, body map[string]any) {
	fp := filterPath(kind, attr, value)
	together(
		func() { w.total(w.a, "filter "+key, w.a.do("GET", fp, nil), 0) },
		func() { w.total(w.b, "filter "+key, w.b.do("GET", fp, nil), 0) },
	)
	var ra, rb resp
	together(
		func() { ra = w.a.do("POST", "/"+kind, body) },
		func() { rb = w.b.do("POST", "/"+kind, body) },
	)
	win, lose := ra, rb
	if rb.status == 201 {
		win, lose = rb, ra
	}
	if win.status != 201 || win.err != nil {
		w.t.Errorf("duplicate create %s: no 201: A %v; B %v", key, ra, rb)
		return
	}
	w.writes.Add(1)
	w.setID(key, win.str("id"))
	if err := isSCIMError(lose, 409, "uniqueness"); err != nil {
		w.t.Errorf("duplicate create %s: the other replica: %v (winner %v)", key, err, win)
	}
	for _, br := range []*bridge{w.a, w.b} {
		w.total(br, "filter "+key+" after the race", br.do("GET", fp, nil), 1)
	}
}

// ifMatchRace PATCHes user key through A and B with the same If-Match at
// the same moment: one wins (200), the other gets 412 and retries with the
// ETag it reads back through its own replica.
func (w *workload) ifMatchRace(key string) {
	id := w.id(key)
	g := w.a.do("GET", "/Users/"+id, nil)
	if !w.expect(w.a, "get "+key, g, 200) {
		return
	}
	etag := g.header.Get("ETag")
	if etag == "" {
		w.t.Errorf("get %s: no ETag", key)
		return
	}
	// Different attributes, so that the final state is the same
	// whichever wins.
	body := func(n int) map[string]any { return bodies0(key)[n] }
	var r [2]resp
	together(
		func() { r[0] = w.a.do("PATCH", "/Users/"+id, body(0), "If-Match", etag) },
		func() { r[1] = w.b.do("PATCH", "/Users/"+id, body(1), "If-Match", etag) },
	)
	brs := [2]*bridge{w.a, w.b}
	winners := 0
	for n := range r {
		if r[n].status == 200 && r[n].err == nil {
			winners++
			w.writes.Add(1)
		}
	}
	if winners != 1 {
		w.t.Errorf("If-Match race on %s: %d winners: A %v; B %v", key, winners, r[0], r[1])
		return
	}
	for n := range r {
		if r[n].status == 200 {
			if got := r[n].header.Get("ETag"); got == etag || got == "" {
				w.t.Errorf("If-Match race on %s: winner's ETag %q (was %q)", key, got, etag)
			}
			continue
		}
		if err := isSCIMError(r[n], 412, ""); err != nil {
			w.t.Errorf("If-Match race on %s: loser: %v", key, err)
			return
		}
		// The loser re-reads through its own replica and retries.
		br := brs[n]
		g := br.do("GET", "/Users/"+id, nil)
		if !w.expect(br, "re-read "+key, g, 200) {
			return
		}
		fresh := g.header.Get("ETag")
		if fresh == etag {
			w.t.Errorf("re-read %s via %s after losing: still ETag %s (stale read)", key, br.name, fresh)
		}
		rr := br.do("PATCH", "/Users/"+id, body(n), "If-Match", fresh)
		if w.expect(br, "retry "+key, rr, 200) {
			w.writes.Add(1)
		}
		// The old ETag is stale everywhere now.
		if err := isSCIMError(w.other(br).do("PATCH", "/Users/"+id, body(n), "If-Match", etag), 412, ""); err != nil {
			w.t.Errorf("stale If-Match on %s: %v", key, err)
		}
	}
}

// bodies0 are the two racing PATCHes.
func bodies0(key string) [2]map[string]any {
	return [2]map[string]any{
		patchOp(op("Replace", "nickName", "nick-"+key)),
		patchOp(op("Add", "preferredLanguage", "en-US")),
	}
}

// run executes the whole workload, phase by phase; within a phase the
// requests run concurrently and are spread over both replicas.
func (w *workload) run() {
	t := w.t
	phase := func(name string, jobs []func()) {
		t.Helper()
		parallel(width, jobs)
		if t.Failed() {
			t.Fatalf("phase %q failed", name)
		}
	}

	// 1. Users, alternately through A and B, and duplicate creates sent
	// to both at once.
	var jobs []func()
	for i := range nUsers {
		jobs = append(jobs, func() { w.createUser(w.pick(i), userKey(i)) })
	}
	for d := range nDups {
		key := fmt.Sprintf("dup%d", d)
		jobs = append(jobs, func() { w.race("Users", "userName", userName(key), key, userBody(key)) })
	}
	phase("users", jobs)

	// 2. Groups: group0 created by A and B at once, the others alternately.
	jobs = []func(){func() { w.race("Groups", "displayName", groupName(0), groupKey(0), groupBody(0)) }}
	for g := 1; g < nGroups; g++ {
		jobs = append(jobs, func() {
			br := w.pick(g)
			w.total(br, "filter "+groupKey(g), br.do("GET", filterPath("Groups", "displayName", groupName(g)), nil), 0)
			r := br.do("POST", "/Groups", groupBody(g))
			if w.expect(br, "create "+groupKey(g), r, 201) {
				w.writes.Add(1)
				w.setID(groupKey(g), r.str("id"))
			}
		})
	}
	phase("groups", jobs)

	// 3. Member adds, batch members per PATCH, every PATCH of a group
	// racing with the others on the same group through both replicas.
	jobs = nil
	for g := range nGroups {
		for k := 0; k < perGroup; k += batch {
			jobs = append(jobs, func() {
				var vals []any
				for m := range batch {
					vals = append(vals, map[string]any{"value": w.id(userKey(g*perGroup + k + m))})
				}
				br := w.pick(k / batch)
				r := br.do("PATCH", "/Groups/"+w.id(groupKey(g)), patchOp(op("Add", "members", vals)))
				if w.expect(br, fmt.Sprintf("add members %d.. to %s", k, groupKey(g)), r, 204) {
					w.writes.Add(1)
				}
			})
		}
	}
	// Interleave the groups so that the PATCHes of every group overlap.
	phase("members", interleave(jobs, nGroups))

	// 4. Every user updated through the replica that did not create it;
	// the creating replica must see the update at once. Meanwhile a member
	// is removed from group1 and group2 is renamed.
	jobs = nil
	for i := range nUsers {
		jobs = append(jobs, func() {
			key := userKey(i)
			br := w.other(w.pick(i))
			r := br.do("PATCH", "/Users/"+w.id(key), patchOp(
				op("Replace", "displayName", "Updated "+key),
				op("Add", "title", "Engineer "+key),
				op("Replace", `emails[type eq "work"].value`, "new-"+userName(key)),
			))
			if !w.expect(br, "update "+key, r, 200) {
				return
			}
			w.writes.Add(1)
			c := w.pick(i)
			g := c.do("GET", "/Users/"+w.id(key), nil)
			if w.expect(c, "read back "+key, g, 200) && (g.str("displayName") != "Updated "+key || g.header.Get("ETag") != `W/"2"`) {
				w.t.Errorf("read back %s via %s after the update via %s: %s (ETag %s)", key, c.name, br.name, g.raw, g.header.Get("ETag"))
			}
		})
	}
	jobs = append(jobs, func() {
		r := w.b.do("PATCH", "/Groups/"+w.id(groupKey(1)), patchOp(op("Remove", "members", []any{map[string]any{"value": w.id(userKey(removedU))}})))
		if w.expect(w.b, "remove member", r, 204) {
			w.writes.Add(1)
		}
	}, func() {
		r := w.b.do("PATCH", "/Groups/"+w.id(groupKey(renamedG)), patchOp(op("Replace", "displayName", groupName(renamedG)+" renamed")))
		if w.expect(w.b, "rename group", r, 204) {
			w.writes.Add(1)
		}
	})
	phase("updates", jobs)

	// 5. A disable and a delete, each through the replica that did not
	// create the user.
	phase("disable and delete", []func(){
		func() {
			r := w.a.do("PATCH", "/Users/"+w.id(userKey(disabled)), patchOp(op("Replace", "active", "False")))
			if w.expect(w.a, "disable", r, 200) {
				w.writes.Add(1)
			}
		},
		func() {
			id := w.id(userKey(deleted))
			if w.expect(w.a, "delete", w.a.do("DELETE", "/Users/"+id, nil), 204) {
				w.writes.Add(1)
			}
			if err := isSCIMError(w.b.do("GET", "/Users/"+id, nil), 404, ""); err != nil {
				w.t.Errorf("deleted user via B: %v", err)
			}
			if err := isSCIMError(w.b.do("DELETE", "/Users/"+id, nil), 404, ""); err != nil {
				w.t.Errorf("second delete via B: %v", err)
			}
		},
	})

	// 6. If-Match races across the replicas.
	jobs = nil
	for i := raceFirst; i < raceFirst+nRaces; i++ {
		jobs = append(jobs, func() { w.ifMatchRace(userKey(i)) })
	}
	phase("If-Match races", jobs)

	if got := w.writes.Load(); got != wantWrites {
		t.Errorf("%d successful writes, want %d", got, wantWrites)
	}
}

// interleave reorders jobs made as n equal runs (one per group) so that
// consecutive jobs belong to different groups.
func interleave(jobs []func(), n int) []func() {
	per := len(jobs) / n
	out := make([]func(), 0, len(jobs))
	for k := range per {
		for g := range n {
			out = append(out, jobs[g*per+k])
		}
	}
	return out
}

// The model: the state one bridge produces from the workload.

type modelUser struct {
	displayName, title, email, nickName, preferredLanguage string
	active                                                 bool
	version                                                int
}

type modelGroup struct {
	displayName string
	members     []string // user keys, sorted
	version     int
}

func model() (users map[string]modelUser, groups map[string]modelGroup) {
	users = map[string]modelUser{}
	for i := range nUsers {
		key := userKey(i)
		if i == deleted {
			continue
		}
		u := modelUser{displayName: "Updated " + key, title: "Engineer " + key, email: "new-" + userName(key), active: true, version: 2}
		if i == disabled {
			u.active, u.version = false, 3
		}
		if i >= raceFirst && i < raceFirst+nRaces {
			u.nickName, u.preferredLanguage, u.version = "nick-"+key, "en-US", 4
		}
		users[key] = u
	}
	for d := range nDups {
		key := fmt.Sprintf("dup%d", d)
		users[key] = modelUser{displayName: "Display " + key, email: userName(key), active: true, version: 1}
	}
	groups = map[string]modelGroup{}
	for g := range nGroups {
		m := modelGroup{displayName: groupName(g), version: 1 + perGroup/batch}
		for k := range perGroup {
			i := g*perGroup + k
			if i == deleted || (g == 1 && i == removedU) {
				continue
			}
			m.members = append(m.members, userKey(i))
		}
		if g == 1 {
			m.version++
		}
		if g == renamedG {
			m.displayName += " renamed"
			m.version++
		}
		sort.Strings(m.members)
		groups[groupKey(g)] = m
	}
	return users, groups
}

// keyOfUserName turns user07@contoso.com back into user07.
func keyOfUserName(un string) string { return strings.TrimSuffix(un, "@contoso.com") }
