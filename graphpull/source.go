package graphpull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// Source reads one tenant's directory from Microsoft Graph. It implements
// pull.Source; the engine calls Read at most once at a time.
type Source struct {
	cfg     Config
	client  *msgraphsdk.GraphServiceClient
	baseURL *url.URL // Graph base URL with its version path
	log     *slog.Logger
}

// New validates cfg and builds the Graph client: the app's credential
// (client secret or certificate) against the cloud's authority, Graph's
// HTTP pipeline with bounded retries, both over TLS that trusts the system
// roots plus cfg.RootCAs. Nothing is requested until the first Read.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	authority, base, scope := cfg.endpoints()
	au, err := url.Parse(authority)
	if err != nil {
		return nil, fmt.Errorf("graph.authorityHost: %w", err)
	}
	bu, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("graph.graphBaseURL: %w", err)
	}
	tokenTransport, err := baseTransport(cfg, au.Hostname())
	if err != nil {
		return nil, err
	}
	graphTransport, err := baseTransport(cfg, bu.Hostname())
	if err != nil {
		return nil, err
	}
	cred, err := newCredential(cfg, authority, &http.Client{Transport: tokenTransport})
	if err != nil {
		return nil, err
	}
	renewing := &renewingCredential{inner: cred}
	hc, err := graphHTTPClient(graphTransport, reauthHandler{cred: renewing, scope: scope})
	if err != nil {
		return nil, err
	}
	client, err := newGraphClient(renewing, base, scope, hc)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, client: client, baseURL: bu, log: log}, nil
}

// Kind is store.SourcePullGraph.
func (s *Source) Kind() store.Source { return store.SourcePullGraph }

// checkpoint is what a round hands back: the delta links that the next
// incremental round resumes from.
type checkpoint struct {
	Groups string `json:"groups"`
	Users  string `json:"users"`
}

// maxRestarts bounds how often one Read restarts as a full round when
// Graph keeps refusing its links.
const maxRestarts = 2

// Read runs one round (see pull.Source): groups first, then users, each
// from its delta link in the checkpoint or from the start. When Graph
// refuses a link (410 Gone, syncStateNotFound, resyncRequired) before any
// user was observed, the round restarts as a full one (Result.Full), from
// the 410's Location when it names a Graph URL. An unusable checkpoint
// (not ours, or for another Graph host) also makes a full round.
func (s *Source) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	var start checkpoint
	full := true
	if !req.Full && len(req.Checkpoint) > 0 {
		cp, err := s.parseCheckpoint(req.Checkpoint)
		if err != nil {
			s.log.Warn("graph: stored checkpoint unusable, reading everything", "err", err)
		} else {
			start, full = cp, false
		}
	}
	for restarts := 0; ; restarts++ {
		r := &round{src: s, obs: obs, full: full, names: map[string]string{}}
		res, err := r.run(ctx, start)
		var rs *resyncError
		if !errors.As(err, &rs) {
			return res, err
		}
		switch {
		case r.usersSeen:
			return pull.Result{}, fmt.Errorf("%w; users were already observed, so this round is abandoned: run again (or with --full)", rs)
		case restarts >= maxRestarts:
			return pull.Result{}, fmt.Errorf("%w; still refused after %d full restarts", rs, restarts)
		}
		s.log.Warn("graph: delta link refused, restarting as a full round", "stream", rs.what, "reason", rs.reason, "location", rs.location)
		full, start = true, checkpoint{}
		if loc := s.onGraph(rs.location); loc != "" {
			if rs.what == "groups" {
				start.Groups = loc
			} else {
				start.Users = loc
			}
		}
	}
}

func (s *Source) parseCheckpoint(b []byte) (checkpoint, error) {
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return cp, fmt.Errorf("not a graph checkpoint: %w", err)
	}
	if s.onGraph(cp.Groups) == "" || s.onGraph(cp.Users) == "" {
		return cp, fmt.Errorf("delta links %q, %q are not under %s", cp.Groups, cp.Users, s.baseURL)
	}
	return cp, nil
}

// onGraph returns link (resolved against the base URL) when it is under
// the configured Graph base URL, else "": kiota would send a link to any
// other host without a token, and a link we did not get from this Graph is
// not one to follow.
func (s *Source) onGraph(link string) string {
	if link == "" {
		return ""
	}
	u, err := s.baseURL.Parse(link)
	if err != nil || u.Scheme != s.baseURL.Scheme || !strings.EqualFold(u.Host, s.baseURL.Host) ||
		!strings.HasPrefix(u.Path, strings.TrimSuffix(s.baseURL.Path, "/")+"/") {
		return ""
	}
	return u.String()
}

// round is one pass over both streams.
type round struct {
	src       *Source
	obs       pull.Observer
	full      bool
	usersSeen bool              // a user observation was emitted: no restart any more
	names     map[string]string // group id -> displayName seen this round, for split groups' later entries
}

// page is one delta page in JSON form.
type page struct {
	objs        []map[string]any
	malformed   int // entries that are not JSON objects (rawPage)
	next, delta string
}

