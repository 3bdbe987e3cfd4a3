package scim

import (
	"net/http"
	"strings"

	"github.com/elimity-com/scim/schema"
	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/schemas"
)

// serviceProviderConfig tells the truth about what this server supports
// (RFC 7643 §5). elimity-com/scim's own handler hard-codes sort and etag as
// unsupported, so it is served here.
func (s *server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scimbridge/scimbridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": s.maxBulkOps, "maxPayloadSize": s.maxBulkPayload},
		"filter":           map[string]any{"supported": true, "maxResults": s.maxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": s.withOAuthScheme(r, []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with a bearer token issued by `scimbridge token create` or configured per tenant.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}}),
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	})
}

func (s *server) resourceTypeDoc(base string, rt *schemas.ResourceType) map[string]any {
	exts := make([]any, 0, len(rt.Extensions))
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.Schema.ID, "required": e.Required})
	}
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               rt.Name,
		"name":             rt.Name,
		"description":      rt.Description,
		"endpoint":         rt.Endpoint,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta": map[string]any{
			"resourceType": "ResourceType",
			"location":     base + "/ResourceTypes/" + rt.Name,
		},
	}
}

func (s *server) resourceTypes(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	var list []any
	for _, rt := range s.reg.ResourceTypes() {
		list = append(list, s.resourceTypeDoc(base, rt))
	}
	writeList(w, list)
}

func (s *server) resourceType(w http.ResponseWriter, r *http.Request) {
	rt := s.reg.ByName(mux.Vars(r)["name"])
	if rt == nil {
		writeAPIError(w, errNotFound)
		return
	}
	writeJSON(w, http.StatusOK, s.resourceTypeDoc(s.base(r), rt))
}

// allSchemas lists every schema a resource type uses, each once.
func (s *server) allSchemas() []schema.Schema {
	var out []schema.Schema
	seen := map[string]bool{}
	for _, rt := range s.reg.ResourceTypes() {
		for _, sc := range append([]schema.Schema{rt.Schema}, extensionSchemas(rt)...) {
			if !seen[sc.ID] {
				seen[sc.ID] = true
				out = append(out, sc)
			}
		}
	}
	return out
}

func extensionSchemas(rt *schemas.ResourceType) []schema.Schema {
	out := make([]schema.Schema, len(rt.Extensions))
	for i, e := range rt.Extensions {
		out[i] = e.Schema
	}
	return out
}

// schemaDoc renders a schema with elimity's own representation plus meta.
func schemaDoc(base string, sc schema.Schema) map[string]any {
	m := sc.ToMap()
	m["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + sc.ID}
	return m
}

func (s *server) schemaList(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	var list []any
	for _, sc := range s.allSchemas() {
		list = append(list, schemaDoc(base, sc))
	}
	writeList(w, list)
}

func (s *server) schemaByID(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	for _, sc := range s.allSchemas() {
		if strings.EqualFold(sc.ID, id) {
			writeJSON(w, http.StatusOK, schemaDoc(s.base(r), sc))
			return
		}
	}
	writeAPIError(w, errNotFound)
}

func writeList(w http.ResponseWriter, list []any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": len(list),
		"itemsPerPage": len(list),
		"startIndex":   1,
		"Resources":    list,
	})
}
