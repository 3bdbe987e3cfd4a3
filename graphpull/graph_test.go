package graphpull

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/test/fakegraph"
)

// recorder is an Observer that keeps everything a round emitted, merges
// group observations as the engine would, and checks the round's order.
type recorder struct {
	t         *testing.T
	events    []string
	users     map[string]pull.User
	groups    map[string]*mergedGroup
	removals  []pull.Removal
	skips     []pull.Skip
	pages     map[store.Kind]int
	userSeen  bool
	failUsers error  // returned from User, to abort a round
	onUser    func() // called once, at the first user
	onGroup   func() // called once, at the first group
}

type mergedGroup struct {
	name     string
	obs      int
	complete bool
	members  map[string]bool
	nested   map[string]bool
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, users: map[string]pull.User{}, groups: map[string]*mergedGroup{}, pages: map[store.Kind]int{}}
}

func (r *recorder) User(_ context.Context, u pull.User) error {
	r.userSeen = true
	if r.onUser != nil {
		r.onUser()
		r.onUser = nil
	}
	r.events = append(r.events, "user:"+u.ObjectID)
	if r.failUsers != nil {
		return r.failUsers
	}
	r.users[u.ObjectID] = u
	return nil
}

func (r *recorder) Group(_ context.Context, g pull.Group) error {
	if r.userSeen {
		r.t.Errorf("group %s observed after a user", g.ObjectID)
	}
	if r.onGroup != nil {
		r.onGroup()
		r.onGroup = nil
	}
	r.events = append(r.events, "group:"+g.ObjectID)
	m := r.groups[g.ObjectID]
	if m == nil {
		m = &mergedGroup{members: map[string]bool{}, nested: map[string]bool{}}
		r.groups[g.ObjectID] = m
	}
	m.obs++
	if g.DisplayName != "" {
		m.name = g.DisplayName
	}
	m.complete = m.complete || g.MembersComplete
	for _, id := range g.Added {
		m.members[id] = true
	}
	for _, id := range g.Removed {
		delete(m.members, id)
	}
	for _, id := range g.Nested {
		m.nested[id] = true
	}
	return nil
}

func (r *recorder) Removed(_ context.Context, rem pull.Removal) error {
	if rem.Kind == store.Group && r.userSeen {
		r.t.Errorf("group removal %s observed after a user", rem.ObjectID)
	}
	r.events = append(r.events, fmt.Sprintf("removed:%s:%s:%s", rem.Kind, rem.ObjectID, rem.Reason))
	r.removals = append(r.removals, rem)
	return nil
}

func (r *recorder) Skip(_ context.Context, s pull.Skip) {
	r.events = append(r.events, fmt.Sprintf("skip:%s:%s:%s", s.Kind, s.ObjectID, s.Reason))
	r.skips = append(r.skips, s)
}

func (r *recorder) Page(_ context.Context, k store.Kind) { r.pages[k]++ }

