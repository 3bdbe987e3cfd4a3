package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	pathpkg "path"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
)

const contentType = "application/scim+json"

const (
	defaultMaxBody    = 10 << 20
	defaultMaxResults = 1000
	// defaultCount is the page size when a list request gives no count.
	defaultCount = 100
)

// server holds what every handler needs. It is immutable after NewHandler
// except for the authenticator's caches, which lock themselves.
type server struct {
	st         store.Store
	reg        *schemas.Registry
	log        *slog.Logger
	baseURL    string // scheme://host[:port] of Options.BaseURL; "": from the request
	prefix     string // the path of Options.BaseURL, without trailing slash
	maxBody    int64
	maxResults int
	auth       *auth.Authenticator
	proxies    []netip.Prefix // Options.TrustedProxies
	metrics    *metrics
	// Bulk limits (bulk.maxOperations, bulk.maxPayloadSize).
	maxBulkOps     int
	maxBulkPayload int64
	limits         schemas.StringLimits
	// Per-tenant request limits (limits.go).
	slots       map[string]chan struct{}
	queueWait   time.Duration
	minBodyRate int64
	bodyGrace   time.Duration
	// patchLimits caps each PATCH request (patch.*).
	patchLimits patch.Limits
}

// NewHandler returns the HTTP handler serving every tenant's SCIM API plus
// /healthz and /readyz.
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("scim: Options.Store is required")
	}
	if opts.Schemas == nil {
		return nil, errors.New("scim: Options.Schemas is required")
	}
	s := &server{
		st:         opts.Store,
		reg:        opts.Schemas,
		log:        opts.Logger,
		proxies:    opts.TrustedProxies,
		maxBody:    opts.MaxBodyBytes,
		maxResults: opts.MaxResults,
		auth:       opts.Auth,

		maxBulkOps:     opts.MaxBulkOperations,
		maxBulkPayload: opts.MaxBulkPayload,
		limits:         opts.StringLimits,
		slots:          map[string]chan struct{}{},
		queueWait:      opts.QueueWait,
		minBodyRate:    opts.MinBodyRate,
		bodyGrace:      opts.BodyGracePeriod,
		patchLimits:    patch.Limits{MaxOperations: opts.MaxPatchOps, MaxMemberValues: opts.MaxPatchMembers},
	}
	maxConcurrent := opts.MaxConcurrentRequests
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	if s.queueWait <= 0 {
		s.queueWait = DefaultQueueWait
	}
	if s.minBodyRate == 0 {
		s.minBodyRate = DefaultMinBodyRate
	}
	if s.bodyGrace <= 0 {
		s.bodyGrace = DefaultBodyGrace
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.baseURL, s.prefix, err = splitBaseURL(opts.BaseURL); err != nil {
		return nil, err
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBody
	}
	if s.maxResults <= 0 {
		s.maxResults = defaultMaxResults
	}
	if s.maxBulkOps <= 0 {
		s.maxBulkOps = defaultMaxBulkOperations
	}
	if s.maxBulkPayload <= 0 {
		s.maxBulkPayload = defaultMaxBulkPayload
	}
	switch {
	case s.auth != nil && len(opts.Tenants) > 0:
		return nil, errors.New("scim: set Options.Auth or Options.Tenants, not both")
	case s.auth == nil:
		a, err := auth.New(auth.Options{Store: opts.Store, Tenants: opts.Tenants, Logger: s.log, Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("scim: %w", err)
		}
		s.auth = a
	}

	for _, name := range s.auth.Tenants() {
		s.slots[name] = make(chan struct{}, maxConcurrent)
	}
	s.metrics = newMetrics(s.auth.Tenants(), opts.MetricsTokenHash)

	r := mux.NewRouter()
	r.HandleFunc("/healthz", s.healthz)
	r.HandleFunc("/readyz", s.readyz)
	r.Handle("/metrics", s.metrics.handler())
	// The token endpoints need no bearer token, so they precede the
	// authenticated API subrouters.
	r.HandleFunc("/scim/v2/oauth/token", s.oauthToken)
	r.HandleFunc("/tenants/{tenant}/scim/v2/oauth/token", s.oauthToken)
	s.mountAPI(r.PathPrefix("/scim/v2").Subrouter())
	s.mountAPI(r.PathPrefix("/tenants/{tenant}/scim/v2").Subrouter())
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, errStatus(http.StatusNotFound, "No such endpoint."))
	})
	r.Use(s.routeName)
	return s.logRequests(s.rewritePath(r)), nil
}

