package scim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

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
// except for the tenants' token caches, which lock themselves.
type server struct {
	st         store.Store
	reg        *schemas.Registry
	log        *slog.Logger
	baseURL    string
	maxBody    int64
	maxResults int
	tenants    map[string]*tenantAuth
	metrics    *metrics
	// Bulk limits (bulk.maxOperations, bulk.maxPayloadSize).
	maxBulkOps     int
	maxBulkPayload int64
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
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		maxBody:    opts.MaxBodyBytes,
		maxResults: opts.MaxResults,
		tenants:    map[string]*tenantAuth{},
		metrics:    newMetrics(),

		maxBulkOps:     opts.MaxBulkOperations,
		maxBulkPayload: opts.MaxBulkPayload,
		patchLimits:    patch.Limits{MaxOperations: opts.MaxPatchOps, MaxMemberValues: opts.MaxPatchMembers},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
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
	for _, t := range append([]Tenant{{Name: DefaultTenant}}, opts.Tenants...) {
		ta := s.tenants[t.Name]
		if ta == nil {
			ta = &tenantAuth{name: t.Name}
			s.tenants[t.Name] = ta
		}
		ta.static = append(ta.static, t.TokenHashes...)
		if err := ta.configure(t, opts.Now, s.log); err != nil {
			return nil, err
		}
	}

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
	return s.logRequests(r), nil
}

// mountAPI registers one tenant's SCIM endpoints on sub. Methods are
// dispatched by the handlers themselves so a wrong method gets a SCIM 405.
func (s *server) mountAPI(sub *mux.Router) {
	sub.Use(s.authenticate)
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

// statusWriter records the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs one structured line per request: method, route template,
// status, latency and tenant; never tokens or attribute values.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := info.route
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.observe(info.tenant, route, r.Method, sw.status, elapsed)
		level := slog.LevelInfo
		if sw.status >= 500 {
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
			slog.String("tenant", info.tenant),
		)
	})
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
