// Package fakegraph is a fake Microsoft Graph for tests and demos: a TLS
// server on 127.0.0.1 with the Entra token endpoint (client secret and
// certificate assertions, so the real azidentity flows run end to end) and
// the users and groups delta queries, with absolute next and delta links
// back to itself, a directory that tests edit between rounds, scripted
// faults (429, 410, syncStateNotFound, 403, any status) and a scale mode
// that generates a large directory page by page.
//
// Pointing azidentity at it: Cloud.ActiveDirectoryAuthorityHost =
// AuthorityHost(), DisableInstanceDiscovery, Transport = Client(); the Graph
// SDK: base URL GraphBaseURL(), valid host "127.0.0.1".
//
// Token lifetimes: MSAL treats a cached token that expires within five
// minutes as expired, so a TokenLifetime of 5m+2s makes a real client renew
// its token after two seconds (a token renewed mid-round), while
// ExpireTokens invalidates tokens the client still holds as valid (Graph
// answers 401 InvalidAuthenticationToken until the client gets a new one).
//
// Rounds are stateless on the server: next and delta links carry opaque
// tokens holding the query ($select), the version the round started from
// and the position; every edit takes a new version, so a deltaLink returns
// what changed after it, and several clients can page at once.
package fakegraph

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Defaults for the Options left empty.
const (
	DefaultTenantID     = "11111111-1111-4111-8111-111111111111"
	DefaultClientID     = "22222222-2222-4222-8222-222222222222"
	DefaultClientSecret = "fake-graph-secret"
	DefaultPageSize     = 100
)

// Options configure a Server. The zero value is a small empty directory
// with the default tenant, client and secret.
type Options struct {
	TenantID     string // default DefaultTenantID
	ClientID     string // default DefaultClientID
	ClientSecret string // default DefaultClientSecret; accepted for ClientID
	// ClientCertificates are the app's certificates: a client assertion
	// signed with one of their keys (RS256 or PS256, x5t or x5t#S256
	// naming it) is accepted instead of the secret.
	ClientCertificates []*x509.Certificate

	PageSize      int           // entries per delta page; default DefaultPageSize
	TokenLifetime time.Duration // access token lifetime; default 1h
	// MemberSplit is the most members@delta entries one group entry
	// carries: a bigger group is returned as several consecutive entries
	// (on one page or spanning pages), as Graph does. 0: no split.
	MemberSplit int
	// EmptyPageEvery > 0 inserts an empty page (value [] with a nextLink)
	// after every EmptyPageEvery pages of a round.
	EmptyPageEvery int
	// ForbidGroups answers group requests with 403
	// Authorization_RequestDenied, as Graph does for an app without
	// GroupMember.Read.All. SetForbidGroups changes it later.
	ForbidGroups bool
	// RemovedInInitial lists soft-deleted users and groups in initial
	// rounds too, as {"id":…,"@removed":{"reason":"changed"}} (Graph may).
	RemovedInInitial bool
	Scale            Scale // generated directory; zero: none
	// Listen is the address to serve on; default 127.0.0.1:0.
	Listen string
}

// Server is a running fake Graph. All methods are safe for concurrent use.
type Server struct {
	ts   *httptest.Server
	opts Options

	mu           sync.Mutex
	dir          *directory
	tokens       map[string]time.Time // access token -> expiry
	tokensIssued int
	faults       []fault
	forbidGroups bool

	// logMu guards the request log apart from mu: a response is logged
	// while handlers still hold mu.
	logMu    sync.Mutex
	requests []Request
	counts   map[string]int

	churnAfter string // where Churn goes on from
	replay     bool   // the next incremental deltaLink replays its round
}

// Request is one request the server answered, for tests to inspect.
type Request struct {
	Method string
	Path   string // normalised: "/v1.0/users/delta" for "/v1.0/users/delta()" too
	Query  string // raw query
	Status int
	Token  bool // carried a valid access token
}

// New starts a fake Graph. It panics when the listen address cannot be
// bound, like httptest.NewServer.
func New(opts Options) *Server {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	s := &Server{
		opts:         opts,
		dir:          newDirectory(newGenerator(opts.Scale)),
		tokens:       map[string]time.Time{},
		forbidGroups: opts.ForbidGroups,
		counts:       map[string]int{},
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	if opts.Listen != "" && opts.Listen != "127.0.0.1:0" {
		l, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			panic(fmt.Sprintf("fakegraph: listen on %s: %v", opts.Listen, err))
		}
		s.ts.Listener.Close()
		s.ts.Listener = l
	}
	s.ts.StartTLS()
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// URL is the server's base URL, https://127.0.0.1:port.
func (s *Server) URL() string { return s.ts.URL }

// GraphBaseURL is the Graph base URL, URL()+"/v1.0".
func (s *Server) GraphBaseURL() string { return s.ts.URL + "/v1.0" }

// AuthorityHost is the Entra authority host, URL()+"/": the token endpoint
// is AuthorityHost()+"{tenant}/oauth2/v2.0/token".
func (s *Server) AuthorityHost() string { return s.ts.URL + "/" }

// TokenEndpoint is the tenant's token endpoint.
func (s *Server) TokenEndpoint() string {
	return s.ts.URL + "/" + s.opts.TenantID + "/oauth2/v2.0/token"
}

// TenantID, ClientID and ClientSecret are the credentials the server accepts.
func (s *Server) TenantID() string     { return s.opts.TenantID }
func (s *Server) ClientID() string     { return s.opts.ClientID }
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// CertPool holds the server's certificate.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ts.Certificate())
	return p
}

