package targets

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The core schema URNs.
const (
	UserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// SCIMJSON renders a stored resource as the SCIM resource a client would
// read (schemas, id, meta without location, the attributes; a group's
// members are not included: changes carry them as deltas). The result is
// a fresh map the caller may change.
func SCIMJSON(r *store.Resource) map[string]any {
	out := maps.Clone(r.Attrs)
	if out == nil {
		out = map[string]any{}
	}
	core := UserSchema
	if r.Kind == store.Group {
		core = GroupSchema
	}
	schemas := []any{core}
	var exts []string
	for k := range r.Attrs {
		if strings.HasPrefix(k, "urn:") {
			exts = append(exts, k)
		}
	}
	slices.Sort(exts)
	for _, e := range exts {
		schemas = append(schemas, e)
	}
	out["schemas"] = schemas
	out["id"] = r.ID
	out["meta"] = map[string]any{
		"resourceType": string(r.Kind),
		"created":      r.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": r.LastModified.UTC().Format(time.RFC3339Nano),
		"version":      `W/"` + strconv.FormatInt(r.Version, 10) + `"`,
	}
	return out
}
