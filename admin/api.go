package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// Prefix is the path under which the API is served.
const Prefix = "/admin/api/"

// Paging limits of the list endpoints.
const (
	DefaultLimit = 20
	MaxLimit     = 500
)

// Engine is what the API drives: the pull engine (*pull.Engine).
type Engine interface {
	Start(ctx context.Context, req pull.RunRequest) (string, error)
	Runs(ctx context.Context, tenant string, limit int) ([]pull.RunRecord, error)
	GetRun(ctx context.Context, tenant, id string) (pull.RunRecord, error)
	Plan(ctx context.Context, tenant, runID string, after, limit int) ([]pull.PlanItem, error)
	NextRun(ctx context.Context, tenant string) (time.Time, error)
}

// Options configure NewHandler.
type Options struct {
	// Engine runs the pulls and keeps their records. Required.
	Engine Engine
	// Pull returns the pull request of tenant (its Tenant, Source and
	// Policy; the API sets the rest), and false when there is no such
	// tenant or it has no pull configured. Required.
	Pull func(tenant string) (pull.RunRequest, bool)
	// TokenHashes are the SHA-256 hashes of the admin tokens. None: every
	// request is refused.
	TokenHashes [][32]byte
	// TokenNames names admin tokens by hash, for the logs.
	TokenNames map[[32]byte]string
	// Throttle, if set, throttles wrong admin tokens per remote address
	// (the SCIM authenticator's, so that both count against one budget).
	Throttle Throttle
	Logger   *slog.Logger
}

// Throttle throttles failed authentications (*auth.Authenticator).
type Throttle interface {
	// FailureWait is how long r's address must wait before a credential
	// of it is checked again; 0: now.
	FailureWait(r *http.Request) time.Duration
	// Failed counts a failed authentication of r.
	Failed(r *http.Request, what string)
}

type handler struct {
	eng    Engine
	pull   func(string) (pull.RunRequest, bool)
	tokens [][32]byte
	names  map[[32]byte]string
	thr    Throttle
	log    *slog.Logger
	mux    *http.ServeMux
}

// NewHandler returns the admin API. It serves request paths that start
// with Prefix (a server with a path prefix strips it first).
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Engine == nil || opts.Pull == nil {
		return nil, errors.New("admin: Options.Engine and Options.Pull are required")
	}
	h := &handler{eng: opts.Engine, pull: opts.Pull, tokens: opts.TokenHashes, names: opts.TokenNames, thr: opts.Throttle, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	// Methods are dispatched by the handlers, so that a wrong one gets a
	// JSON 405 like every other error.
	mux := http.NewServeMux()
	mux.HandleFunc(Prefix+"tenants/{tenant}/pull", h.pullStatusOrStart)
	mux.HandleFunc(Prefix+"tenants/{tenant}/pull/runs", h.listRuns)
	mux.HandleFunc(Prefix+"tenants/{tenant}/pull/runs/{id}", h.getRun)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	h.mux = mux
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.thr != nil && r.Header.Get("Authorization") != "" {
		// A throttled address gets 429 before its token is even compared,
		// like on the SCIM endpoints; a request without any credential
		// costs nothing and is a plain 401.
		if wait := h.thr.FailureWait(r); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address; retry later")
			return
		}
	}
	if _, ok := h.authenticate(r); !ok {
		if h.thr != nil && r.Header.Get("Authorization") != "" {
			h.thr.Failed(r, "admin token")
		}
		// The same answer for a missing, malformed or unknown token, and
		// before routing: an unauthenticated caller learns nothing, not
		// even which tenants exist.
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge-admin"`)
		writeError(w, http.StatusUnauthorized, "an admin token is required (Authorization: Bearer TOKEN)")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// tenantPull returns the pull request of the request's tenant, or answers
// 404 and returns false.
func (h *handler) tenantPull(w http.ResponseWriter, r *http.Request) (pull.RunRequest, bool) {
	tenant := r.PathValue("tenant")
	req, ok := h.pull(tenant)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %q does not exist or has no pull configured", tenant))
	}
	return req, ok
}

// allow answers 405 unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	allowed := ""
	for i, m := range methods {
		if i > 0 {
			allowed += ", "
		}
		allowed += m
	}
	w.Header().Set("Allow", allowed)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allowed)
	return false
}

