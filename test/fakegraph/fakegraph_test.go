package fakegraph

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// graphClient is a plain net/http client of the fake, as graphpull would be.
type graphClient struct {
	t     *testing.T
	s     *Server
	hc    *http.Client
	token string
}

func newClient(t *testing.T, s *Server) *graphClient {
	t.Helper()
	c := &graphClient{t: t, s: s, hc: s.Client()}
	c.token = c.secretToken(s.TenantID(), s.ClientID(), s.ClientSecret())
	return c
}

// postToken posts a client-credentials form; it returns the status and the
// decoded body.
func postToken(t *testing.T, s *Server, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	if !form.Has("scope") {
		form.Set("scope", "https://graph.microsoft.com/.default")
	}
	resp, err := s.Client().PostForm(s.AuthorityHost()+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, body
}

func (c *graphClient) secretToken(tenant, client, secret string) string {
	c.t.Helper()
	status, body := postToken(c.t, c.s, tenant, url.Values{"client_id": {client}, "client_secret": {secret}})
	if status != http.StatusOK {
		c.t.Fatalf("token: %d %v", status, body)
	}
	tok, _ := body["access_token"].(string)
	if tok == "" || body["token_type"] != "Bearer" {
		c.t.Fatalf("token body %v", body)
	}
	return tok
}

// get GETs an absolute URL with the bearer token.
func (c *graphClient) get(u string, hdr ...string) (*http.Response, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		c.t.Fatalf("GET %s: %d %s: %v", u, resp.StatusCode, b, err)
	}
	return resp, body
}

// round follows nextLinks from u to the deltaLink; it returns every entry
// and the deltaLink, and the number of pages.
func (c *graphClient) round(u string) ([]map[string]any, string, int) {
	c.t.Helper()
	var all []map[string]any
	for pages := 1; ; pages++ {
		resp, body := c.get(u)
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("GET %s: %d %v", u, resp.StatusCode, body)
		}
		vals, ok := body["value"].([]any)
		if !ok {
			c.t.Fatalf("no value array: %v", body)
		}
		for _, v := range vals {
			all = append(all, v.(map[string]any))
		}
		if dl, ok := body["@odata.deltaLink"].(string); ok {
			if _, both := body["@odata.nextLink"]; both {
				c.t.Fatal("page with both links")
			}
			return all, dl, pages
		}
		next, ok := body["@odata.nextLink"].(string)
		if !ok {
			c.t.Fatalf("page without links: %v", body)
		}
		if !strings.HasPrefix(next, c.s.GraphBaseURL()+"/") {
			c.t.Fatalf("nextLink %q is not absolute to the fake", next)
		}
		u = next
	}
}

func ids(entries []map[string]any) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e["id"].(string))
	}
	return out
}

func byID(entries []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, e := range entries {
		m[e["id"].(string)] = e
	}
	return m
}

// membersOf merges members@delta of every entry of group id: member id ->
// "type" or "removed".
func membersOf(entries []map[string]any, id string) map[string]string {
	out := map[string]string{}
	for _, e := range entries {
		if e["id"] != id {
			continue
		}
		md, _ := e["members@delta"].([]any)
		for _, m := range md {
			mm := m.(map[string]any)
			v := mm["@odata.type"].(string)
			if _, ok := mm["@removed"]; ok {
				v = "removed"
			}
			out[mm["id"].(string)] = v
		}
	}
	return out
}

func uid(i int) string { return fmt.Sprintf("u-%03d", i) }

func seed(s *Server, n int) {
	for i := range n {
		u := User{ID: uid(i), UserPrincipalName: fmt.Sprintf("user%d@contoso.example", i), DisplayName: fmt.Sprintf("User %d", i),
			GivenName: "Given", Surname: fmt.Sprint("S", i), JobTitle: "Engineer", Department: "R&D", BusinessPhones: []string{"+1 555 0100"}}
		if i > 0 {
			u.Manager = uid(0)
		}
		s.PutUser(u)
	}
}