func (r *round) run(ctx context.Context, start checkpoint) (pull.Result, error) {
	// The first page of both streams is read before anything is emitted,
	// so that a refused users link restarts the round before the engine
	// has seen a single observation.
	gp, err := r.src.groupsPage(ctx, start.Groups)
	if err != nil {
		return pull.Result{}, err
	}
	up, err := r.src.usersPage(ctx, start.Users)
	if err != nil {
		return pull.Result{}, err
	}
	var cp checkpoint
	if cp.Groups, err = r.stream(ctx, store.Group, gp, r.src.groupsPage, r.group); err != nil {
		return pull.Result{}, err
	}
	if cp.Users, err = r.stream(ctx, store.User, up, r.src.usersPage, r.user); err != nil {
		return pull.Result{}, err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return pull.Result{}, fmt.Errorf("graph checkpoint: %w", err)
	}
	return pull.Result{Checkpoint: b, Full: r.full}, nil
}

// stream emits p and every page after it, following nextLinks (empty pages
// included) until a page carries the deltaLink, which it returns.
func (r *round) stream(ctx context.Context, kind store.Kind, p page, fetch func(context.Context, string) (page, error),
	emit func(context.Context, map[string]any) error) (string, error) {
	seen := map[string]bool{}
	for {
		r.obs.Page(ctx, kind)
		for range p.malformed {
			r.obs.Skip(ctx, pull.Skip{Kind: kind, Reason: "malformed entry (not a JSON object)"})
		}
		for _, o := range p.objs {
			if err := emit(ctx, o); err != nil {
				return "", err
			}
		}
		if p.next == "" {
			if p.delta == "" {
				return "", fmt.Errorf("graph: %s delta page without @odata.nextLink or @odata.deltaLink", kind)
			}
			if r.src.onGraph(p.delta) == "" {
				return "", fmt.Errorf("graph: %s deltaLink %q is not under %s", kind, p.delta, r.src.baseURL)
			}
			return p.delta, nil
		}
		next := r.src.onGraph(p.next)
		if next == "" {
			return "", fmt.Errorf("graph: %s nextLink %q is not under %s", kind, p.next, r.src.baseURL)
		}
		if seen[next] {
			return "", fmt.Errorf("graph: %s nextLink %q repeats: the paging loops", kind, next)
		}
		seen[next] = true
		var err error
		if p, err = fetch(ctx, next); err != nil {
			return "", err
		}
	}
}

func (r *round) group(ctx context.Context, obj map[string]any) error {
	g, rem, skip, memberSkips := mapGroup(obj, r.full, r.src.cfg.Nested)
	for _, s := range memberSkips {
		r.obs.Skip(ctx, s)
	}
	switch {
	case skip != nil:
		r.obs.Skip(ctx, *skip)
		return nil
	case rem != nil:
		return wrapObs(r.obs.Removed(ctx, *rem))
	}
	// A big group's later entries may carry only id and a member slice.
	if g.DisplayName == "" {
		g.DisplayName = r.names[g.ObjectID]
	} else {
		r.names[g.ObjectID] = g.DisplayName
	}
	return wrapObs(r.obs.Group(ctx, *g))
}

func (r *round) user(ctx context.Context, obj map[string]any) error {
	id, _ := obj["id"].(string)
	if rem := removalOf(store.User, id, obj); rem != nil {
		if id == "" {
			r.obs.Skip(ctx, pull.Skip{Kind: store.User, Reason: "removed user entry without an id"})
			return nil
		}
		r.usersSeen = true
		return wrapObs(r.obs.Removed(ctx, *rem))
	}
	u, err := MapUser(obj)
	if err != nil {
		r.obs.Skip(ctx, pull.Skip{Kind: store.User, ObjectID: u.ObjectID, Reason: err.Error()})
		return nil
	}
	// The first round reports manager@delta only for users who have a
	// manager: in a full round its absence means "none".
	if r.full && u.Manager == nil {
		none := ""
		u.Manager = &none
	}
	r.usersSeen = true
	return wrapObs(r.obs.User(ctx, u))
}

func wrapObs(err error) error {
	if err != nil {
		return fmt.Errorf("graph round aborted by the engine: %w", err)
	}
	return nil
}

// usersPage fetches a users delta page: the initial query with $select when
// link is "", else the link as Graph gave it (links carry the query).
func (s *Source) usersPage(ctx context.Context, link string) (page, error) {
	b := s.client.Users().Delta()
	cfg := &users.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: userSelect},
	}
	if link != "" {
		b, cfg = b.WithUrl(link), nil
	}
	resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
	if err != nil {
		if !s.unparsable(err) {
			return page{}, s.fail(err, "users", "GET /users/delta")
		}
		ri, rerr := b.ToGetRequestInformation(ctx, cfg)
		if rerr != nil {
			return page{}, fmt.Errorf("graph: GET /users/delta: %w", rerr)
		}
		return s.rawPage(ctx, ri, "users", "GET /users/delta", err)
	}
	var p page
	for _, u := range resp.GetValue() {
		if u != nil {
			p.objs = append(p.objs, userObject(u))
		}
	}
	p.next, p.delta = deref(resp.GetOdataNextLink()), deref(resp.GetOdataDeltaLink())
	return p, nil
}

