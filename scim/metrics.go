package scim

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values that stand for many raw values, so that no client can grow
// the number of series (each one costs memory for the life of the process
// and bytes in every scrape).
const (
	// otherMethod replaces any HTTP method the server does not know.
	otherMethod = "OTHER"
	// unknownTenant replaces the name of a tenant that is not configured.
	// Tenant names cannot start with '_', so it never clashes with one.
	unknownTenant = "_unknown"
	// unmatchedRoute is the route of a request no route template matched.
	unmatchedRoute = "unmatched"
	// otherCode replaces a status code outside 100–599.
	otherCode = "other"
)

// knownMethods are the methods kept as label values: those of RFC 9110 and
// PATCH.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

// metrics are the server's Prometheus metrics, on a registry of its own (no
// global state), served at /metrics. Every label takes its value from a
// bounded set: methods from knownMethods, tenants from the configured ones,
// routes from the router's templates, codes from 100–599.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// tenants are the configured tenant names.
	tenants map[string]bool
	// tokenHash, if set, is the SHA-256 of the bearer token /metrics
	// requires.
	tokenHash *[32]byte
}

func newMetrics(tenants []string, tokenHash *[32]byte) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_http_requests_total",
			Help: "HTTP requests by tenant, route template, method and status code.",
		}, []string{"tenant", "route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimbridge_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		tenants:   map[string]bool{},
		tokenHash: tokenHash,
	}
	for _, t := range tenants {
		m.tenants[t] = true
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts one request. route must be a route template (or "" when
// none matched), never a raw path.
func (m *metrics) observe(tenant, route, method string, status int, d time.Duration) {
	route, method = m.routeLabel(route), methodLabel(method)
	m.requests.WithLabelValues(m.tenantLabel(tenant), route, method, codeLabel(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return otherMethod
}

// tenantLabel keeps "" (a request outside any tenant, such as /healthz)
// and configured tenants; any other name a client asked for becomes one
// value.
func (m *metrics) tenantLabel(tenant string) string {
	if tenant == "" || m.tenants[tenant] {
		return tenant
	}
	return unknownTenant
}

// routeLabel returns the route template, or unmatchedRoute. Templates come
// from the router (a fixed set), so a raw path never becomes a label.
func (m *metrics) routeLabel(route string) string {
	if route == "" {
		return unmatchedRoute
	}
	return route
}

func codeLabel(status int) string {
	if status < 100 || status > 599 {
		return otherCode
	}
	return strconv.Itoa(status)
}

// handler serves the metrics, behind the bearer token if one is set.
func (m *metrics) handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if m.tokenHash == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "A bearer token is required for /metrics.", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the metrics bearer token, compared
// as SHA-256 hashes in constant time.
func (m *metrics) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false
	}
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], m.tokenHash[:]) == 1
}
