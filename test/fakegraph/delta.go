package fakegraph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Default $select of a delta query without one (Graph's default user
// properties; groups return everything the fake knows, members included).
var (
	defaultUserSelect  = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
	defaultGroupSelect = groupPropNames
)

const (
	kindUsers  = "users"
	kindGroups = "groups"
)

// cursor is the state behind an opaque $skiptoken or $deltatoken: the
// query (kind, select), the round (initial, or changes after Since) and
// the position in it. Base64url JSON: opaque to clients, which must not
// look into it, and stateless for the server.
type cursor struct {
	Kind    string   `json:"k"`
	Select  []string `json:"s,omitempty"`
	Initial bool     `json:"i,omitempty"`
	Since   uint64   `json:"f,omitempty"` // incremental: changes after this version
	Upto    uint64   `json:"u,omitempty"` // version at the round's start: the next deltaLink's Since
	After   string   `json:"a,omitempty"` // last object id fully returned
	Split   string   `json:"g,omitempty"` // group whose members are being returned in slices
	Offset  int      `json:"o,omitempty"` // next member of Split
	Page    int      `json:"p,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, kind string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Kind != kind {
		return cursor{}, false
	}
	return c, true
}

func (c cursor) selected(name string) bool { return slices.Contains(c.Select, name) }

// serveGraph answers /v1.0 requests.
func (s *Server) serveGraph(w *logWriter, r *http.Request, path string) {
	if !s.checkBearer(w, r) {
		return
	}
	w.tokenOK = true
	s.serveGraphAuthed(w, r, path)
}

func (s *Server) serveGraphAuthed(w http.ResponseWriter, r *http.Request, path string) {
	var kind string
	switch path {
	case "/v1.0/users/delta":
		kind = kindUsers
	case "/v1.0/groups/delta":
		kind = kindGroups
	default:
		seg := strings.Split(strings.TrimPrefix(path, "/v1.0/"), "/")
		if len(seg) == 2 && (seg[0] == kindUsers || seg[0] == kindGroups) && seg[1] != "" {
			if seg[0] == kindGroups && s.groupsForbidden() {
				writeGraphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
				return
			}
			if !s.fault(w, seg[0], nil) {
				s.serveObject(w, r, seg[0], seg[1])
			}
			return
		}
		writeGraphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+seg[0]+"'.")
		return
	}
	if r.Method != http.MethodGet {
		writeGraphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if kind == kindGroups && s.groupsForbidden() {
		writeGraphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	q := r.URL.Query()
	var sel []string
	if v := q.Get("$select"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && p != "id" {
				sel = append(sel, p)
			}
		}
	} else if kind == kindUsers {
		sel = defaultUserSelect
	} else {
		sel = defaultGroupSelect
	}
	// A link carries its query: a 410's Location restarts that one.
	for _, k := range []string{"$skiptoken", "$deltatoken"} {
		if c, ok := decodeCursor(q.Get(k), kind); ok {
			sel = c.Select
		}
	}
	if s.fault(w, kind, sel) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var c cursor
	switch {
	case q.Has("$skiptoken"):
		var ok bool
		if c, ok = decodeCursor(q.Get("$skiptoken"), kind); !ok {
			writeGraphError(w, http.StatusBadRequest, "BadRequest", "The $skiptoken is not valid.")
			return
		}
	case q.Get("$deltatoken") == "latest":
		// Sync from now: no data, a deltaLink from the current version.
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context":   s.GraphBaseURL() + "/$metadata#" + kind,
			"value":            []any{},
			"@odata.deltaLink": s.deltaLink(cursor{Kind: kind, Select: sel, Since: s.dir.version}),
		})
		return
	case q.Get("$deltatoken") != "":
		d, ok := decodeCursor(q.Get("$deltatoken"), kind)
		if !ok {
			writeGraphError(w, http.StatusBadRequest, "syncStateNotFound", "The sync state generation is not found. The delta token is malformed or expired.")
			return
		}
		c = cursor{Kind: kind, Select: d.Select, Initial: d.Initial, Since: d.Since, Upto: s.dir.version}
	default:
		c = cursor{Kind: kind, Select: sel, Initial: true, Upto: s.dir.version}
	}
	minimal := !c.Initial && strings.Contains(r.Header.Get("Prefer"), "return=minimal")
	value, next, done := s.page(c, minimal)
	body := map[string]any{
		"@odata.context": s.GraphBaseURL() + "/$metadata#" + kind + "(" + strings.Join(c.Select, ",") + ")",
		"value":          value,
	}
	if done {
		since := c.Upto
		if s.replay && !c.Initial {
			// The next round replays this one's changes (Graph may).
			s.replay, since = false, c.Since
		}
		body["@odata.deltaLink"] = s.deltaLink(cursor{Kind: kind, Select: c.Select, Since: since})
	} else {
		body["@odata.nextLink"] = s.GraphBaseURL() + "/" + kind + "/delta?$skiptoken=" + next.encode()
	}
	if minimal {
		w.Header().Set("Preference-Applied", "return=minimal")
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deltaLink(c cursor) string {
	return s.GraphBaseURL() + "/" + c.Kind + "/delta?$deltatoken=" + c.encode()
}

// page builds one page of a round from c: its entries, the cursor of the
// next page, and whether the round is complete. Caller holds s.mu.
func (s *Server) page(c cursor, minimal bool) ([]map[string]any, cursor, bool) {
	next := c
	next.Page++
	out := []map[string]any{}
	if e := s.opts.EmptyPageEvery; e > 0 && (c.Page+1)%(e+1) == 0 {
		return out, next, false
	}
	limit := s.opts.PageSize
	if next.Split != "" {
		if !s.emitGroup(&out, &next, next.Split, limit, minimal) {
			return out, next, false
		}
	}
	for len(out) < limit {
		var ids []string
		if c.Initial {
			if c.Kind == kindUsers {
				ids = s.dir.nextUserIDs(next.After, limit)
			} else {
				ids = s.dir.nextGroupIDs(next.After, limit)
			}
		} else if c.Kind == kindUsers {
			ids = nextIDs(0, nil, s.dir.userIDs, next.After, limit)
		} else {
			ids = nextIDs(0, nil, s.dir.groupIDs, next.After, limit)
		}
		if len(ids) == 0 {
			return out, next, true
		}
		for _, id := range ids {
			if len(out) >= limit {
				return out, next, false
			}
			if c.Kind == kindUsers {
				if e := s.userEntry(c, id, minimal); e != nil {
					out = append(out, e)
				}
				next.After = id
				continue
			}
			if !s.emitGroup(&out, &next, id, limit, minimal) {
				return out, next, false
			}
		}
	}
	// A full page: the round is complete only when nothing follows.
	if next.Split == "" && s.remaining(c, next.After) {
		return out, next, false
	}
	return out, next, next.Split == ""
}

// remaining reports whether any candidate id follows after.
func (s *Server) remaining(c cursor, after string) bool {
	if c.Initial {
		if c.Kind == kindUsers {
			return len(s.dir.nextUserIDs(after, 1)) > 0
		}
		return len(s.dir.nextGroupIDs(after, 1)) > 0
	}
	if c.Kind == kindUsers {
		return len(nextIDs(0, nil, s.dir.userIDs, after, 1)) > 0
	}
	return len(nextIDs(0, nil, s.dir.groupIDs, after, 1)) > 0
}

func removedEntry(id, reason string) map[string]any {
	return map[string]any{"id": id, "@removed": map[string]any{"reason": reason}}
}

func odataType(t string) string { return "#microsoft.graph." + t }

// selectProps copies the selected properties of all into an entry; with
// minimal, only those changed after since (a property that was unset
// becomes null).
func selectProps(c cursor, all map[string]any, ver map[string]uint64, minimal bool) map[string]any {
	e := map[string]any{"id": all["id"]}
	for _, p := range c.Select {
		v, ok := all[p]
		if minimal {
			if ver[p] <= c.Since {
				continue
			}
			if !ok {
				e[p] = nil
				continue
			}
		}
		if ok {
			e[p] = v
		}
	}
	return e
}

// userEntry renders user id for round c, nil when it does not belong in it.
func (s *Server) userEntry(c cursor, id string, minimal bool) map[string]any {
	r := s.dir.lookupUser(id, false)
	if r == nil {
		return nil
	}
	if !r.live {
		if c.Initial && s.opts.RemovedInInitial && r.removed == reasonChanged {
			return removedEntry(id, r.removed)
		}
		if c.Initial || r.removedAt <= c.Since {
			return nil
		}
		return removedEntry(id, r.removed)
	}
	created := r.ver[propExists] > c.Since
	if !c.Initial && !created {
		changed := false
		for _, p := range c.Select {
			if r.ver[p] > c.Since {
				changed = true
			}
		}
		if !changed {
			return nil
		}
	}
	minimal = minimal && !created
	e := selectProps(c, userProps(r.u), r.ver, minimal)
	if c.selected("manager") {
		managerChanged := r.ver["manager"] > c.Since
		switch {
		case r.u.Manager != "" && (!minimal || managerChanged):
			e["manager@delta"] = []any{map[string]any{"@odata.type": odataType(TypeUser), "id": r.u.Manager}}
		case r.u.Manager == "" && !c.Initial && managerChanged && r.prevManager != "":
			e["manager@delta"] = []any{map[string]any{"@odata.type": odataType(TypeUser), "id": r.prevManager, "@removed": map[string]any{"reason": reasonDeleted}}}
		}
	}
	return e
}

// emitGroup appends group id's entries for round c to out, starting at
// the cursor's member offset when it is the group in progress, and moves
// the cursor. It returns false when the page filled before the group was
// complete (the cursor then holds the group and member offset).
func (s *Server) emitGroup(out *[]map[string]any, next *cursor, id string, limit int, minimal bool) bool {
	c := *next
	resuming := c.Split == id
	finish := func() bool {
		next.After, next.Split, next.Offset = id, "", 0
		return true
	}
	r := s.dir.lookupGroup(id, false)
	if r == nil {
		return finish()
	}
	if !r.live {
		if c.Initial && s.opts.RemovedInInitial && r.removed == reasonChanged && !resuming {
			*out = append(*out, removedEntry(id, r.removed))
			return finish()
		}
		if c.Initial || r.removedAt <= c.Since || resuming {
			return finish()
		}
		*out = append(*out, removedEntry(id, r.removed))
		return finish()
	}
	created := r.ver[propExists] > c.Since
	var members []memberEntry
	if c.selected("members") {
		if c.Initial || created {
			members = r.sortedMembers()
		} else {
			members = r.changedMembers(c.Since)
		}
	}
	if !c.Initial && !created && !resuming {
		changed := len(members) > 0
		for _, p := range c.Select {
			if p != "members" && r.ver[p] > c.Since {
				changed = true
			}
		}
		if !changed {
			return finish()
		}
	}
	split := s.opts.MemberSplit
	if split <= 0 {
		split = max(len(members), 1)
	}
	off := 0
	if resuming {
		off = min(c.Offset, len(members))
	}
	for first := !resuming; first || off < len(members); first = false {
		if len(*out) >= limit {
			if !first {
				next.Split, next.Offset = id, off
			}
			return false
		}
		var e map[string]any
		if first {
			e = selectProps(c, groupProps(r.g), r.ver, minimal && !created)
			delete(e, "members")
		} else {
			e = map[string]any{"id": id}
		}
		end := min(off+split, len(members))
		if end > off {
			md := make([]any, 0, end-off)
			for _, m := range members[off:end] {
				me := map[string]any{"@odata.type": odataType(m.typ), "id": m.id}
				if m.removed {
					me["@removed"] = map[string]any{"reason": reasonDeleted}
				}
				md = append(md, me)
			}
			e["members@delta"] = md
		}
		*out = append(*out, e)
		off = end
	}
	return finish()
}

func (s *Server) groupsForbidden() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forbidGroups
}
