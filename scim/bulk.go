package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/schemas"
)

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	// bulkIDPrefix marks a cross-reference to the resource created by the
	// POST operation carrying that bulkId (RFC 7644 §3.7.2).
	bulkIDPrefix = "bulkId:"

	defaultMaxBulkOperations = 1000
	defaultMaxBulkPayload    = 1 << 20
)

// bulkRequest is the envelope of POST /Bulk. Field names match
// case-insensitively (encoding/json), as SCIM attribute names do.
type bulkRequest struct {
	Schemas      []string        `json:"schemas"`
	FailOnErrors *int            `json:"failOnErrors"`
	Operations   []bulkOperation `json:"Operations"`
}

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

// bulkResult is one element of the BulkResponse "Operations".
type bulkResult struct {
	Location string          `json:"location,omitempty"`
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`

	failed bool
}

// bulkOp is a parsed operation.
type bulkOp struct {
	idx     int
	method  string // canonical upper case when known, else as sent
	bulkID  string
	version string
	rt      *schemas.ResourceType
	id      string // from the path; may be "bulkId:…"
	data    any    // decoded data (json.Number for numbers); nil: none
	refs    []string
	err     *apiError // problem found while parsing: the op fails with it
}

// bulk serves POST /Bulk (RFC 7644 §3.7).
//
// Whole-request errors: a body larger than maxPayloadSize or with more than
// maxOperations operations is a 413 naming both limits; a body that is not a
// BulkRequest (not JSON, "schemas" without the BulkRequest URN, "Operations"
// missing or not an array of objects, a member of the wrong JSON type,
// failOnErrors < 1) is a 400 and nothing is executed. Everything else is
// judged per operation and reported in that operation's result: an unknown
// method, a path that names no resource type (or names an id for POST, or
// none for PUT/PATCH/DELETE), a POST without bulkId, a duplicate bulkId,
// missing data, or anything the individual endpoint would reject.
//
// Every operation runs through the same handler as the individual endpoint
// (create, replace, patch, delete) on an internal request that carries the
// authenticated tenant, so validation, the PATCH engine, ETags (version is
// sent as If-Match) and error mapping are identical; each operation is one
// handler call and thus atomic on its own. There is no transaction across
// operations (the RFC asks for none).
//
// bulkId cross-references: any JSON string in data that is exactly
// "bulkId:<id>", and an id in path such as "/Groups/bulkId:<id>", is
// replaced by the id of the resource created by the POST that carries
// bulkId <id>. Operations run in request order except that an operation
// waits until every POST it references has run, so references resolve
// whatever the order of the request. A reference to a bulkId that no POST
// in the request defines, or to one whose operation failed, fails the
// operation with 400 invalidValue before anything of it is applied.
// Circular references (A references B, B references A, or a POST
// referencing itself) are not resolved: every operation on the cycle fails
// with 409 Conflict (RFC 7644 §3.7.1 allows giving up), and operations that
// depend on them fail as above.
//
// failOnErrors n stops processing once n operations have failed; operations
// not processed by then are neither executed nor listed. The response lists
// the processed operations in request order with status as a string,
// version (the ETag), location (except for a failed POST) and, for
// failures, the SCIM error body as response.
func (s *server) bulk(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if r.ContentLength > s.maxBulkPayload {
		writeAPIError(w, s.bulkTooLarge(fmt.Sprintf("The bulk request body is %d bytes", r.ContentLength)))
		return
	}
	body, err := readLimited(w, r, s.maxBulkPayload, s.bulkTooLarge("The bulk request body is too large"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req bulkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The body must be a BulkRequest object: "+jsonProblem(err)))
		return
	}
	if err := requireSchema(req.Schemas, bulkRequestURN); err != nil {
		writeAPIError(w, err)
		return
	}
	if req.Operations == nil {
		writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The \"Operations\" attribute is required."))
		return
	}
	if n := len(req.Operations); n > s.maxBulkOps {
		writeAPIError(w, s.bulkTooLarge(fmt.Sprintf("The bulk request has %d operations", n)))
		return
	}
	limit := 0
	if req.FailOnErrors != nil {
		if *req.FailOnErrors < 1 {
			writeAPIError(w, errBadRequest(scimerrors.ScimTypeInvalidValue, "failOnErrors must be an integer of at least 1 (omit it to process every operation)."))
			return
		}
		limit = *req.FailOnErrors
	}
	ops := make([]*bulkOp, len(req.Operations))
	for i, o := range req.Operations {
		ops[i] = s.parseBulkOp(i, o)
	}
	run := &bulkRun{s: s, r: r, ops: ops, limit: limit,
		defined: map[string]int{}, created: map[string]string{},
		results: make([]*bulkResult, len(ops))}
	for _, op := range ops {
		if op.method != http.MethodPost || op.err != nil {
			continue
		}
		if _, dup := run.defined[op.bulkID]; dup {
			op.err = errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("bulkId %q is used by more than one POST operation of this request.", op.bulkID))
			continue
		}
		run.defined[op.bulkID] = op.idx
	}
	run.execute()
	out := make([]*bulkResult, 0, len(ops))
	for _, res := range run.results {
		if res != nil {
			out = append(out, res)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":    []string{bulkResponseURN},
		"Operations": out,
	})
}

// bulkTooLarge is the 413 for a bulk request over a limit; the detail names
// both limits (as RFC 7644 §3.7.4's example does).
func (s *server) bulkTooLarge(what string) *apiError {
	return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"%s; this server accepts at most maxOperations=%d operations and maxPayloadSize=%d bytes per bulk request.",
		what, s.maxBulkOps, s.maxBulkPayload))
}

// parseBulkOp checks one operation's structure and collects its bulkId
// references. Problems are kept in op.err and reported when the operation's
// turn comes, so failOnErrors counts them like any other failure.
func (s *server) parseBulkOp(i int, o bulkOperation) *bulkOp {
	op := &bulkOp{idx: i, method: o.Method, bulkID: o.BulkID, version: o.Version}
	switch m := strings.ToUpper(strings.TrimSpace(o.Method)); m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		op.method = m
	default:
		op.err = errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("Unsupported bulk method %q: use POST, PUT, PATCH or DELETE.", o.Method))
		return op
	}
	rt, id, err := s.parseBulkPath(o.Path)
	if err != nil {
		op.err = err
		return op
	}
	op.rt, op.id = rt, id
	switch {
	case op.method == http.MethodPost && id != "":
		op.err = errBadRequest(scimerrors.ScimTypeInvalidPath, fmt.Sprintf("A bulk POST path names a resource type endpoint such as %q, not a resource.", rt.Endpoint))
		return op
	case op.method != http.MethodPost && id == "":
		op.err = errBadRequest(scimerrors.ScimTypeInvalidPath, fmt.Sprintf("A bulk %s path must name a resource: %s/{id}.", op.method, rt.Endpoint))
		return op
	case op.method == http.MethodPost && o.BulkID == "":
		op.err = errBadRequest(scimerrors.ScimTypeInvalidValue, "A bulk POST operation requires a bulkId.")
		return op
	}
	seen := map[string]bool{}
	addRef := func(ref string) {
		if !seen[ref] {
			seen[ref] = true
			op.refs = append(op.refs, ref)
		}
	}
	if ref, ok := strings.CutPrefix(id, bulkIDPrefix); ok {
		addRef(ref)
	}
	hasData := len(o.Data) > 0 && string(o.Data) != "null"
	if op.method == http.MethodDelete {
		return op
	}
	if !hasData {
		op.err = errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("A bulk %s operation requires data.", op.method))
		return op
	}
	d := json.NewDecoder(bytes.NewReader(o.Data))
	d.UseNumber()
	if err := d.Decode(&op.data); err != nil {
		// Cannot happen: the envelope decoder checked the JSON.
		op.err = errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The operation's data is not valid JSON.")
		return op
	}
	walkBulkRefs(op.data, addRef)
	return op
}

// parseBulkPath splits a bulk path: "/Users" or "/Groups/{id}" (endpoint
// matched case-insensitively; the leading slash may be omitted, a trailing
// one added).
func (s *server) parseBulkPath(p string) (*schemas.ResourceType, string, *apiError) {
	bad := func() (*schemas.ResourceType, string, *apiError) {
		return nil, "", errBadRequest(scimerrors.ScimTypeInvalidPath, fmt.Sprintf("Bulk path %q is not a resource type endpoint or a resource (such as \"/Users\" or \"/Groups/{id}\").", p))
	}
	// One trailing slash is ignored, as on the endpoints themselves.
	rest := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "/"), "/")
	if rest == "" || strings.ContainsAny(rest, "?#") {
		return bad()
	}
	seg, id, hasID := strings.Cut(rest, "/")
	if hasID && (id == "" || strings.Contains(id, "/")) {
		return bad()
	}
	for _, rt := range s.reg.ResourceTypes() {
		if strings.EqualFold(rt.Endpoint, "/"+seg) {
			return rt, id, nil
		}
	}
	return bad()
}

// walkBulkRefs calls add with the bulkId of every "bulkId:<id>" string in v.
func walkBulkRefs(v any, add func(string)) {
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, bulkIDPrefix); ok {
			add(ref)
		}
	case map[string]any:
		for _, e := range x {
			walkBulkRefs(e, add)
		}
	case []any:
		for _, e := range x {
			walkBulkRefs(e, add)
		}
	}
}

// substituteBulkRefs replaces every "bulkId:<id>" string in v by the created
// id, in place.
func substituteBulkRefs(v any, ids map[string]string) any {
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, bulkIDPrefix); ok {
			if id, ok := ids[ref]; ok {
				return id
			}
		}
	case map[string]any:
		for k, e := range x {
			x[k] = substituteBulkRefs(e, ids)
		}
	case []any:
		for i, e := range x {
			x[i] = substituteBulkRefs(e, ids)
		}
	}
	return v
}

// bulkRun executes one bulk request's operations.
type bulkRun struct {
	s       *server
	r       *http.Request
	ops     []*bulkOp
	limit   int            // failOnErrors; 0: no limit
	defined map[string]int // bulkId -> index of the POST defining it
	created map[string]string
	results []*bulkResult // by request index; nil: not processed
	errors  int
}

func (b *bulkRun) stopped() bool {
	return (b.limit > 0 && b.errors >= b.limit) || b.r.Context().Err() != nil
}

func (b *bulkRun) record(op *bulkOp, res *bulkResult) {
	b.results[op.idx] = res
	if res.failed {
		b.errors++
	}
}

// execute processes the operations in passes over the request order: an
// operation runs as soon as every POST it references has succeeded, and
// fails as soon as one of them has failed or is undefined. A pass that makes
// no progress leaves only operations waiting on a cycle; those on the cycle
// fail with 409, and the next pass fails their dependants.
func (b *bulkRun) execute() {
	for {
		progress, pending := false, false
		for _, op := range b.ops {
			if b.results[op.idx] != nil {
				continue
			}
			if b.stopped() {
				return
			}
			res := b.try(op)
			if res == nil {
				pending = true
				continue
			}
			b.record(op, res)
			progress = true
		}
		if !pending || b.stopped() {
			return
		}
		if progress {
			continue
		}
		// Every pending operation waits on another pending one: find the
		// cycles first, then fail them (in request order, so failOnErrors
		// cuts the same way on every run).
		cycles := map[int][]string{}
		for _, op := range b.ops {
			if b.results[op.idx] == nil {
				if path := b.cycle(op); path != nil {
					cycles[op.idx] = path
				}
			}
		}
		if len(cycles) == 0 {
			// Cannot happen (a stuck pass implies a cycle); never loop.
			for _, op := range b.ops {
				if b.results[op.idx] == nil && !b.stopped() {
					b.record(op, b.failure(op, errInternal))
				}
			}
			return
		}
		for _, op := range b.ops {
			path, ok := cycles[op.idx]
			if !ok {
				continue
			}
			if b.stopped() {
				return
			}
			b.record(op, b.failure(op, errStatus(http.StatusConflict, fmt.Sprintf(
				"Circular bulkId reference (%s): scimbridge does not resolve circular references; create these resources first and link them in a later request.",
				strings.Join(path, " -> ")))))
		}
	}
}

// try runs op if its references are resolved, returns its failure if they
// cannot be, and nil if it has to wait.
func (b *bulkRun) try(op *bulkOp) *bulkResult {
	if op.err != nil {
		return b.failure(op, op.err)
	}
	wait := false
	for _, ref := range op.refs {
		j, ok := b.defined[ref]
		if !ok {
			return b.failure(op, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf(
				"bulkId %q is not defined by any POST operation of this request.", ref)))
		}
		switch dep := b.results[j]; {
		case dep == nil:
			wait = true
		case dep.failed:
			return b.failure(op, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf(
				"bulkId %q cannot be resolved: its operation failed with status %s.", ref, dep.Status)))
		}
	}
	if wait {
		return nil
	}
	return b.run(op)
}

// cycle returns the bulkIds of a reference cycle through op (op's own
// bulkId first and last), or nil if op is not on one.
func (b *bulkRun) cycle(op *bulkOp) []string {
	visited := map[int]bool{}
	var path []string
	var dfs func(i int) bool
	dfs = func(i int) bool {
		for _, ref := range b.ops[i].refs {
			j, ok := b.defined[ref]
			if !ok || b.results[j] != nil {
				continue
			}
			if j == op.idx {
				path = append(path, ref)
				return true
			}
			if visited[j] {
				continue
			}
			visited[j] = true
			path = append(path, ref)
			if dfs(j) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	if !dfs(op.idx) {
		return nil
	}
	return append([]string{op.bulkID}, path...)
}

// failure is op's result for an error found by the bulk layer.
func (b *bulkRun) failure(op *bulkOp, e *apiError) *bulkResult {
	rec := httptest.NewRecorder()
	writeAPIError(rec, e)
	res := &bulkResult{Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(e.status),
		Response: rec.Body.Bytes(), failed: true}
	if op.method != http.MethodPost && op.rt != nil && op.id != "" && !strings.HasPrefix(op.id, bulkIDPrefix) {
		res.Location = b.s.base(b.r) + op.rt.Endpoint + "/" + op.id
	}
	return res
}

// run executes op through the individual endpoint's handler on an internal
// request carrying the bulk request's context (and so its tenant).
func (b *bulkRun) run(op *bulkOp) *bulkResult {
	s, r := b.s, b.r
	id := op.id
	if ref, ok := strings.CutPrefix(id, bulkIDPrefix); ok {
		id = b.created[ref]
	}
	var body []byte
	if op.data != nil {
		var err error
		if body, err = json.Marshal(substituteBulkRefs(op.data, b.created)); err != nil {
			return b.failure(op, s.toAPIError(r.Context(), err))
		}
	}
	target := op.rt.Endpoint
	if id != "" {
		target += "/" + id
	}
	req, err := http.NewRequestWithContext(r.Context(), op.method, "/", bytes.NewReader(body))
	if err != nil {
		return b.failure(op, s.toAPIError(r.Context(), err))
	}
	req.URL.Path = target
	req.Host, req.TLS, req.RemoteAddr = r.Host, r.TLS, r.RemoteAddr
	req.Header.Set("Content-Type", contentType)
	if op.version != "" && op.method != http.MethodPost {
		req.Header.Set("If-Match", op.version)
	}
	rec := httptest.NewRecorder()
	switch op.method {
	case http.MethodPost:
		s.create(rec, req, op.rt)
	case http.MethodPut:
		s.replace(rec, req, op.rt, id)
	case http.MethodPatch:
		s.patch(rec, req, op.rt, id)
	case http.MethodDelete:
		s.delete(rec, req, op.rt, id)
	}
	res := &bulkResult{Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(rec.Code),
		Version: rec.Header().Get("ETag")}
	if rec.Code < 200 || rec.Code > 299 {
		res.failed = true
		res.Response = rec.Body.Bytes()
		if !json.Valid(res.Response) {
			res.Response = nil
		}
	}
	if op.method == http.MethodPost {
		if !res.failed {
			res.Location = rec.Header().Get("Location")
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &created)
			if created.ID == "" {
				created.ID = res.Location[strings.LastIndex(res.Location, "/")+1:]
			}
			b.created[op.bulkID] = created.ID
		}
	} else {
		res.Location = s.base(r) + op.rt.Endpoint + "/" + id
	}
	return res
}
