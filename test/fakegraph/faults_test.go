package fakegraph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestFaults(t *testing.T) {
	s := New(Options{PageSize: 2})
	defer s.Close()
	seed(s, 5)
	c := newClient(t, s)
	first := s.GraphBaseURL() + "/users/delta?$select=displayName"

	s.ThrottleNext(2, 1500*time.Millisecond)
	for range 2 {
		resp, body := c.get(first)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || errCode(body) != "TooManyRequests" {
			t.Errorf("throttled: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	_, dl, _ := c.round(first) // the faults are used up

	s.PutUser(User{ID: "u-x", DisplayName: "X"})
	s.SyncStateNotFoundNext()
	if resp, body := c.get(dl); resp.StatusCode != http.StatusBadRequest || errCode(body) != "syncStateNotFound" {
		t.Errorf("syncStateNotFound: %d %v", resp.StatusCode, body)
	}
	s.ResyncRequiredNext()
	if resp, body := c.get(dl); resp.StatusCode != http.StatusBadRequest || errCode(body) != "resyncRequired" {
		t.Errorf("resyncRequired: %d %v", resp.StatusCode, body)
	}
	s.FailNext(http.StatusServiceUnavailable)
	if resp, _ := c.get(dl); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("FailNext(503): %d", resp.StatusCode)
	}

	// 410: Location restarts a full round of the same query.
	s.GoneNext()
	resp, body := c.get(dl)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusGone || !strings.HasPrefix(loc, s.GraphBaseURL()+"/users/delta?") {
		t.Fatalf("gone: %d %q %v", resp.StatusCode, loc, body)
	}
	full, _, _ := c.round(loc)
	if len(full) != 6 {
		t.Errorf("round from Location: %d users, want all 6", len(full))
	}
	for _, e := range full {
		if len(e) != 2 || e["displayName"] == nil {
			t.Errorf("Location lost $select: %v", e)
		}
	}
	// The old deltaLink still works once the faults are served.
	inc, _, _ := c.round(dl)
	if len(inc) != 1 || inc[0]["id"] != "u-x" {
		t.Errorf("incremental after faults: %v", inc)
	}
	if s.PendingFaults() != 0 {
		t.Errorf("PendingFaults = %d", s.PendingFaults())
	}
	var statuses []int
	for _, r := range s.Requests() {
		statuses = append(statuses, r.Status)
	}
	if statuses[0] != 200 || statuses[1] != 429 { // token, then the 429s
		t.Errorf("request log statuses %v", statuses)
	}
}

func TestForbiddenGroups(t *testing.T) {
	s := New(Options{ForbidGroups: true})
	defer s.Close()
	c := newClient(t, s)
	resp, body := c.get(s.GraphBaseURL() + "/groups/delta?$select=displayName,members")
	e := body["error"].(map[string]any)
	if resp.StatusCode != http.StatusForbidden || e["code"] != "Authorization_RequestDenied" || e["message"] != "Insufficient privileges to complete the operation." {
		t.Errorf("forbidden: %d %v", resp.StatusCode, body)
	}
	if resp, _ := c.get(s.GraphBaseURL() + "/users/delta"); resp.StatusCode != 200 {
		t.Errorf("users while groups are forbidden: %d", resp.StatusCode)
	}
	s.SetForbidGroups(false)
	if resp, _ := c.get(s.GraphBaseURL() + "/groups/delta"); resp.StatusCode != 200 {
		t.Errorf("groups once permitted: %d", resp.StatusCode)
	}
}

func TestLatestAndMinimal(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	seed(s, 4)
	c := newClient(t, s)
	entries, dl, pages := c.round(s.GraphBaseURL() + "/users/delta?$deltatoken=latest&" + userSelect)
	if len(entries) != 0 || pages != 1 {
		t.Fatalf("latest returned %d entries", len(entries))
	}
	u, _ := s.User(uid(1))
	u.JobTitle = ""
	u.Department = "Ops"
	s.PutUser(u)
	resp, body := c.get(dl, "Prefer", "return=minimal")
	if resp.Header.Get("Preference-Applied") != "return=minimal" {
		t.Error("Preference-Applied missing")
	}
	vals := body["value"].([]any)
	if len(vals) != 1 {
		t.Fatalf("minimal round: %v", vals)
	}
	got := vals[0].(map[string]any)
	if len(got) != 3 || got["department"] != "Ops" || got["jobTitle"] != nil {
		t.Errorf("minimal entry %v, want id, department and jobTitle null", got)
	}
	if _, ok := got["jobTitle"]; !ok {
		t.Error("an unset property must come back as null under return=minimal")
	}
}

func TestBadTokens(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	c := newClient(t, s)
	if resp, body := c.get(s.GraphBaseURL() + "/users/delta?$skiptoken=garbage"); resp.StatusCode != 400 {
		t.Errorf("bad skiptoken: %d %v", resp.StatusCode, body)
	}
	if resp, body := c.get(s.GraphBaseURL() + "/users/delta?$deltatoken=garbage"); resp.StatusCode != 400 || errCode(body) != "syncStateNotFound" {
		t.Errorf("bad deltatoken: %d %v", resp.StatusCode, body)
	}
	// A groups token on the users endpoint is not accepted.
	_, dl, _ := c.round(s.GraphBaseURL() + "/groups/delta")
	if resp, _ := c.get(strings.Replace(dl, "/groups/", "/users/", 1)); resp.StatusCode != 400 {
		t.Errorf("groups token on users: %d", resp.StatusCode)
	}
	if resp, _ := c.get(s.GraphBaseURL() + "/users"); resp.StatusCode != 400 {
		t.Errorf("unsupported path: %d", resp.StatusCode)
	}
}

func TestScaleModePagesLazily(t *testing.T) {
	const users, groups, memberships = 20000, 100, 60000
	s := New(Options{PageSize: 500, MemberSplit: 200, Scale: Scale{Users: users, Groups: groups, Memberships: memberships}})
	defer s.Close()
	c := newClient(t, s)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	u := s.GraphBaseURL() + "/users/delta?" + userSelect
	nUsers, nManagers, pages, udl := 0, 0, 0, ""
	for u != "" {
		resp, body := c.get(u)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
		pages++
		for _, v := range body["value"].([]any) {
			e := v.(map[string]any)
			nUsers++
			if _, ok := e["manager@delta"]; ok {
				nManagers++
			}
		}
		u, _ = body["@odata.nextLink"].(string)
		udl, _ = body["@odata.deltaLink"].(string)
		// The fake holds nothing of the generated directory between pages.
		s.mu.Lock()
		held := len(s.dir.users) + len(s.dir.groups)
		s.mu.Unlock()
		if held != 0 {
			t.Fatalf("generated objects materialised: %d", held)
		}
	}
	if nUsers != users || nManagers != users-1 || pages != users/500 {
		t.Errorf("users %d managers %d pages %d", nUsers, nManagers, pages)
	}
	gents, gdl, _ := c.round(s.GraphBaseURL() + "/groups/delta?$select=displayName,members")
	total := 0
	seen := map[string]bool{}
	for _, e := range gents {
		seen[e["id"].(string)] = true
		md, _ := e["members@delta"].([]any)
		if len(md) > 200 {
			t.Fatalf("slice of %d members", len(md))
		}
		total += len(md)
	}
	if total != memberships || len(seen) != groups {
		t.Errorf("memberships %d groups %d", total, len(seen))
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes over a full round", grown)
	}

	// Edits apply on top of the generated directory.
	g0 := GeneratedGroupID(0)
	s.RemoveMembers(g0, GeneratedUserID(0))
	s.DeleteUser(GeneratedUserID(1), true)
	inc, _, _ := c.round(gdl)
	m := membersOf(inc, g0)
	if m[GeneratedUserID(0)] != "removed" || m[GeneratedUserID(1)] != "removed" || len(m) != 2 {
		t.Errorf("incremental members of group 0: %v", m)
	}
	want := map[string]bool{g0: true}
	for g := range groups {
		if s.dir.gen.isMember(g, GeneratedUserID(1)) {
			want[GeneratedGroupID(g)] = true
		}
	}
	if len(byID(inc)) != len(want) || len(want) < 2 {
		t.Errorf("incremental groups %v, want %v", ids(inc), want)
	}
	for g := range want {
		if g != g0 && membersOf(inc, g)[GeneratedUserID(1)] != "removed" {
			t.Errorf("group %s: %v", g, membersOf(inc, g))
		}
	}
	// The deleted manager's reports (users 11 to 20) lose their manager.
	uinc, _, _ := c.round(udl)
	got := byID(uinc)
	if len(got) != 11 || got[GeneratedUserID(1)]["@removed"] == nil {
		t.Fatalf("users after deleting user 1: %v", ids(uinc))
	}
	for i := 11; i <= 20; i++ {
		md, _ := got[GeneratedUserID(i)]["manager@delta"].([]any)
		if len(md) != 1 || md[0].(map[string]any)["@removed"] == nil || md[0].(map[string]any)["id"] != GeneratedUserID(1) {
			t.Errorf("report %d: %v", i, got[GeneratedUserID(i)])
		}
	}
}

func TestReplayRemovedInInitialAndMalformed(t *testing.T) {
	s := New(Options{RemovedInInitial: true})
	defer s.Close()
	seed(s, 4)
	s.PutGroup(Group{ID: "g-1", DisplayName: "Eng"})
	s.PutGroup(Group{ID: "g-2", DisplayName: "Gone"})
	s.DeleteUser(uid(3), false)
	s.DeleteUser(uid(2), true)
	s.DeleteGroup("g-2", false)
	c := newClient(t, s)
	entries, dl, _ := c.round(s.GraphBaseURL() + "/users/delta?$select=displayName")
	got := byID(entries)
	if len(got) != 3 || got[uid(3)]["@removed"] == nil || got[uid(2)] != nil {
		t.Errorf("initial round with a soft- and a hard-deleted user: %v", entries)
	}
	gents, _, _ := c.round(s.GraphBaseURL() + "/groups/delta")
	if g := byID(gents); len(g) != 2 || g["g-2"]["@removed"] == nil {
		t.Errorf("initial groups: %v", gents)
	}

	u, _ := s.User(uid(0))
	u.DisplayName = "Renamed"
	s.PutUser(u)
	s.ReplayNext()
	first, dl2, _ := c.round(dl)
	again, dl3, _ := c.round(dl2)
	if len(first) != 1 || fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("replayed round %v, first %v", again, first)
	}
	if last, _, _ := c.round(dl3); len(last) != 0 {
		t.Errorf("replay did not stop: %v", last)
	}

	s.MalformedNext()
	req, _ := http.NewRequest(http.MethodGet, dl3, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&v) == nil {
		t.Errorf("malformed page decoded: %d %v", resp.StatusCode, v)
	}
	resp.Body.Close()
}

// TestConcurrentRoundsAndEdits runs rounds while a writer edits (run
// under -race).
func TestConcurrentRoundsAndEdits(t *testing.T) {
	s := New(Options{PageSize: 3, MemberSplit: 2})
	defer s.Close()
	seed(s, 30)
	s.PutGroup(Group{ID: "g-1", DisplayName: "All"})
	c := newClient(t, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			id := uid(i % 30)
			if i%7 == 0 {
				s.DeleteUser(id, i%2 == 0)
			} else {
				s.PutUser(User{ID: id, DisplayName: fmt.Sprint("v", i)})
				s.AddMembers("g-1", id)
			}
		}
	}()
	_, udl, _ := c.round(s.GraphBaseURL() + "/users/delta")
	_, gdl, _ := c.round(s.GraphBaseURL() + "/groups/delta")
	<-done
	c.round(udl)
	c.round(gdl)
	// After the writer stopped, a fresh full round is exactly the directory.
	entries, _, _ := c.round(s.GraphBaseURL() + "/groups/delta")
	g, _ := s.Group("g-1")
	if m := membersOf(entries, "g-1"); len(m) != len(g.Members) {
		t.Errorf("members %d, want %d", len(m), len(g.Members))
	}
}

