package graphparity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/test/fakegraph"
)

// The Entra push, written from entra-and-graph.md §1.4–1.7 and on purpose
// independently of graphpull.MapUser: the parity test checks MapUser
// against it.

const (
	coreUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
	entUser    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	coreGroup  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	adscimGrp  = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
	patchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// entraUserBody is the POST /Users body Entra's default "scim" mapping
// (§1.7) sends for a Graph user: an attribute whose source is empty is not
// sent (Entra does not provision nulls).
func entraUserBody(u fakegraph.User) map[string]any {
	b := map[string]any{
		"schemas":  []any{coreUser, entUser},
		"userName": u.UserPrincipalName, // matching attribute, precedence 1
		"active":   !u.Disabled,         // Switch([IsSoftDeleted], …): a JSON boolean in POST
		"meta":     map[string]any{"resourceType": "User"},
	}
	put := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put(b, "displayName", u.DisplayName)
	put(b, "title", u.JobTitle)
	put(b, "preferredLanguage", u.PreferredLanguage)
	put(b, "externalId", u.MailNickname)
	if u.Mail != "" {
		b["emails"] = []any{map[string]any{"primary": true, "type": "work", "value": u.Mail}}
	}
	name := map[string]any{}
	put(name, "givenName", u.GivenName)
	put(name, "familyName", u.Surname)
	// Join(" ", [givenName], [surname]): Join leaves out missing sources.
	var parts []string
	for _, p := range []string{u.GivenName, u.Surname} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	put(name, "formatted", strings.Join(parts, " "))
	if len(name) > 0 {
		b["name"] = name
	}
	// addresses[type eq "work"].*; the office as the work address's
	// formatted (the templates seen in the field, §1.7).
	addr := map[string]any{}
	put(addr, "streetAddress", u.StreetAddress)
	put(addr, "locality", u.City)
	put(addr, "region", u.State)
	put(addr, "postalCode", u.PostalCode)
	put(addr, "country", u.Country)
	put(addr, "formatted", u.OfficeLocation)
	if len(addr) > 0 {
		addr["type"] = "work"
		b["addresses"] = []any{addr}
	}
	// telephoneNumber is Graph's businessPhones[0].
	var phones []any
	work := ""
	if len(u.BusinessPhones) > 0 {
		work = u.BusinessPhones[0]
	}
	for _, p := range [][2]string{{"work", work}, {"mobile", u.MobilePhone}, {"fax", u.FaxNumber}} {
		if p[1] != "" {
			phones = append(phones, map[string]any{"type": p[0], "value": p[1]})
		}
	}
	if phones != nil {
		b["phoneNumbers"] = phones
	}
	ent := map[string]any{}
	put(ent, "employeeNumber", u.EmployeeID)
	put(ent, "department", u.Department)
	if len(ent) > 0 {
		b[entUser] = ent
	}
	return b
}

// scimClient talks to the bridge's SCIM endpoint as Entra does.
type scimClient struct {
	t     *testing.T
	base  string // …/scim/v2
	token string
}

func (c *scimClient) do(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// find runs Entra's matching query and returns the one id, or "".
func (c *scimClient) find(resource, filter string, extra string) string {
	c.t.Helper()
	res := c.do(http.MethodGet, "/"+resource+"?"+extra+"filter="+url.QueryEscape(filter), nil, http.StatusOK)
	list, _ := res["Resources"].([]any)
	switch len(list) {
	case 0:
		return ""
	case 1:
		id, _ := list[0].(map[string]any)["id"].(string)
		return id
	}
	c.t.Fatalf("%s: %d matches for %s", resource, len(list), filter)
	return ""
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// pushResult maps Graph object ids to the ids the push's resources got.
type pushResult struct {
	users, groups map[string]string
	created       int
	patched       int
}

// entraPush provisions the directory as Entra's provisioning service does
// in an initial cycle (§1.4): for each enabled user a query by userName
// and, if absent, a POST; when the user exists, a PATCH of the attributes
// that differ (none when they are equal); then the managers (a reference
// attribute, a second pass of PATCHes with the manager's target id, only
// for managers that were provisioned); then each group (query by
// displayName, POST with an empty member list) and a PATCH adding its
// provisioned user members. Disabled users are not created; devices,
// contacts and nested groups are not members in the target.
func entraPush(c *scimClient, users []fakegraph.User, groups []fakegraph.Group) pushResult {
	return entraCycle(c, pushResult{}, users, groups)
}

// entraCycle is one provisioning cycle after prev: objects Entra already
// provisioned are known by their target id (Entra keeps the anchor, so a
// renamed user is PATCHed, not looked up), the others are matched by
// query as in the first cycle. Changed attributes are PATCHed one path at
// a time in the default dialect (§1.4, §1.5); a user disabled in Graph is
// PATCHed with active "False"; group members are added and removed.
// Entra does not provision nulls, so a property cleared in Graph is not
// cleared in the target: the tests never clear one.
func entraCycle(c *scimClient, prev pushResult, users []fakegraph.User, groups []fakegraph.Group) pushResult {
	c.t.Helper()
	pr := pushResult{users: map[string]string{}, groups: map[string]string{}}
	for _, u := range users {
		body := entraUserBody(u)
		id := prev.users[u.ID]
		if id == "" {
			id = c.find("Users", "userName eq "+quote(u.UserPrincipalName), "")
		}
		if id == "" {
			if u.Disabled {
				continue
			}
			res := c.do(http.MethodPost, "/Users", body, http.StatusCreated)
			id, _ = res["id"].(string)
			pr.created++
		} else if ops := diffOps(c.do(http.MethodGet, "/Users/"+id, nil, http.StatusOK), body); len(ops) > 0 {
			c.do(http.MethodPatch, "/Users/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": ops}, http.StatusOK)
			pr.patched++
		}
		pr.users[u.ID] = id
	}
	// Users Entra provisioned before that are no longer in scope (not
	// assigned any more) are disabled, not deleted: IsSoftDeleted.
	inScope := map[string]bool{}
	for _, u := range users {
		inScope[u.ID] = true
	}
	for obj, id := range prev.users {
		if inScope[obj] {
			continue
		}
		pr.users[obj] = id // still the target's: a reference may name it
		if cur := c.do(http.MethodGet, "/Users/"+id, nil, http.StatusOK); cur["active"] != false {
			c.do(http.MethodPatch, "/Users/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": []any{
				map[string]any{"op": "Replace", "path": "active", "value": "False"},
			}}, http.StatusOK)
			pr.patched++
		}
	}
	for _, u := range users {
		id, mid := pr.users[u.ID], pr.users[u.Manager]
		if id == "" {
			continue
		}
		var op map[string]any
		if mid != "" {
			// Entra's reference check (§1.4): is the manager already set?
			if c.find("Users", "id eq "+quote(id)+" and manager eq "+quote(mid), "attributes=id&") != "" {
				continue
			}
			op = map[string]any{"op": "Add", "path": entUser + ":manager", "value": mid}
		} else {
			cur := c.do(http.MethodGet, "/Users/"+id, nil, http.StatusOK)
			if ext, _ := cur[entUser].(map[string]any); ext == nil || ext["manager"] == nil {
				continue
			}
			op = map[string]any{"op": "Remove", "path": entUser + ":manager"}
		}
		c.do(http.MethodPatch, "/Users/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": []any{op}}, http.StatusOK)
		pr.patched++
	}
	for _, g := range groups {
		id := prev.groups[g.ID]
		if id != "" {
			cur := c.do(http.MethodGet, "/Groups/"+id+"?excludedAttributes=members", nil, http.StatusOK)
			if cur["displayName"] != g.DisplayName {
				c.do(http.MethodPatch, "/Groups/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": []any{
					map[string]any{"op": "Replace", "path": "displayName", "value": g.DisplayName},
				}}, http.StatusNoContent)
				pr.patched++
			}
		} else {
			id = c.find("Groups", "displayName eq "+quote(g.DisplayName), "excludedAttributes=members&")
		}
		if id == "" {
			res := c.do(http.MethodPost, "/Groups", map[string]any{
				"schemas":     []any{coreGroup, adscimGrp},
				"externalId":  g.ID,
				"displayName": g.DisplayName,
				"meta":        map[string]any{"resourceType": "Group"},
			}, http.StatusCreated)
			id, _ = res["id"].(string)
			pr.created++
		}
		pr.groups[g.ID] = id
		var add []any
		want := map[string]bool{}
		for _, m := range g.Members {
			uid := pr.users[m.ID]
			if m.Type != fakegraph.TypeUser || uid == "" {
				continue
			}
			want[uid] = true
			// Entra checks a reference first (id eq … and members eq …).
			if c.find("Groups", "id eq "+quote(id)+" and members eq "+quote(uid), "attributes=id&") != "" {
				continue
			}
			add = append(add, map[string]any{"$ref": nil, "value": uid})
		}
		if len(add) > 0 {
			c.do(http.MethodPatch, "/Groups/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": []any{
				map[string]any{"op": "Add", "path": "members", "value": add},
			}}, http.StatusNoContent)
			pr.patched++
		}
		// Members that left the group in Graph (Entra knows them from its
		// own state; here from the target), removed in the default
		// dialect's non-RFC form.
		var remove []any
		cur := c.do(http.MethodGet, "/Groups/"+id, nil, http.StatusOK)
		ms, _ := cur["members"].([]any)
		for _, m := range ms {
			if v, _ := m.(map[string]any)["value"].(string); !want[v] {
				remove = append(remove, map[string]any{"value": v})
			}
		}
		if len(remove) > 0 {
			c.do(http.MethodPatch, "/Groups/"+id, map[string]any{"schemas": []any{patchOpURN}, "Operations": []any{
				map[string]any{"op": "Remove", "path": "members", "value": remove},
			}}, http.StatusNoContent)
			pr.patched++
		}
	}
	return pr
}

