package scim_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandlerNever5xx sends arbitrary bodies, filters and projection
// parameters through the whole handler stack (auth, routing, normaliser,
// validation, PATCH engine, store) and requires that nothing answers 5xx:
// bad input must always be a 4xx SCIM error, and the server keeps serving.
func FuzzHandlerNever5xx(f *testing.F) {
	h := newHarness(f)
	uid := h.createUser("fuzz@x.com", map[string]any{"emails": []any{map[string]any{"type": "work", "value": "fuzz@x.com"}}}).str("id")
	gid := h.createGroup("fuzz-group", uid).str("id")
	hd := h.srv.Config.Handler
	seeds := []struct {
		op     uint8
		body   string
		filter string
	}{
		{0, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b"}]}`, `userName eq "x"`},
		{1, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"x"}]}]}`, `members eq "x" and id eq "y"`},
		{2, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n","active":"True","manager":"m"}`, `emails[type eq "work" and value co "@"]`},
		{3, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"` + uid + `"}]}`, `not (displayName sw "a") or meta.lastModified gt "2020-01-01T00:00:00Z"`},
		{4, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","bulkId":"a","path":"/Users","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk"}}]}`, `title pr`},
		{5, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName co \"f\"","sortBy":"name.givenName","count":2}`, `(userName eq "a"`},
		{6, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"put"}`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`},
		{7, `null`, `active eq true`},
		{2, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"\xff\"}", `userName eq "\ud800"`},
		{6, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\udc00"}`, "title eq \"\xc3\""},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body, s.filter)
	}
	f.Fuzz(func(t *testing.T, op uint8, body, filter string) {
		var method, target string
		q := "?filter=" + url.QueryEscape(filter)
		switch op % 8 {
		case 0:
			method, target = "PATCH", "/scim/v2/Users/"+uid+"?attributes="+url.QueryEscape(filter)
		case 1:
			method, target = "PATCH", "/scim/v2/Groups/"+gid
		case 2:
			method, target = "POST", "/scim/v2/Users"
		case 3:
			method, target = "POST", "/scim/v2/Groups?excludedAttributes="+url.QueryEscape(filter)
		case 4:
			method, target = "POST", "/scim/v2/Bulk"
		case 5:
			method, target = "POST", "/scim/v2/Users/.search"
		case 6:
			method, target = "PUT", "/scim/v2/Users/"+uid
		default:
			method, target = "GET", "/scim/v2/Groups"+q+"&sortBy="+url.QueryEscape(filter)
		}
		if op%8 < 7 && op&8 != 0 {
			method, target = "GET", "/scim/v2/Users"+q
		}
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Code != http.StatusNotFound && !strings.Contains(rec.Body.String(), `"status":"`) {
			t.Fatalf("%s %s: %d without a SCIM error body: %s", method, target, rec.Code, rec.Body.String())
		}
	})
}
