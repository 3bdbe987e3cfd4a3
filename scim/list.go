package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

const (
	listResponseURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// listParams are the query parameters of a list or .search request
// (RFC 7644 §3.4.2, §3.4.3).
type listParams struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int
	count      int
	countSet   bool
	attributes string
	excluded   string
}

func (s *server) list(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType) {
	q := r.URL.Query()
	p := listParams{
		filter:     q.Get("filter"),
		sortBy:     q.Get("sortBy"),
		sortOrder:  q.Get("sortOrder"),
		attributes: q.Get("attributes"),
		excluded:   q.Get("excludedAttributes"),
		startIndex: 1,
	}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, "startIndex must be an integer."))
			return
		}
		p.startIndex = n
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, "count must be an integer."))
			return
		}
		p.count, p.countSet = n, true
	}
	s.runList(w, r, rt, p)
}

// search serves POST /{Resource}/.search.
func (s *server) search(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Schemas            []string        `json:"schemas"`
		Attributes         json.RawMessage `json:"attributes"`
		ExcludedAttributes json.RawMessage `json:"excludedAttributes"`
		Filter             string          `json:"filter"`
		SortBy             string          `json:"sortBy"`
		SortOrder          string          `json:"sortOrder"`
		StartIndex         *int            `json:"startIndex"`
		Count              *int            `json:"count"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The body must be a SearchRequest object: "+jsonProblem(err)))
		return
	}
	if err := requireSchema(req.Schemas, searchRequestURN); err != nil {
		writeAPIError(w, err)
		return
	}
	attrs, err := stringList(req.Attributes, "attributes")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	excl, err := stringList(req.ExcludedAttributes, "excludedAttributes")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := listParams{filter: req.Filter, sortBy: req.SortBy, sortOrder: req.SortOrder,
		attributes: attrs, excluded: excl, startIndex: 1}
	if req.StartIndex != nil {
		p.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		p.count, p.countSet = *req.Count, true
	}
	s.runList(w, r, rt, p)
}

// requireSchema checks that a message's "schemas" lists urn (RFC 7644 §3.1).
func requireSchema(list []string, urn string) *apiError {
	for _, u := range list {
		if strings.EqualFold(u, urn) {
			return nil
		}
	}
	return errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("The \"schemas\" attribute must include %q.", urn))
}

// stringList accepts a JSON array of strings or a comma-separated string.
func stringList(raw json.RawMessage, name string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return strings.Join(list, ","), nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return one, nil
	}
	return "", errBadRequest(scimerrors.ScimTypeInvalidValue, name+" must be an array of strings.")
}

func (s *server) runList(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, p listParams) {
	ctx := r.Context()
	if p.attributes != "" && p.excluded != "" {
		writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, "attributes and excludedAttributes are mutually exclusive."))
		return
	}
	proj, err := parseProjection(rt, p.attributes, p.excluded)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := store.Query{StartIndex: p.startIndex, Count: defaultCount}
	if q.StartIndex < 1 {
		q.StartIndex = 1
	}
	if p.countSet {
		q.Count = max(p.count, 0)
	}
	q.Count = min(q.Count, s.maxResults)
	if p.filter != "" {
		f, err := query.Parse(rt, p.filter)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q.Filter = f
	}
	if p.sortBy != "" {
		path, err := rt.ResolvePath(p.sortBy)
		if err != nil || (path.Leaf().IsComplex() && path.Leaf().Sub("value") == nil) {
			writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("sortBy: unknown or unsortable attribute %q.", p.sortBy)))
			return
		}
		if path.Sub == nil && path.Attr.IsComplex() {
			path.Sub = path.Attr.Sub("value")
		}
		q.SortBy = path.String()
	}
	switch strings.ToLower(p.sortOrder) {
	case "", "ascending":
	case "descending":
		q.Descending = true
	default:
		writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, "sortOrder must be \"ascending\" or \"descending\"."))
		return
	}
	page, err := s.st.Query(ctx, tenantOf(r), store.Kind(rt.Name), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := s.base(r)
	resources := make([]any, 0, len(page.Resources))
	for _, res := range page.Resources {
		rel, err := s.loadRelated(ctx, rt, res, proj)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		resources = append(resources, s.render(base, rt, res, proj, rel))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": page.Total,
		"itemsPerPage": len(resources),
		"startIndex":   q.StartIndex,
		"Resources":    resources,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := appendJSON(make([]byte, 0, 1024), v)
	if err != nil {
		writeAPIError(w, errInternal)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonProblem describes a JSON decoding error without echoing input values.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("%s has the wrong type (want %s)", e.Field, e.Type)
	}
	return "malformed JSON"
}