func (g *mergedGroup) memberList() []string {
	var out []string
	for id := range g.members {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *recorder) removal(kind store.Kind, id string) (pull.RemovedReason, bool) {
	for _, rem := range r.removals {
		if rem.Kind == kind && rem.ObjectID == id {
			return rem.Reason, true
		}
	}
	return "", false
}

// seedDirectory: two managers' worth of users, a disabled one, one without
// a mail, a group with users, a device and a nested group.
func seedDirectory(s *fakegraph.Server) {
	s.PutUser(fakegraph.User{ID: "u-bob", UserPrincipalName: "bob@contoso.example", DisplayName: "Bob Boss", GivenName: "Bob", Surname: "Boss",
		Mail: "bob@contoso.example", MailNickname: "bob", EmployeeID: "100", Department: "Management"})
	s.PutUser(fakegraph.User{ID: "u-ada", UserPrincipalName: "ada@contoso.example", DisplayName: "Ada Lovelace", GivenName: "Ada", Surname: "Lovelace",
		JobTitle: "Analyst", Mail: "ada@contoso.example", MailNickname: "ada", PreferredLanguage: "en-GB",
		StreetAddress: "1 Way", City: "Redmond", State: "WA", PostalCode: "98052", Country: "US", OfficeLocation: "B1",
		BusinessPhones: []string{"+1 425 555 0101"}, MobilePhone: "+1 425 555 0100", FaxNumber: "+1 425 555 0199",
		EmployeeID: "701984", Department: "Sales", Manager: "u-bob"})
	s.PutUser(fakegraph.User{ID: "u-cy", UserPrincipalName: "cy@contoso.example", DisplayName: "Cy", Disabled: true, Manager: "u-bob"})
	s.PutUser(fakegraph.User{ID: "u-dee", UserPrincipalName: "dee@contoso.example", DisplayName: "Dee"})
	s.PutGroup(fakegraph.Group{ID: "g-ops", DisplayName: "Ops", Members: []fakegraph.Member{{ID: "u-cy", Type: fakegraph.TypeUser}}})
	s.PutGroup(fakegraph.Group{ID: "g-eng", DisplayName: "Eng", Members: []fakegraph.Member{
		{ID: "u-ada", Type: fakegraph.TypeUser}, {ID: "u-bob", Type: fakegraph.TypeUser}, {ID: "u-dee", Type: fakegraph.TypeUser},
		{ID: "dev-1", Type: fakegraph.TypeDevice}, {ID: "sp-1", Type: fakegraph.TypeServicePrincipal}, {ID: "g-ops", Type: fakegraph.TypeGroup},
	}})
}

func secretConfig(s *fakegraph.Server) Config {
	return Config{
		TenantID: s.TenantID(), ClientID: s.ClientID(), ClientSecret: s.ClientSecret(),
		AuthorityHost: s.AuthorityHost(), GraphBaseURL: s.GraphBaseURL(),
		// RootCAs, not HTTPClient: the production TLS path (system roots
		// plus extra CAs) for both the token and the Graph client.
		RootCAs: s.CertPool(),
	}
}

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFullThenIncrementalRound(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{PageSize: 2, MemberSplit: 2, EmptyPageEvery: 1})
	defer s.Close()
	seedDirectory(s)
	src := newSource(t, secretConfig(s))
	ctx := ctxT(t)

	rec := newRecorder(t)
	res, err := src.Read(ctx, pull.ReadRequest{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || len(res.Checkpoint) == 0 {
		t.Fatalf("first round: full %v checkpoint %q", res.Full, res.Checkpoint)
	}
	// Every Graph request carried a token (kiota was given the fake's host
	// as a valid host), and there were empty pages and several pages.
	for _, rq := range s.Requests() {
		if strings.HasPrefix(rq.Path, "/v1.0/") && !rq.Token {
			t.Fatalf("request without a token: %+v", rq)
		}
	}
	if rec.pages[store.User] < 3 || rec.pages[store.Group] < 2 {
		t.Fatalf("pages %v", rec.pages)
	}
	eng := rec.groups["g-eng"]
	if eng == nil || eng.name != "Eng" || !eng.complete || eng.obs < 2 {
		t.Fatalf("g-eng %+v (split over entries, complete in a full round)", eng)
	}
	if got := eng.memberList(); !reflect.DeepEqual(got, []string{"u-ada", "u-bob", "u-dee"}) {
		t.Fatalf("g-eng members %v: devices, service principals and (without Nested) groups dropped", got)
	}
	if len(eng.nested) != 0 {
		t.Fatalf("nested without Config.Nested: %v", eng.nested)
	}
	if len(rec.users) != 4 {
		t.Fatalf("users %v", rec.events)
	}
	ada := rec.users["u-ada"]
	want := map[string]any{
		"userName": "ada@contoso.example", "displayName": "Ada Lovelace", "title": "Analyst", "preferredLanguage": "en-GB",
		"externalId": "ada",
		"emails":     []any{map[string]any{"primary": true, "type": "work", "value": "ada@contoso.example"}},
		"name":       map[string]any{"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
		"addresses": []any{map[string]any{"type": "work", "streetAddress": "1 Way", "locality": "Redmond", "region": "WA",
			"postalCode": "98052", "country": "US", "formatted": "B1"}},
		"phoneNumbers": []any{
			map[string]any{"type": "work", "value": "+1 425 555 0101"},
			map[string]any{"type": "mobile", "value": "+1 425 555 0100"},
			map[string]any{"type": "fax", "value": "+1 425 555 0199"},
		},
		pull.EnterpriseURN: map[string]any{"employeeNumber": "701984", "department": "Sales"},
	}
	if !reflect.DeepEqual(ada.Attrs, want) {
		t.Fatalf("ada\n got %#v\nwant %#v", ada.Attrs, want)
	}
	if !ada.Enabled || ada.Manager == nil || *ada.Manager != "u-bob" {
		t.Fatalf("ada enabled/manager: %+v", ada)
	}
	if bob := rec.users["u-bob"]; bob.Manager == nil || *bob.Manager != "" {
		t.Fatal("full round: a user without manager@delta has no manager (pointer to \"\")")
	}
	if rec.users["u-cy"].Enabled {
		t.Fatal("disabled user observed as enabled")
	}

	// Edits between rounds.
	ada2, _ := s.User("u-ada")
	ada2.JobTitle, ada2.Manager = "Lead", ""
	s.PutUser(ada2)
	dee, _ := s.User("u-dee")
	dee.Manager = "u-ada"
	s.PutUser(dee)
	s.DeleteUser("u-cy", false) // soft
	s.DeleteUser("u-bob", true) // hard
	s.PutUser(fakegraph.User{ID: "u-eve", UserPrincipalName: "eve@contoso.example", DisplayName: "Eve"})
	s.AddMembers("g-eng", "u-eve")
	s.RemoveMembers("g-eng", "u-dee")
	s.DeleteGroup("g-ops", true)

	rec2 := newRecorder(t)
	res2, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res.Checkpoint}, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Full {
		t.Fatal("incremental round reported full")
	}
	if r, ok := rec2.removal(store.User, "u-cy"); !ok || r != pull.RemovedChanged {
		t.Fatalf("soft delete: %v %v (%v)", r, ok, rec2.events)
	}
	if r, ok := rec2.removal(store.User, "u-bob"); !ok || r != pull.RemovedDeleted {
		t.Fatalf("hard delete: %v %v", r, ok)
	}
	if r, ok := rec2.removal(store.Group, "g-ops"); !ok || r != pull.RemovedDeleted {
		t.Fatalf("group delete: %v %v", r, ok)
	}
	eng2 := rec2.groups["g-eng"]
	if eng2 == nil || eng2.complete || eng2.name != "Eng" {
		t.Fatalf("incremental g-eng %+v", eng2)
	}
	if got := eng2.memberList(); !slices.Contains(got, "u-eve") || slices.Contains(got, "u-dee") {
		t.Fatalf("incremental g-eng changes: %v", got)
	}
	if u := rec2.users["u-ada"]; u.Attrs["title"] != "Lead" || u.Manager == nil || *u.Manager != "" {
		t.Fatalf("ada after edit: %+v", u)
	}
	if u := rec2.users["u-dee"]; u.Manager == nil || *u.Manager != "u-ada" {
		t.Fatalf("dee's new manager: %+v", u)
	}
	if _, ok := rec2.users["u-eve"]; !ok {
		t.Fatal("new user not observed")
	}

	// Nothing changed: an empty round, same shape of checkpoint.
	rec3 := newRecorder(t)
	res3, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res2.Checkpoint}, rec3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec3.users)+len(rec3.groups)+len(rec3.removals) != 0 || res3.Full {
		t.Fatalf("unchanged round: %v", rec3.events)
	}
	// --full ignores the checkpoint.
	rec4 := newRecorder(t)
	res4, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res3.Checkpoint, Full: true}, rec4)
	if err != nil || !res4.Full || len(rec4.users) != 3 || !rec4.groups["g-eng"].complete {
		t.Fatalf("full round: %v %+v %v", err, res4, rec4.events)
	}
}

