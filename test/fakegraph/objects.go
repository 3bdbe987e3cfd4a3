package fakegraph

import (
	"net/http"
	"strings"
)

// serveObject answers GET /v1.0/users/{id} and /v1.0/groups/{id} with
// $select and $expand=manager (users; "manager($select=id)" too) or
// $expand=members (groups). Caller checked the token.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, kind, id string) {
	if r.Method != http.MethodGet {
		writeGraphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	q := r.URL.Query()
	var sel []string
	for _, p := range strings.Split(q.Get("$select"), ",") {
		if p = strings.TrimSpace(p); p != "" && p != "id" {
			sel = append(sel, p)
		}
	}
	expand := q.Get("$expand")
	expandName, _, _ := strings.Cut(expand, "(")
	notFound := func() {
		writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var body map[string]any
	switch kind {
	case kindUsers:
		rec := s.dir.lookupUser(id, false)
		if rec == nil || !rec.live {
			notFound()
			return
		}
		if sel == nil {
			sel = defaultUserSelect
		}
		body = selectProps(cursor{Select: sel}, userProps(rec.u), nil, false)
		if expandName == "manager" && rec.u.Manager != "" {
			body["manager"] = map[string]any{"@odata.type": odataType(TypeUser), "id": rec.u.Manager}
		}
	default:
		rec := s.dir.lookupGroup(id, false)
		if rec == nil || !rec.live {
			notFound()
			return
		}
		if sel == nil {
			sel = []string{"displayName", "description", "mailNickname"}
		}
		body = selectProps(cursor{Select: sel}, groupProps(rec.g), nil, false)
		if expandName == "members" {
			ms := []any{}
			for _, m := range rec.sortedMembers() {
				ms = append(ms, map[string]any{"@odata.type": odataType(m.typ), "id": m.id})
			}
			body["members"] = ms
		}
	}
	body["@odata.context"] = s.GraphBaseURL() + "/$metadata#" + kind + "/$entity"
	writeJSON(w, http.StatusOK, body)
}