// pullStatusOrStart serves …/pull: GET is the tenant's pull status (the
// last run and the next scheduled one), POST starts a run.
func (h *handler) pullStatusOrStart(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	req, ok := h.tenantPull(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		h.start(w, r, req)
		return
	}
	ctx := r.Context()
	last, err := h.eng.Runs(ctx, req.Tenant, 1)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	next, err := h.eng.NextRun(ctx, req.Tenant)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	st := status{Tenant: req.Tenant, NextRun: timePtr(next)}
	if len(last) > 0 {
		v := RunOf(last[0])
		st.LastRun = &v
	}
	writeJSON(w, http.StatusOK, st)
}

// start starts a run: 202 with its id, or 409 while another one holds the
// tenant's lease.
func (h *handler) start(w http.ResponseWriter, r *http.Request, req pull.RunRequest) {
	q := r.URL.Query()
	var err error
	if req.DryRun, err = boolParam(q, "dryRun"); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Full, err = boolParam(q, "full"); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req.Trigger = pull.TriggerAdmin
	req.Wait = false
	req.Progress = nil
	id, err := h.eng.Start(r.Context(), req)
	var busy *pull.BusyError
	switch {
	case errors.As(err, &busy):
		writeJSON(w, http.StatusConflict, apiError{Status: http.StatusConflict,
			Error:  "a pull of this tenant is running",
			Holder: busy.Holder, Since: timePtr(busy.Since)})
		return
	case errors.Is(err, pull.ErrBusy):
		writeError(w, http.StatusConflict, "a pull of this tenant is running")
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	name, _ := h.authenticate(r)
	h.log.InfoContext(r.Context(), "admin: pull started", "tenant", req.Tenant, "run", id, "dryRun", req.DryRun, "full", req.Full, "token", name)
	loc := Prefix + "tenants/" + url.PathEscape(req.Tenant) + "/pull/runs/" + url.PathEscape(id)
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "location": loc})
}

// listRuns serves …/pull/runs: the run records, newest first, paged with
// ?limit= and ?after= (the id of the last run of the previous page).
func (h *handler) listRuns(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	req, ok := h.tenantPull(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after := q.Get("after")
	// The engine keeps a bounded number of records per tenant, so reading
	// them all to page is cheap.
	all, err := h.eng.Runs(r.Context(), req.Tenant, 0)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	start := 0
	if after != "" {
		start = -1
		for i, rec := range all {
			if rec.ID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("after: no run %q (it may have been trimmed; start again without after)", after))
			return
		}
	}
	page := all[start:]
	var next string
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	out := runs{Runs: make([]Run, 0, len(page)), Next: next}
	for _, rec := range page {
		out.Runs = append(out.Runs, RunOf(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// getRun serves …/pull/runs/{id}: one run record and, for a dry run, a
// page of its plan (?after= the last Seq seen, ?limit=).
func (h *handler) getRun(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	req, ok := h.tenantPull(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after := 0
	if s := q.Get("after"); s != "" {
		if after, err = strconv.Atoi(s); err != nil || after < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("after: %q is not a plan sequence number (a whole number, 0 or more)", s))
			return
		}
	}
	id := r.PathValue("id")
	rec, err := h.eng.GetRun(r.Context(), req.Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no run %q", id))
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := RunOf(rec)
	if rec.DryRun {
		// One more than asked tells whether there is a next page.
		items, err := h.eng.Plan(r.Context(), req.Tenant, id, after, limit+1)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.internal(w, r, err)
			return
		}
		p := Plan{Items: make([]PlanItem, 0, len(items))}
		if len(items) > limit {
			items = items[:limit]
			p.Next = strconv.Itoa(items[limit-1].Seq)
		}
		for _, it := range items {
			p.Items = append(p.Items, PlanItemOf(it))
		}
		out.Plan = &p
	}
	writeJSON(w, http.StatusOK, out)
}

// internal answers 500 and logs err; the client never sees its text.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error (see the server's log)")
}

func boolParam(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, s)
	}
	return b, nil
}

func limitParam(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("limit: %q must be a whole number from 1 to %d", s, MaxLimit)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Status: status, Error: msg})
}