func TestNestedGroups(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	cfg := secretConfig(s)
	cfg.Nested = true
	// The tests-only HTTPClient path: its transport under Graph's middleware
	// and for the token requests.
	cfg.RootCAs, cfg.HTTPClient = nil, s.Client()
	rec := newRecorder(t)
	if _, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if !rec.groups["g-eng"].nested["g-ops"] || len(rec.groups["g-eng"].nested) != 1 {
		t.Fatalf("nested %v", rec.groups["g-eng"].nested)
	}
}

func TestCertificateCredential(t *testing.T) {
	c := newAppCert(t)
	for name, pfx := range map[string][]byte{
		"openssl 3 default pfx": openSSLPFX(t, c, "secret"),
		"openssl legacy pfx":    openSSLPFX(t, c, "secret", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"),
	} {
		t.Run(name, func(t *testing.T) {
			s := fakegraph.New(fakegraph.Options{ClientCertificates: []*x509.Certificate{c.cert}})
			defer s.Close()
			seedDirectory(s)
			cfg := secretConfig(s)
			cfg.ClientSecret, cfg.Certificate, cfg.CertificatePassword = "", pfx, "secret"
			rec := newRecorder(t)
			if _, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
				t.Fatal(err)
			}
			if len(rec.users) != 4 || s.TokensIssued() == 0 {
				t.Fatalf("users %d tokens %d", len(rec.users), s.TokensIssued())
			}
		})
	}
	// A certificate the app registration does not know: Entra's words.
	other := newAppCert(t)
	s := fakegraph.New(fakegraph.Options{ClientCertificates: []*x509.Certificate{c.cert}})
	defer s.Close()
	cfg := secretConfig(s)
	cfg.ClientSecret, cfg.Certificate = "", append(append([]byte{}, other.certPEM...), other.keyPEM...)
	_, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("unknown certificate: %v", err)
	}
}