// groupsPage is usersPage for /groups/delta.
func (s *Source) groupsPage(ctx context.Context, link string) (page, error) {
	b := s.client.Groups().Delta()
	cfg := &groups.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: groupSelect},
	}
	if link != "" {
		b, cfg = b.WithUrl(link), nil
	}
	resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
	if err != nil {
		if !s.unparsable(err) {
			return page{}, s.fail(err, "groups", "GET /groups/delta")
		}
		ri, rerr := b.ToGetRequestInformation(ctx, cfg)
		if rerr != nil {
			return page{}, fmt.Errorf("graph: GET /groups/delta: %w", rerr)
		}
		return s.rawPage(ctx, ri, "groups", "GET /groups/delta", err)
	}
	var p page
	for _, g := range resp.GetValue() {
		if g != nil {
			p.objs = append(p.objs, groupObject(g))
		}
	}
	p.next, p.delta = deref(resp.GetOdataNextLink()), deref(resp.GetOdataDeltaLink())
	return p, nil
}

// unparsable: the request got a 2xx answer that kiota could not turn into
// the SDK's models (an entry with a property of the wrong JSON type fails
// the whole page there), as opposed to an HTTP error, a network failure or
// a cancelled context.
func (s *Source) unparsable(err error) bool {
	var st apiStatus
	return !errors.As(err, &st) && !unreachable(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// rawPage reads a page kiota could not parse once more as plain JSON, so
// that one malformed entry is skipped (MapUser and mapGroup check every
// value's type) instead of failing the round. A body that is not a delta
// page at all fails the round, with kiota's error beside ours.
func (s *Source) rawPage(ctx context.Context, ri *abs.RequestInformation, what, op string, kiotaErr error) (page, error) {
	raw, err := s.client.GetAdapter().SendPrimitive(ctx, ri, "[]byte",
		abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return page{}, s.fail(err, what, op)
	}
	b, _ := raw.([]byte)
	var body struct {
		Value []json.RawMessage `json:"value"`
		Next  string            `json:"@odata.nextLink"`
		Delta string            `json:"@odata.deltaLink"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return page{}, fmt.Errorf("graph: %s: the response is not a delta page (%v; %v)", op, kiotaErr, err)
	}
	p := page{next: body.Next, delta: body.Delta}
	for _, e := range body.Value {
		var obj map[string]any
		if err := json.Unmarshal(e, &obj); err != nil || obj == nil {
			p.malformed++
			continue
		}
		p.objs = append(p.objs, obj)
	}
	s.log.Warn("graph: a page with malformed entries was read as plain JSON", "request", op, "err", kiotaErr)
	return p, nil
}

// fail classifies a failed request: a resync request stays a *resyncError
// for Read to restart on; anything else becomes a readable error.
func (s *Source) fail(err error, what, op string) error {
	if rs, ok := asResync(err, what); ok {
		return rs
	}
	return describe(err, what, op, s.cfg.TenantID)
}

// Users fetches users by object id (GET /users/{id} with the mapped
// properties and $expand=manager), for users who came into scope without
// being in the round's user stream. A user Graph does not know (404) is
// reported as removed (deleted); one MapUser cannot use is skipped.
func (s *Source) Users(ctx context.Context, ids []string, obs pull.Observer) error {
	sel := make([]string, 0, len(userSelect))
	for _, p := range userSelect {
		if p != "manager" { // a navigation property: expanded, not selected
			sel = append(sel, p)
		}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		u, err := s.client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: sel, Expand: []string{"manager($select=id)"}},
		})
		if err != nil {
			var st apiStatus
			if errors.As(err, &st) && st.GetStatusCode() == http.StatusNotFound {
				if err := obs.Removed(ctx, pull.Removal{Kind: store.User, ObjectID: id, Reason: pull.RemovedDeleted}); err != nil {
					return wrapObs(err)
				}
				continue
			}
			if s.unparsable(err) {
				obs.Skip(ctx, pull.Skip{Kind: store.User, ObjectID: id, Reason: "unreadable user object: " + err.Error()})
				continue
			}
			return describe(err, "users", "GET /users/"+id, s.cfg.TenantID)
		}
		obj := userObject(u)
		if _, ok := obj["manager"]; !ok {
			obj["manager"] = nil // expanded and absent: no manager
		}
		mu, err := MapUser(obj)
		if err != nil {
			obs.Skip(ctx, pull.Skip{Kind: store.User, ObjectID: id, Reason: err.Error()})
			continue
		}
		if err := obs.User(ctx, mu); err != nil {
			return wrapObs(err)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Interface guards.
var _ pull.Source = (*Source)(nil)