// rewritePath maps the public path onto the routes: it strips the path
// prefix of baseURL (a request outside it is a 404; the health probes and
// /metrics are also served at the root, where probes and scrapers reach the
// process directly), and drops one trailing slash, so /Users/ is /Users
// (clients and proxies add one; RFC 7644 names no resource "").
func (s *server) rewritePath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if s.prefix != "" {
			rest, ok := strings.CutPrefix(path, s.prefix)
			switch {
			case ok && rest == "":
				path = "/"
			case ok && rest[0] == '/':
				path = rest
			case isRootEndpoint(path):
			default:
				writeAPIError(w, errStatus(http.StatusNotFound, "No such endpoint."))
				return
			}
		}
		if len(path) > 1 && path[len(path)-1] == '/' {
			path = path[:len(path)-1]
		}
		if s.prefix != "" && path != r.URL.Path {
			// The router redirects a path with "//", "." or ".." to its
			// cleaned form; it sees only the path without the prefix, so
			// that redirect is made here, under the prefix.
			if c := cleanPath(path); c != path {
				redirectUnderPrefix(w, r, s.prefix+c)
				return
			}
		}
		if path != r.URL.Path {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = path, ""
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is the path the router redirects p to: path.Clean, keeping a
// trailing slash (as gorilla/mux does).
func cleanPath(p string) string {
	np := pathpkg.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// redirectUnderPrefix answers 301 to loc (a path that carries the prefix),
// keeping the query, as the router does for an unclean path.
func redirectUnderPrefix(w http.ResponseWriter, r *http.Request, loc string) {
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}

// isRootEndpoint reports whether path is one of the endpoints served at the
// root besides the path prefix: the health probes and /metrics.
func isRootEndpoint(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// isProbe reports whether route is a health probe, logged at debug level
// (orchestrators call them every few seconds).
func isProbe(route string) bool { return route == "/healthz" || route == "/readyz" }

// mountAPI registers one tenant's SCIM endpoints on sub. Methods are
// dispatched by the handlers themselves so a wrong method gets a SCIM 405.
func (s *server) mountAPI(sub *mux.Router) {
	// Authentication looks at the headers only: a request it refuses never
	// has its body read (and its connection is closed, see closeIfUnread).
	sub.Use(s.authenticate, s.limitTenant)
	for _, rt := range s.reg.ResourceTypes() {
		rt := rt
		sub.HandleFunc(rt.Endpoint, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet:
				s.list(w, r, rt)
			case http.MethodPost:
				s.create(w, r, rt)
			default:
				methodNotAllowed(w, "GET, POST")
			}
		})
		sub.HandleFunc(rt.Endpoint+"/.search", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				methodNotAllowed(w, "POST")
				return
			}
			s.search(w, r, rt)
		})
		sub.HandleFunc(rt.Endpoint+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			id := mux.Vars(r)["id"]
			switch r.Method {
			case http.MethodGet:
				s.get(w, r, rt, id)
			case http.MethodPut:
				s.replace(w, r, rt, id)
			case http.MethodPatch:
				s.patch(w, r, rt, id)
			case http.MethodDelete:
				s.delete(w, r, rt, id)
			default:
				methodNotAllowed(w, "GET, PUT, PATCH, DELETE")
			}
		})
	}
	sub.HandleFunc("/ServiceProviderConfig", s.readOnly(s.serviceProviderConfig))
	sub.HandleFunc("/ResourceTypes", s.readOnly(s.resourceTypes))
	sub.HandleFunc("/ResourceTypes/{name}", s.readOnly(s.resourceType))
	sub.HandleFunc("/Schemas", s.readOnly(s.schemaList))
	sub.HandleFunc("/Schemas/{id}", s.readOnly(s.schemaByID))
	notImplemented := func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, errStatus(http.StatusNotImplemented, "Not supported by this server."))
	}
	sub.HandleFunc("/Me", notImplemented)
	sub.HandleFunc("/Bulk", s.bulk)
	sub.HandleFunc("/.search", notImplemented)
}

// readOnly answers 405 to anything but GET and HEAD, as discovery endpoints
// are read-only (RFC 7644 §4).
func (s *server) readOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET")
			return
		}
		h(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeAPIError(w, errStatus(http.StatusMethodNotAllowed, "Method not allowed on this endpoint."))
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.st.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","store":"unreachable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// reqInfo collects what the request log line reports; inner middleware fills it.
type reqInfo struct {
	route  string
	tenant string
}

type reqInfoKey struct{}

// statusWriter records the status code for the request log, and closes the
// connection after a response written before the body was read (see
// closeIfUnread).
type statusWriter struct {
	http.ResponseWriter
	status int
	body   *bodyState // nil: the request has no body, or is not HTTP/1
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code >= 200 {
			closeIfUnread(w.ResponseWriter, w.body)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one structured line per request: method, route template,
// status, latency and tenant; never tokens or attribute values.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		if r.ProtoMajor == 1 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			sw.body = &bodyState{ReadCloser: r.Body}
			r.Body = sw.body
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := info.route
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		// The tenant the path asked for: a configured one keeps its name,
		// any other becomes the metrics' one unknown-tenant value.
		tenant := s.loggedTenant(info, r)
		s.metrics.observe(tenant, route, r.Method, sw.status, elapsed)
		level := slog.LevelInfo
		switch {
		case isProbe(route):
			// A failing /readyz logs its own warning with the cause.
			level = slog.LevelDebug
		case sw.status >= 500:
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
			slog.String("tenant", tenant),
		)
	})
}

// maxLoggedTenant caps the length of a tenant name taken from the path for
// the log (configured names have at most 63 characters).
const maxLoggedTenant = 64

// loggedTenant is the tenant a request log line names: the admitted tenant,
// else the one the path asked for (an unknown tenant, a request refused
// before authentication), so that operators see which name a client used.
// The metrics take it through tenantLabel, which keeps configured names
// only (a raw name as a label would be unbounded).
func (s *server) loggedTenant(info *reqInfo, r *http.Request) string {
	if info.tenant != "" {
		return info.tenant
	}
	path := r.URL.Path
	if s.prefix != "" {
		path = strings.TrimPrefix(path, s.prefix)
	}
	rest, ok := strings.CutPrefix(path, "/tenants/")
	if !ok {
		if strings.HasPrefix(path, "/scim/v2") {
			return DefaultTenant
		}
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	if len(name) > maxLoggedTenant {
		name = strings.ToValidUTF8(name[:maxLoggedTenant], "") + "…"
	}
	return name
}

// routeName records the matched route template for the request log.
func (s *server) routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
			if cr := mux.CurrentRoute(r); cr != nil {
				info.route, _ = cr.GetPathTemplate()
			}
		}
		next.ServeHTTP(w, r)
	})
}