func TestResyncRestartsFullRound(t *testing.T) {
	for name, fault := range map[string]func(*fakegraph.Server){
		"410 Gone":          (*fakegraph.Server).GoneNext,
		"syncStateNotFound": (*fakegraph.Server).SyncStateNotFoundNext,
		"resyncRequired":    (*fakegraph.Server).ResyncRequiredNext,
	} {
		t.Run(name, func(t *testing.T) {
			s := fakegraph.New(fakegraph.Options{PageSize: 2})
			defer s.Close()
			seedDirectory(s)
			src := newSource(t, secretConfig(s))
			ctx := ctxT(t)
			res, err := src.Read(ctx, pull.ReadRequest{}, newRecorder(t))
			if err != nil {
				t.Fatal(err)
			}
			s.DeleteUser("u-dee", true)
			fault(s)
			rec := newRecorder(t)
			res2, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res.Checkpoint}, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !res2.Full || len(rec.users) != 3 || !rec.groups["g-eng"].complete {
				t.Fatalf("restart: full %v users %d events %v", res2.Full, len(rec.users), rec.events)
			}
			if s.PendingFaults() != 0 {
				t.Fatal("fault not served")
			}
			if name == "410 Gone" {
				// The restart follows the 410's Location (a fresh round of
				// the same query), not a query of its own.
				rqs := s.Requests()
				for i, rq := range rqs {
					if rq.Status != http.StatusGone {
						continue
					}
					for _, next := range rqs[i+1:] {
						if next.Path == rq.Path {
							if !strings.HasPrefix(next.Query, "$deltatoken=") || next.Status != http.StatusOK {
								t.Fatalf("after 410 on %s: %+v", rq.Path, next)
							}
							break
						}
					}
				}
			}
			// The new checkpoint works incrementally.
			rec3 := newRecorder(t)
			if res3, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res2.Checkpoint}, rec3); err != nil || res3.Full || len(rec3.events) != 0 {
				t.Fatalf("after restart: %v %+v %v", err, res3, rec3.events)
			}
		})
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	src := newSource(t, secretConfig(s))
	s.ThrottleNext(2, time.Second)
	s.FailNext(http.StatusServiceUnavailable)
	start := time.Now()
	rec := newRecorder(t)
	if _, err := src.Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.users) != 4 {
		t.Fatalf("users %d", len(rec.users))
	}
	var throttled int
	for _, rq := range s.Requests() {
		if rq.Status == http.StatusTooManyRequests || rq.Status == http.StatusServiceUnavailable {
			throttled++
		}
	}
	if throttled != 3 || time.Since(start) < 3*time.Second {
		t.Fatalf("%d throttled answers in %v: Retry-After not honoured", throttled, time.Since(start))
	}
}

