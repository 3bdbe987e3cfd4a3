package scim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim/entra"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
)

// projectionParams reads attributes/excludedAttributes from the URL, which
// RFC 7644 §3.9 allows on every resource response.
func projectionParams(r *http.Request, rt *schemas.ResourceType) (*projection, bool, error) {
	q := r.URL.Query()
	a, e := q.Get("attributes"), q.Get("excludedAttributes")
	if a != "" && e != "" {
		return nil, false, errBadRequest(scimerrors.ScimTypeInvalidValue, "attributes and excludedAttributes are mutually exclusive.")
	}
	p, err := parseProjection(rt, a, e)
	return p, a != "" || e != "", err
}

// respond writes one resource with its ETag (and Location on 201).
func (s *server) respond(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, res store.Resource, p *projection, status int) {
	rel, err := s.loadRelated(r.Context(), rt, res, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.respondWith(w, r, rt, res, p, status, rel)
}

// respondWith is respond with the related records already at hand.
func (s *server) respondWith(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, res store.Resource, p *projection, status int, rel related) {
	base := s.base(r)
	w.Header().Set("ETag", etag(res.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", base+rt.Endpoint+"/"+res.ID)
	}
	writeJSON(w, status, s.render(base, rt, res, p, rel))
}

func (s *server) ref(r *http.Request, rt *schemas.ResourceType, id string) store.Ref {
	return store.Ref{Tenant: tenantOf(r), Kind: store.Kind(rt.Name), ID: id}
}

// readResource reads what POST and PUT share: the projection parameters and
// the validated body, with members that name no resource dropped.
func (s *server) readResource(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType) (*projection, decodedResource, []store.Member, error) {
	proj, _, err := projectionParams(r, rt)
	if err != nil {
		return nil, decodedResource{}, nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, decodedResource{}, nil, err
	}
	d, err := s.decodeResource(rt, body)
	if err != nil {
		return nil, decodedResource{}, nil, err
	}
	members, err := s.knownMembers(r.Context(), tenantOf(r), d.members)
	return proj, d, members, err
}

func (s *server) create(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType) {
	proj, d, members, err := s.readResource(w, r, rt)
	if err == nil {
		err = s.checkStringLimits(d.attrs, nil)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.st.Create(r.Context(), store.Resource{Ref: s.ref(r, rt, ""), Attrs: d.attrs}, members)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Kind == store.User {
		// A user that did not exist a moment ago belongs to no group.
		s.respondWith(w, r, rt, res, proj, http.StatusCreated, related{})
		return
	}
	s.respond(w, r, rt, res, proj, http.StatusCreated)
}

func (s *server) get(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, id string) {
	proj, _, err := projectionParams(r, rt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.st.Get(r.Context(), s.ref(r, rt, id))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, res.Version) {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.respond(w, r, rt, res, proj, http.StatusOK)
}

func (s *server) replace(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, id string) {
	proj, d, members, err := s.readResource(w, r, rt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ifMatch := r.Header.Get("If-Match")
	res, err := s.st.Update(r.Context(), s.ref(r, rt, id), func(cur *store.Resource) (store.MemberDelta, error) {
		if ifMatch != "" && !etagMatches(ifMatch, cur.Version) {
			return store.MemberDelta{}, errPrecondition
		}
		if err := checkImmutable(rt, cur.Attrs, d.attrs); err != nil {
			return store.MemberDelta{}, err
		}
		if err := s.checkStringLimits(d.attrs, cur.Attrs); err != nil {
			return store.MemberDelta{}, err
		}
		cur.Attrs = d.attrs
		// A PUT without "members" leaves the membership alone: replacing a
		// group's members needs an explicit "members" list (possibly empty),
		// so a client that omits it never wipes a group by accident.
		if !d.hasMembers {
			return store.MemberDelta{}, nil
		}
		return store.MemberDelta{Replace: true, Add: members}, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.respond(w, r, rt, res, proj, http.StatusOK)
}

// checkImmutable rejects a PUT that changes an immutable attribute that has a
// value (RFC 7643 §7).
func checkImmutable(rt *schemas.ResourceType, old, new map[string]any) error {
	check := func(a *schemas.Attribute, o, n map[string]any, name string) error {
		if a.Mutability != schemas.MutabilityImmutable {
			return nil
		}
		ov, had := o[a.Name]
		if had && !reflect.DeepEqual(ov, n[a.Name]) {
			return errBadRequest(scimerrors.ScimTypeMutability, fmt.Sprintf("Attribute %q is immutable.", name))
		}
		return nil
	}
	for _, a := range rt.CoreAttributes() {
		if err := check(a, old, new, a.Name); err != nil {
			return err
		}
	}
	for _, e := range rt.Extensions {
		o, _ := old[e.Schema.ID].(map[string]any)
		n, _ := new[e.Schema.ID].(map[string]any)
		for _, a := range e.Attributes() {
			if err := check(a, o, n, e.Schema.ID+":"+a.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *server) patch(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, id string) {
	proj, asked, err := projectionParams(r, rt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ops, err := entra.ParsePatch(rt, body)
	if err == nil {
		err = s.patchLimits.Check(rt, ops)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	ref := s.ref(r, rt, id)
	ifMatch := r.Header.Get("If-Match")
	var added []string
	res, err := s.st.Update(ctx, ref, func(cur *store.Resource) (store.MemberDelta, error) {
		if ifMatch != "" && !etagMatches(ifMatch, cur.Version) {
			return store.MemberDelta{}, errPrecondition
		}
		attrs, delta, err := patch.Apply(rt, cur.Attrs, ops, patch.Options{
			Members: func() ([]store.Member, error) { return s.st.Members(ctx, ref, "", 0) },
		})
		if err != nil {
			return store.MemberDelta{}, err
		}
		if err := checkRequired(rt, attrs); err != nil {
			return store.MemberDelta{}, err
		}
		if err := s.checkStringLimits(attrs, cur.Attrs); err != nil {
			return store.MemberDelta{}, err
		}
		// Credentials are never stored (see decodeResource).
		delete(attrs, "password")
		cur.Attrs = attrs
		added = added[:0]
		for _, m := range delta.Add {
			added = append(added, m.Value)
		}
		return delta, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Finding which ids were skipped costs a query as large as the write, so
	// it is only done when debug logging is on; the journal records exactly
	// which members were added.
	if len(added) > 0 && s.log.Enabled(ctx, slog.LevelDebug) {
		s.debugUnknownMembers(ctx, ref, added)
	}
	// Groups answer 204 (Entra advises against echoing member lists) unless
	// the client asked for attributes; users answer 200 with the resource.
	if rt.Name == string(store.Group) && !asked {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.respond(w, r, rt, res, proj, http.StatusOK)
}

// checkRequired rejects a result that lacks a required attribute (userName,
// a group's displayName).
func checkRequired(rt *schemas.ResourceType, attrs map[string]any) error {
	for _, a := range rt.CoreAttributes() {
		if !a.Required {
			continue
		}
		v, ok := attrs[a.Name]
		if s, isStr := v.(string); !ok || v == nil || (isStr && s == "") {
			return errBadRequest(scimerrors.ScimTypeMutability, fmt.Sprintf("Attribute %q is required and cannot be removed.", a.Name))
		}
	}
	return nil
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, id string) {
	var ifVersion int64
	if im := r.Header.Get("If-Match"); im != "" && strings.TrimSpace(im) != "*" {
		cur, err := s.st.Get(r.Context(), s.ref(r, rt, id))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !etagMatches(im, cur.Version) {
			s.writeError(w, r, errPrecondition)
			return
		}
		ifVersion = cur.Version
	}
	if err := s.st.Delete(r.Context(), s.ref(r, rt, id), ifVersion); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// knownMembers drops member ids that name no user or group of the tenant and
// logs them. Scimbridge applies the valid members of a request and skips
// unknown ones rather than failing the whole request: Entra would otherwise
// retry the batch forever and the valid members would never land.
func (s *server) knownMembers(ctx context.Context, tenant string, members []store.Member) ([]store.Member, error) {
	if len(members) == 0 {
		return members, nil
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.Value
	}
	found, err := s.st.Exists(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := members[:0:0]
	unknown := 0
	for _, m := range members {
		if _, ok := found[m.Value]; ok {
			out = append(out, m)
		} else {
			unknown++
		}
	}
	if unknown > 0 {
		s.log.WarnContext(ctx, "skipped unknown group members", "tenant", tenant, "unknown", unknown)
	}
	return out, nil
}

// debugUnknownMembers logs how many member ids a PATCH tried to add do not
// exist (the store skipped them).
func (s *server) debugUnknownMembers(ctx context.Context, group store.Ref, ids []string) {
	found, err := s.st.Exists(ctx, group.Tenant, ids)
	if err != nil {
		return
	}
	if unknown := len(ids) - len(found); unknown > 0 {
		s.log.DebugContext(ctx, "skipped unknown group members", "tenant", group.Tenant, "group", group.ID, "unknown", unknown)
	}
}

// etagMatches reports whether an If-Match / If-None-Match header value
// matches version: "*" or a list of (weak or strong) tags.
func etagMatches(header string, version int64) bool {
	want := strconv.FormatInt(version, 10)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == want {
			return true
		}
	}
	return false
}