// diffOps are the PATCH operations Entra sends for an existing user whose
// mapped attributes differ from the target's: one op per attribute path,
// value paths for typed multi-valued attributes
// (phoneNumbers[type eq "mobile"].value), dotted paths for name, URN paths
// for the enterprise extension, and active as a capitalised string.
func diffOps(cur, want map[string]any) []any {
	var ops []any
	replace := func(path string, v any) {
		ops = append(ops, map[string]any{"op": "Replace", "path": path, "value": v})
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := want[k]
		switch k {
		case "schemas", "meta":
		case "active":
			if cur[k] != v {
				replace(k, map[bool]string{true: "True", false: "False"}[v.(bool)])
			}
		case "name":
			have, _ := cur[k].(map[string]any)
			for _, sk := range sortedKeys(v.(map[string]any)) {
				if !jsonSame(have[sk], v.(map[string]any)[sk]) {
					replace(k+"."+sk, v.(map[string]any)[sk])
				}
			}
		case entUser:
			have, _ := cur[k].(map[string]any)
			for _, sk := range sortedKeys(v.(map[string]any)) {
				if !jsonSame(have[sk], v.(map[string]any)[sk]) {
					replace(k+":"+sk, v.(map[string]any)[sk])
				}
			}
		case "emails", "phoneNumbers", "addresses":
			have, _ := cur[k].([]any)
			for _, e := range v.([]any) {
				we := e.(map[string]any)
				typ := we["type"].(string)
				var he map[string]any
				for _, h := range have {
					if hm, _ := h.(map[string]any); hm != nil && hm["type"] == typ {
						he = hm
					}
				}
				for _, sk := range sortedKeys(we) {
					if sk != "type" && sk != "primary" && !jsonSame(he[sk], we[sk]) {
						replace(fmt.Sprintf("%s[type eq %q].%s", k, typ, sk), we[sk])
					}
				}
			}
		default:
			if !jsonSame(cur[k], v) {
				replace(k, v)
			}
		}
	}
	return ops
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func jsonSame(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