func TestThrottlingRetriesAreBounded(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	s.ThrottleNext(50, time.Second)
	_, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "retries") {
		t.Fatalf("endless throttling: %v", err)
	}
	t.Logf("endless throttling: %v", err)
	if left := s.PendingFaults(); left != 50-6 {
		t.Fatalf("%d throttled answers served, want 6 (1 + 5 retries)", 50-left)
	}
}

func TestTokenRenewedMidRound(t *testing.T) {
	// Tokens that expire within azidentity's refresh margin are renewed
	// before each use: a round over many pages keeps going.
	s := fakegraph.New(fakegraph.Options{PageSize: 1, TokenLifetime: 2 * time.Second})
	defer s.Close()
	seedDirectory(s)
	rec := newRecorder(t)
	if _, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.users) != 4 || s.TokensIssued() < 2 {
		t.Fatalf("users %d, tokens issued %d", len(rec.users), s.TokensIssued())
	}
}

func TestReadableErrors(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	ctx := ctxT(t)

	cfg := secretConfig(s)
	cfg.ClientSecret = "wrong"
	_, err := newSource(t, cfg).Read(ctx, pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "AADSTS7000215: Invalid client secret provided.") ||
		strings.Contains(err.Error(), "Trace ID") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("wrong secret: %v", err)
	}
	t.Logf("wrong secret: %v", err)

	cfg = secretConfig(s)
	cfg.TenantID = "33333333-3333-4333-8333-333333333333"
	_, err = newSource(t, cfg).Read(ctx, pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "AADSTS90002") || !strings.Contains(err.Error(), "unknown tenant") {
		t.Fatalf("unknown tenant: %v", err)
	}
	t.Logf("unknown tenant: %v", err)

	s.SetForbidGroups(true)
	_, err = newSource(t, secretConfig(s)).Read(ctx, pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "GroupMember.Read.All") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("403: %v", err)
	}
	t.Logf("403: %v", err)
	s.SetForbidGroups(false)

	// A truncated page is read again (as plain JSON); truncated twice, the
	// round fails.
	s.MalformedNext()
	rec := newRecorder(t)
	if _, err = newSource(t, secretConfig(s)).Read(ctx, pull.ReadRequest{}, rec); err != nil || len(rec.users) != 4 {
		t.Fatalf("truncated once: %v, %d users", err, len(rec.users))
	}
	s.MalformedNext()
	s.MalformedNext()
	if _, err = newSource(t, secretConfig(s)).Read(ctx, pull.ReadRequest{}, newRecorder(t)); err == nil || !strings.Contains(err.Error(), "not a delta page") {
		t.Fatalf("truncated twice: %v", err)
	}
	t.Logf("malformed page: %v", err)

	s.FailNext(http.StatusInternalServerError)
	if _, err = newSource(t, secretConfig(s)).Read(ctx, pull.ReadRequest{}, newRecorder(t)); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("500: %v", err)
	}
	t.Logf("500: %v", err)
}

func TestUnreachableHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for name, cfg := range map[string]Config{
		"authority": {TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: "https://" + addr + "/", GraphBaseURL: "https://" + addr + "/v1.0"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("unreachable: %q", err)
			}
			t.Logf("unreachable: %v", err)
			if time.Since(start) > 30*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}

	// Graph goes away mid-way (after the token): the round fails cleanly.
	s := fakegraph.New(fakegraph.Options{})
	seedDirectory(s)
	src := newSource(t, secretConfig(s))
	if _, err := src.Read(ctxT(t), pull.ReadRequest{}, newRecorder(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = src.Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("graph down: %v", err)
	}
	t.Logf("graph down: %v", err)
}

func TestBadInputIsSkipped(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	s.PutUser(fakegraph.User{ID: "u-noupn", DisplayName: "No UPN"})
	rec := newRecorder(t)
	if _, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sk := range rec.skips {
		if sk.Kind == store.User && sk.ObjectID == "u-noupn" && sk.Reason == "no userPrincipalName" {
			found = true
		}
	}
	if !found || len(rec.users) != 4 {
		t.Fatalf("skips %+v users %d", rec.skips, len(rec.users))
	}
}

