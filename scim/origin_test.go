package scim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestPushOrigin checks the provenance of SCIM writes: every write (Bulk's
// included) is journaled as a push by the authenticated principal, named by
// its static token's configured name, its stored token's name, its OAuth
// client id, or "token <id>" for an unnamed token.
func TestPushOrigin(t *testing.T) {
	h := newHarness(t, func(o *scimOptions) {
		o.Tenants[0].TokenNames = map[[32]byte]string{auth.HashToken(testToken): "entra-prod"}
		o.Tenants[1].OAuthClients = []auth.OAuthClient{{ID: "acme-client", SecretHashes: [][32]byte{auth.HashToken("acme-secret")}}}
	})
	stored, err := auth.NewToken(storetest.Background(), h.st, "default", "hr-script")
	if err != nil {
		t.Fatal(err)
	}
	u := h.must(http.StatusCreated, h.do("POST", "/Users", userData("alice", nil)))
	h.must(http.StatusOK, h.do("PATCH", "/Users/"+u.str("id"), map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	}, "Authorization", "Bearer "+stored))
	ops := h.bulk(map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g", "data": groupData("Admins", u.str("id"))}},
	})
	if st, _ := ops[0]["status"].(string); st != "201" {
		t.Fatalf("bulk: %v", ops)
	}
	wantOrigins(t, h.st, "default", []store.Origin{
		{Source: store.SourcePush, Actor: "entra-prod"},
		{Source: store.SourcePush, Actor: "hr-script"},
		{Source: store.SourcePush, Actor: "entra-prod"},
	})

	res, err := http.Post(h.srv.URL+"/tenants/acme/scim/v2/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	b := h.must(http.StatusCreated, h.do("POST", "/tenants/acme/scim/v2/Users", userData("bob", nil), "Authorization", "Bearer "+tok.AccessToken))
	h.must(http.StatusNoContent, h.do("DELETE", "/tenants/acme/scim/v2/Users/"+b.str("id"), nil, "Authorization", "Bearer "+acmeToken))
	cs := wantOrigins(t, h.st, "acme", []store.Origin{
		{Source: store.SourcePush, Actor: "acme-client"},
		{Source: store.SourcePush, Actor: "token " + auth.TokenID(auth.HashToken(acmeToken))},
	})
	if cs[1].Op != store.OpDelete || cs[1].Name != "bob" {
		t.Fatalf("delete entry %+v, want a delete named bob", cs[1])
	}
}

func wantOrigins(t *testing.T, st store.Store, tenant string, want []store.Origin) []store.Change {
	t.Helper()
	cs, err := st.Changes(storetest.Background(), tenant, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(want) {
		t.Fatalf("tenant %s: %d journal entries, want %d: %+v", tenant, len(cs), len(want), cs)
	}
	for i, c := range cs {
		if c.Origin != want[i] {
			t.Fatalf("tenant %s entry %d (%s %s): origin %+v, want %+v", tenant, i, c.Op, c.ID, c.Origin, want[i])
		}
	}
	return cs
}