const userSelect = "$select=userPrincipalName,displayName,givenName,surname,jobTitle,department,businessPhones,accountEnabled,manager"

func TestDeltaPagingToDeltaLink(t *testing.T) {
	s := New(Options{PageSize: 7})
	defer s.Close()
	seed(s, 20)
	c := newClient(t, s)
	entries, dl, pages := c.round(s.GraphBaseURL() + "/users/delta?" + userSelect)
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if len(entries) != 20 {
		t.Fatalf("entries = %d, want 20", len(entries))
	}
	if !strings.HasPrefix(dl, s.GraphBaseURL()+"/users/delta?$deltatoken=") {
		t.Errorf("deltaLink %q", dl)
	}
	e := byID(entries)[uid(3)]
	want := map[string]any{"id": uid(3), "userPrincipalName": "user3@contoso.example", "displayName": "User 3", "givenName": "Given",
		"surname": "S3", "jobTitle": "Engineer", "department": "R&D", "businessPhones": []any{"+1 555 0100"}, "accountEnabled": true,
		"manager@delta": []any{map[string]any{"@odata.type": "#microsoft.graph.user", "id": uid(0)}}}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Errorf("user 3 = %v\nwant %v", e, want)
	}
	if _, ok := byID(entries)[uid(0)]["manager@delta"]; ok {
		t.Error("user without manager has manager@delta")
	}
	// Nothing changed: the deltaLink returns an empty round.
	again, _, _ := c.round(dl)
	if len(again) != 0 {
		t.Errorf("unchanged incremental round returned %v", ids(again))
	}
	// The SDK's delta() form with an encoded $select.
	resp, body := c.get(s.GraphBaseURL() + "/users/delta()?%24select=displayName")
	if resp.StatusCode != 200 {
		t.Fatalf("delta(): %d %v", resp.StatusCode, body)
	}
	first := body["value"].([]any)[0].(map[string]any)
	if len(first) != 2 || first["displayName"] != "User 0" {
		t.Errorf("$select=displayName returned %v", first)
	}
	if s.Count("/v1.0/users/delta") != 5 {
		t.Errorf("Count = %d, want 5", s.Count("/v1.0/users/delta"))
	}
}