// rewriter edits response bodies on their way to the client, to serve
// entries the fake would never write.
type rewriter struct {
	base     http.RoundTripper
	from, to string
}

func (rw rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rw.base.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/v1.0/") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte(rw.from), []byte(rw.to))
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestWrongTypedEntryIsSkipped(t *testing.T) {
	// kiota fails a whole page on one property of the wrong JSON type; the
	// page is read again as plain JSON and only that user is skipped.
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	cfg := secretConfig(s)
	cfg.RootCAs, cfg.HTTPClient = nil, &http.Client{Transport: rewriter{base: s.Client().Transport, from: `"displayName":"Dee"`, to: `"displayName":42`}}
	rec := newRecorder(t)
	if _, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.users) != 3 || len(rec.skips) != 1 || rec.skips[0].ObjectID != "u-dee" ||
		rec.skips[0].Reason != "displayName is float64, not a string" {
		t.Fatalf("users %d skips %+v", len(rec.users), rec.skips)
	}
	if rec.users["u-ada"].Manager == nil || *rec.users["u-ada"].Manager != "u-bob" {
		t.Fatal("annotations lost on the plain JSON path")
	}
}

func TestObserverErrorAbortsRound(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	rec := newRecorder(t)
	rec.failUsers = errors.New("store is down")
	_, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec)
	if err == nil || !errors.Is(err, rec.failUsers) {
		t.Fatalf("%v", err)
	}
}

func TestUsersByID(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	rec := newRecorder(t)
	if err := newSource(t, secretConfig(s)).Users(ctxT(t), []string{"u-ada", "u-bob", "u-gone"}, rec); err != nil {
		t.Fatal(err)
	}
	ada := rec.users["u-ada"]
	if ada.Attrs["userName"] != "ada@contoso.example" || ada.Manager == nil || *ada.Manager != "u-bob" {
		t.Fatalf("ada %+v", ada)
	}
	if bob := rec.users["u-bob"]; bob.Manager == nil || *bob.Manager != "" {
		t.Fatalf("bob has no manager: %+v", bob)
	}
	if r, ok := rec.removal(store.User, "u-gone"); !ok || r != pull.RemovedDeleted {
		t.Fatalf("unknown id: %v", rec.events)
	}
}

func TestCheckpointForAnotherGraphIsFullRound(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	rec := newRecorder(t)
	cp := []byte(`{"groups":"https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=x","users":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=y"}`)
	res, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{Checkpoint: cp}, rec)
	if err != nil || !res.Full || len(rec.users) != 4 {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestScaleRound(t *testing.T) {
	const users, groups, memberships = 3000, 30, 9000
	s := fakegraph.New(fakegraph.Options{Scale: fakegraph.Scale{Users: users, Groups: groups, Memberships: memberships}, MemberSplit: 100})
	defer s.Close()
	rec := newRecorder(t)
	res, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || len(rec.users) != users || len(rec.groups) != groups {
		t.Fatalf("users %d groups %d", len(rec.users), len(rec.groups))
	}
	n := 0
	for _, g := range rec.groups {
		n += len(g.members)
		if !g.complete || g.name == "" {
			t.Fatalf("group %+v", g)
		}
	}
	if n != memberships {
		t.Fatalf("memberships %d, want %d", n, memberships)
	}
	managers := 0
	for _, u := range rec.users {
		if u.Manager == nil {
			t.Fatal("full round user without a manager verdict")
		}
		if *u.Manager != "" {
			if _, ok := rec.users[*u.Manager]; !ok {
				t.Fatalf("manager %s not among the users", *u.Manager)
			}
			managers++
		}
	}
	if managers != users-1 {
		t.Fatalf("managers %d", managers)
	}
}

func TestUntrustedServerCertificate(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	cfg := secretConfig(s)
	cfg.RootCAs = x509.NewCertPool() // trusts nothing extra: the fake's self-signed certificate is unknown
	_, err := newSource(t, cfg).Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "x509") {
		t.Fatalf("untrusted: %v", err)
	}
	t.Logf("untrusted: %v", err)
}