func TestScaleNonUserMembers(t *testing.T) {
	s := New(Options{Scale: Scale{Users: 100, Groups: 25, Memberships: 250, NonUserMembers: true}})
	defer s.Close()
	c := newClient(t, s)
	entries, dl, _ := c.round(s.GraphBaseURL() + "/groups/delta?$select=displayName,members")
	users, others := 0, map[string]int{}
	for _, e := range entries {
		for _, typ := range membersOf([]map[string]any{e}, e["id"].(string)) {
			if typ == "#microsoft.graph.user" {
				users++
			} else {
				others[typ]++
			}
		}
	}
	want := map[string]int{"#microsoft.graph.device": 2, "#microsoft.graph.orgContact": 2, "#microsoft.graph.servicePrincipal": 2, "#microsoft.graph.group": 2}
	if users != 250 || fmt.Sprint(others) != fmt.Sprint(want) {
		t.Errorf("user memberships %d, others %v", users, others)
	}
	if membersOf(entries, GeneratedGroupID(20))[GeneratedGroupID(19)] != "#microsoft.graph.group" {
		t.Error("group 20 does not nest group 19")
	}
	s.AddMembers(GeneratedGroupID(1), "00000000-0000-4000-a000-000000000010")
	if g, _ := s.Group(GeneratedGroupID(1)); !slices.Contains(g.Members, Member{ID: "00000000-0000-4000-a000-000000000010", Type: TypeDevice}) {
		t.Errorf("a generated device added by id: %v", g.Members)
	}
	s.DeleteGroup(GeneratedGroupID(19), false)
	inc, _, _ := c.round(dl)
	if byID(inc)[GeneratedGroupID(19)]["@removed"] == nil || membersOf(inc, GeneratedGroupID(20))[GeneratedGroupID(19)] != "removed" {
		t.Errorf("after deleting nested group 19: %v", inc)
	}
}