func TestIncrementalRoundAfterEdits(t *testing.T) {
	s := New(Options{PageSize: 5})
	defer s.Close()
	seed(s, 10)
	s.PutGroup(Group{ID: "g-1", DisplayName: "Eng", Members: []Member{{ID: uid(1)}, {ID: uid(2)}, {ID: uid(3)}}})
	s.PutGroup(Group{ID: "g-2", DisplayName: "Ops", Members: []Member{{ID: uid(4)}}})
	c := newClient(t, s)
	_, udl, _ := c.round(s.GraphBaseURL() + "/users/delta?" + userSelect)
	gents, gdl, _ := c.round(s.GraphBaseURL() + "/groups/delta?$select=displayName,members")
	if m := membersOf(gents, "g-1"); len(m) != 3 || m[uid(2)] != "#microsoft.graph.user" {
		t.Fatalf("initial members of g-1: %v", m)
	}

	u5, _ := s.User(uid(5))
	u5.JobTitle = "Lead"
	s.PutUser(u5)
	u6, _ := s.User(uid(6))
	u6.Manager = ""
	s.PutUser(u6)
	u7, _ := s.User(uid(7))
	u7.OfficeLocation = "B12" // not selected: does not surface
	s.PutUser(u7)
	s.PutUser(User{ID: "u-new", UserPrincipalName: "new@contoso.example", Disabled: true})
	s.DeleteUser(uid(2), false)
	s.DeleteUser(uid(3), true)
	s.AddMembers("g-1", uid(8))
	s.DeleteGroup("g-2", true)

	uents, udl2, _ := c.round(udl)
	got := byID(uents)
	if len(got) != 5 {
		t.Errorf("incremental users = %v, want u-002 u-003 u-005 u-006 u-new", ids(uents))
	}
	if got[uid(5)]["jobTitle"] != "Lead" || got[uid(5)]["displayName"] != "User 5" {
		t.Errorf("u-005 = %v (all selected properties, current values)", got[uid(5)])
	}
	if fmt.Sprint(got[uid(6)]["manager@delta"]) != fmt.Sprint([]any{map[string]any{"@odata.type": "#microsoft.graph.user", "id": uid(0), "@removed": map[string]any{"reason": "deleted"}}}) {
		t.Errorf("u-006 manager removal = %v", got[uid(6)]["manager@delta"])
	}
	if fmt.Sprint(got[uid(2)]) != fmt.Sprint(map[string]any{"id": uid(2), "@removed": map[string]any{"reason": "changed"}}) {
		t.Errorf("soft-deleted = %v", got[uid(2)])
	}
	if fmt.Sprint(got[uid(3)]["@removed"]) != fmt.Sprint(map[string]any{"reason": "deleted"}) {
		t.Errorf("hard-deleted = %v", got[uid(3)])
	}
	if got["u-new"]["accountEnabled"] != false {
		t.Errorf("new disabled user = %v", got["u-new"])
	}
	if _, ok := got[uid(7)]; ok {
		t.Error("a change to an unselected property surfaced the user")
	}

	gents2, _, _ := c.round(gdl)
	gg := byID(gents2)
	if fmt.Sprint(gg["g-2"]["@removed"]) != fmt.Sprint(map[string]any{"reason": "deleted"}) {
		t.Errorf("deleted group = %v", gg["g-2"])
	}
	m := membersOf(gents2, "g-1")
	want := map[string]string{uid(2): "removed", uid(3): "removed", uid(8): "#microsoft.graph.user"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("g-1 members@delta = %v, want %v", m, want)
	}

	// The next deltaLink only has what changed after it.
	s.PutUser(User{ID: uid(2), UserPrincipalName: "user2@contoso.example"}) // restore
	uents3, _, _ := c.round(udl2)
	if fmt.Sprint(ids(uents3)) != fmt.Sprint([]string{uid(2)}) || uents3[0]["userPrincipalName"] != "user2@contoso.example" {
		t.Errorf("round after restore = %v", uents3)
	}
}

func TestSplitGroups(t *testing.T) {
	s := New(Options{PageSize: 4, MemberSplit: 3})
	defer s.Close()
	seed(s, 10)
	var ms []Member
	for i := range 10 {
		ms = append(ms, Member{ID: uid(i)})
	}
	ms = append(ms, Member{ID: "dev-1", Type: TypeDevice}, Member{ID: "ct-1", Type: TypeContact}, Member{ID: "sp-1", Type: TypeServicePrincipal})
	s.PutGroup(Group{ID: "g-a", DisplayName: "Small", Members: []Member{{ID: uid(1)}}})
	s.PutGroup(Group{ID: "g-b", DisplayName: "Big", Members: ms})
	s.PutGroup(Group{ID: "g-c", DisplayName: "Parent", Members: []Member{{ID: "g-b"}, {ID: uid(9)}}})
	c := newClient(t, s)
	entries, _, pages := c.round(s.GraphBaseURL() + "/groups/delta?$select=displayName,members")
	// g-a 1 entry, g-b 13 members in 5 entries, g-c 1 entry = 7 entries over 2 pages.
	if len(entries) != 7 || pages != 2 {
		t.Fatalf("entries %d pages %d: %v", len(entries), pages, ids(entries))
	}
	if fmt.Sprint(ids(entries)) != fmt.Sprint([]string{"g-a", "g-b", "g-b", "g-b", "g-b", "g-b", "g-c"}) {
		t.Errorf("entry order %v: a split group's entries must be consecutive", ids(entries))
	}
	if entries[1]["displayName"] != "Big" {
		t.Errorf("first slice lacks properties: %v", entries[1])
	}
	for _, e := range entries[1:6] {
		if n := len(e["members@delta"].([]any)); n > 3 {
			t.Errorf("slice of %d members, MemberSplit 3", n)
		}
	}
	m := membersOf(entries, "g-b")
	if len(m) != 13 || m["dev-1"] != "#microsoft.graph.device" || m["ct-1"] != "#microsoft.graph.orgContact" || m["sp-1"] != "#microsoft.graph.servicePrincipal" {
		t.Errorf("merged members of g-b: %v", m)
	}
	if membersOf(entries, "g-c")["g-b"] != "#microsoft.graph.group" {
		t.Errorf("nested group member: %v", membersOf(entries, "g-c"))
	}
}