func TestResyncMidRound(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{PageSize: 1})
	defer s.Close()
	seedDirectory(s)
	src := newSource(t, secretConfig(s))
	ctx := ctxT(t)
	res, err := src.Read(ctx, pull.ReadRequest{}, newRecorder(t))
	if err != nil {
		t.Fatal(err)
	}
	s.PutUser(fakegraph.User{ID: "u-x", UserPrincipalName: "x@contoso.example"})
	s.PutGroup(fakegraph.Group{ID: "g-x", DisplayName: "X"})
	s.PutGroup(fakegraph.Group{ID: "g-y", DisplayName: "Y"}) // two group pages

	// Graph refuses the groups stream on its second page: no user was
	// observed yet, so the round restarts as a full one.
	rec := newRecorder(t)
	rec.onGroup = s.GoneNext
	res2, err := src.Read(ctx, pull.ReadRequest{Checkpoint: res.Checkpoint}, rec)
	if err != nil || !res2.Full || len(rec.users) != 5 || s.PendingFaults() != 0 {
		t.Fatalf("groups refused mid-stream: %v full %v %v", err, res2.Full, rec.events)
	}

	// Refused after users were observed: the round fails (the engine keeps
	// the old checkpoint; the next round starts over).
	s.PutUser(fakegraph.User{ID: "u-y", UserPrincipalName: "y@contoso.example"})
	s.PutUser(fakegraph.User{ID: "u-z", UserPrincipalName: "z@contoso.example"})
	rec = newRecorder(t)
	rec.onUser = s.GoneNext
	_, err = src.Read(ctx, pull.ReadRequest{Checkpoint: res2.Checkpoint}, rec)
	if !errors.Is(err, ErrResyncRequired) {
		t.Fatalf("users refused mid-stream: %v", err)
	}
	t.Logf("users refused mid-stream: %v", err)
}

func TestTokenRejectedMidRoundIsRenewed(t *testing.T) {
	// Graph stops accepting the token azidentity still holds as valid: the
	// request is sent again with a fresh token and the round goes on.
	s := fakegraph.New(fakegraph.Options{PageSize: 1})
	defer s.Close()
	seedDirectory(s)
	rec := newRecorder(t)
	rec.onUser = s.ExpireTokens
	if _, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.users) != 4 || s.TokensIssued() != 2 {
		t.Fatalf("users %d tokens %d", len(rec.users), s.TokensIssued())
	}
	unauthorized := 0
	for _, rq := range s.Requests() {
		if rq.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Fatalf("%d 401s", unauthorized)
	}
}

func TestResyncRestartsAreBounded(t *testing.T) {
	s := fakegraph.New(fakegraph.Options{})
	defer s.Close()
	seedDirectory(s)
	for range 10 {
		s.GoneNext()
	}
	_, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, newRecorder(t))
	if !errors.Is(err, ErrResyncRequired) || !strings.Contains(err.Error(), "restarts") {
		t.Fatalf("%v", err)
	}
	if served := 10 - s.PendingFaults(); served != 3 {
		t.Fatalf("%d 410s served, want 3 (a round and two restarts)", served)
	}
}

func TestRemovedInInitialRound(t *testing.T) {
	// Graph may list soft-deleted objects in a first round too.
	s := fakegraph.New(fakegraph.Options{RemovedInInitial: true})
	defer s.Close()
	seedDirectory(s)
	s.DeleteUser("u-dee", false)
	s.DeleteGroup("g-ops", false)
	rec := newRecorder(t)
	if _, err := newSource(t, secretConfig(s)).Read(ctxT(t), pull.ReadRequest{}, rec); err != nil {
		t.Fatal(err)
	}
	if r, ok := rec.removal(store.User, "u-dee"); !ok || r != pull.RemovedChanged {
		t.Fatalf("user: %v", rec.events)
	}
	if r, ok := rec.removal(store.Group, "g-ops"); !ok || r != pull.RemovedChanged {
		t.Fatalf("group: %v", rec.events)
	}
	if _, ok := rec.users["u-dee"]; ok || len(rec.users) != 3 {
		t.Fatalf("users %v", rec.events)
	}
}