// Certificate is the server's TLS certificate (write it as a CA file).
func (s *Server) Certificate() *x509.Certificate { return s.ts.Certificate() }

// PutUser creates, replaces or restores a user.
func (s *Server) PutUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.putUser(u)
}

// DeleteUser deletes a user: soft (restorable, @removed reason "changed")
// or hard (reason "deleted"). The user leaves every group and its reports
// lose their manager. Unknown ids are ignored.
func (s *Server) DeleteUser(id string, hard bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.deleteUser(id, hard)
}

// PutGroup creates, replaces or restores a group with exactly g.Members
// as its members (members with an empty Type resolve like AddMembers).
func (s *Server) PutGroup(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.putGroup(g)
}

// DeleteGroup deletes a group, soft or hard; it leaves the groups it was
// a member of.
func (s *Server) DeleteGroup(id string, hard bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir.deleteGroup(id, hard)
}

// AddMembers adds direct members to a group by id. A member's type is that
// of the known object with the id: a group, a device, contact or service
// principal seen in AddMemberObjects or PutGroup, else a user. It panics
// when the group does not exist (a broken test script).
func (s *Server) AddMembers(groupID string, memberIDs ...string) {
	ms := make([]Member, len(memberIDs))
	for i, id := range memberIDs {
		ms[i] = Member{ID: id}
	}
	s.AddMemberObjects(groupID, ms...)
}

// AddMemberObjects adds typed direct members (devices, contacts, service
// principals, nested groups, users).
func (s *Server) AddMemberObjects(groupID string, members ...Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dir.addMembers(groupID, members) {
		panic("fakegraph: AddMembers: no group " + groupID)
	}
}

// RemoveMembers removes direct members from a group; ids that are not
// members are ignored. It panics when the group does not exist.
func (s *Server) RemoveMembers(groupID string, memberIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dir.removeMembers(groupID, memberIDs) {
		panic("fakegraph: RemoveMembers: no group " + groupID)
	}
}

// User returns the current state of a live user.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.dir.lookupUser(id, false)
	if r == nil || !r.live {
		return User{}, false
	}
	return r.u, true
}

// Group returns the current state of a live group with its members ordered
// by id.
func (s *Server) Group(id string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.dir.lookupGroup(id, false)
	if r == nil || !r.live {
		return Group{}, false
	}
	g := r.g
	for _, m := range r.sortedMembers() {
		g.Members = append(g.Members, Member{ID: m.id, Type: m.typ})
	}
	return g, true
}

// SetForbidGroups switches the missing-permission mode for groups.
func (s *Server) SetForbidGroups(forbid bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidGroups = forbid
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests were made to a normalised path, e.g.
// "/v1.0/users/delta" or "/{tenant}/oauth2/v2.0/token".
func (s *Server) Count(path string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.counts[path]
}

// TokensIssued is the number of access tokens issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensIssued
}

// ExpireTokens makes every access token issued so far expired: the next
// Graph call with one of them gets 401 InvalidAuthenticationToken.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for t := range s.tokens {
		s.tokens[t] = past
	}
}

// logWriter records the request in the log when its status is written,
// before the client can see the response, so that a test that reads Count
// or Requests right after a response finds it there.
type logWriter struct {
	http.ResponseWriter
	s       *Server
	req     Request
	logged  bool
	tokenOK bool
}

func (w *logWriter) WriteHeader(code int) {
	w.log(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.log(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func (w *logWriter) log(code int) {
	if w.logged {
		return
	}
	w.logged = true
	w.req.Status, w.req.Token = code, w.tokenOK
	w.s.logMu.Lock()
	w.s.counts[w.req.Path]++
	w.s.requests = append(w.s.requests, w.req)
	w.s.logMu.Unlock()
}

func normalisePath(p string) string {
	p = strings.TrimSuffix(p, "/")
	p = strings.TrimSuffix(p, "()")
	p = strings.Replace(p, "/microsoft.graph.delta", "/delta", 1)
	return p
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := normalisePath(r.URL.Path)
	lw := &logWriter{ResponseWriter: w, s: s, req: Request{Method: r.Method, Path: path, Query: r.URL.RawQuery}}
	switch {
	case strings.HasPrefix(path, "/v1.0/"):
		s.serveGraph(lw, r, path)
	case strings.HasPrefix(path, "/_fakegraph/"):
		s.serveControl(lw, r, path)
	default:
		s.serveLogin(lw, r, path)
	}
	lw.log(http.StatusOK)
}