func TestEmptyPages(t *testing.T) {
	s := New(Options{PageSize: 3, EmptyPageEvery: 2})
	defer s.Close()
	seed(s, 9)
	c := newClient(t, s)
	entries, _, pages := c.round(s.GraphBaseURL() + "/users/delta")
	if len(entries) != 9 {
		t.Errorf("entries %d", len(entries))
	}
	if pages < 4 {
		t.Errorf("pages = %d: no empty pages", pages)
	}
	got := ids(entries)
	if !slices.IsSorted(got) || len(slices.Compact(got)) != 9 {
		t.Errorf("ids %v", got)
	}
}

func TestChurn(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	seed(s, 5)
	c := newClient(t, s)
	_, dl, _ := c.round(s.GraphBaseURL() + "/users/delta?$select=displayName")
	if n := s.Churn(3); n != 3 {
		t.Errorf("Churn(3) = %d", n)
	}
	got, dl, _ := c.round(dl)
	if fmt.Sprint(ids(got)) != fmt.Sprint([]string{uid(0), uid(1), uid(2)}) || !strings.Contains(got[0]["displayName"].(string), "churn") {
		t.Errorf("after Churn(3): %v", got)
	}
	if n := s.Churn(7); n != 5 {
		t.Errorf("Churn(7) of 5 users = %d", n)
	}
	if got, _, _ := c.round(dl); len(got) != 5 {
		t.Errorf("after Churn(7): %d users", len(got))
	}
	if u, _ := s.User(uid(3)); strings.Count(u.DisplayName, "churn") != 1 {
		t.Errorf("displayName %q", u.DisplayName)
	}
}

func TestGetObjects(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	seed(s, 3)
	s.PutGroup(Group{ID: "g-1", DisplayName: "Eng", Members: []Member{{ID: uid(1)}, {ID: "dev-9", Type: TypeDevice}}})
	c := newClient(t, s)
	resp, body := c.get(s.GraphBaseURL() + "/users/" + uid(1) + "?%24select=id,displayName,surname&%24expand=manager(%24select=id)")
	delete(body, "@odata.context")
	want := map[string]any{"id": uid(1), "displayName": "User 1", "surname": "S1", "manager": map[string]any{"@odata.type": "#microsoft.graph.user", "id": uid(0)}}
	if resp.StatusCode != 200 || fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("GET user: %d %v", resp.StatusCode, body)
	}
	if _, body := c.get(s.GraphBaseURL() + "/users/" + uid(0) + "?$expand=manager"); body["manager"] != nil {
		t.Errorf("user without manager: %v", body)
	}
	s.DeleteUser(uid(2), false)
	if resp, body := c.get(s.GraphBaseURL() + "/users/" + uid(2)); resp.StatusCode != 404 || body["error"].(map[string]any)["code"] != "Request_ResourceNotFound" {
		t.Errorf("deleted user: %d %v", resp.StatusCode, body)
	}
	resp, body = c.get(s.GraphBaseURL() + "/groups/g-1?$select=displayName&$expand=members")
	if resp.StatusCode != 200 || body["displayName"] != "Eng" || len(body["members"].([]any)) != 2 {
		t.Errorf("GET group: %d %v", resp.StatusCode, body)
	}
}
