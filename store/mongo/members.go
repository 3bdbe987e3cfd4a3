package mongo

import (
	"context"
	"errors"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// memberRef is a member in a pending write's delta: its id, kind and the
// incarnation the write saw (absent in outboxes written before it existed).
type memberRef struct {
	ID string `bson:"id"`
	K  string `bson:"k"`
	I  string `bson:"i,omitempty"`
}

// memberDoc is a membership record. MI is the member's incarnation when it
// was added (absent in records written before it existed): a record of an
// earlier incarnation of the id is never a membership (see doc.go).
type memberDoc struct {
	Key string `bson:"_id"`
	T   string `bson:"t"`
	G   string `bson:"g"`
	M   string `bson:"m"`
	MK  string `bson:"mk"`
	MI  string `bson:"mi,omitempty"`
}

// planDelta computes the members a delta really adds and removes: adds of
// existing resources of the tenant that are not members yet (never the
// group itself), removals of current members.
func (s *Store) planDelta(ctx context.Context, h *head, d store.MemberDelta) ([]memberRef, []string, error) {
	rmSet := make(map[string]bool, len(d.Remove))
	for _, id := range d.Remove {
		rmSet[id] = true
	}
	want := map[string]bool{}
	var addIDs []string
	for _, m := range d.Add {
		if !rmSet[m.Value] && m.Value != h.ID && !want[m.Value] {
			want[m.Value] = true
			addIDs = append(addIDs, m.Value)
		}
	}
	var current map[string]bool
	var err error
	if d.Replace {
		current, err = s.memberSet(ctx, h.T, h.ID, nil)
	} else {
		current, err = s.memberSet(ctx, h.T, h.ID, append(slices.Clone(addIDs), d.Remove...))
	}
	if err != nil {
		return nil, nil, err
	}
	var rm []string
	if d.Replace {
		for id := range current {
			if !want[id] {
				rm = append(rm, id)
			}
		}
	} else {
		for id := range rmSet {
			if current[id] {
				rm = append(rm, id)
			}
		}
	}
	var candidates []string
	for _, id := range addIDs {
		if !current[id] {
			candidates = append(candidates, id)
		}
	}
	add, err := s.addable(ctx, h.T, candidates)
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(rm)
	return add, rm, nil
}

// addable returns the resources among ids that a group write may add, by
// id, with their kind and incarnation. A resource whose create is not
// journaled yet is waited for (or its create finished once its lease is
// over): the group's entry, journaled after this, then comes after the
// member's create (see doc.go). The caller holds no pending write, so the
// wait cannot close a cycle.
func (s *Store) addable(ctx context.Context, tenant string, ids []string) ([]memberRef, error) {
	var out []memberRef
	proj := bson.D{{Key: "id", Value: 1}, {Key: "k", Value: 1}, {Key: "del", Value: 1}, {Key: "inc", Value: 1},
		{Key: "pj", Value: 1}, {Key: "pend.op", Value: 1}}
	for len(ids) > 0 {
		hs, err := s.heads(ctx, tenant, ids, proj)
		if err != nil {
			return nil, err
		}
		var creating []string
		for _, h := range hs {
			if h.PJ && h.Pend != nil && h.Pend.Op == string(store.OpCreate) {
				creating = append(creating, h.ID)
				continue
			}
			out = append(out, memberRef{ID: h.ID, K: h.K, I: h.Inc})
		}
		ids = creating
		for _, id := range creating {
			h, err := s.loadHead(ctx, tenant, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if h.PJ && h.Pend != nil && h.Pend.Op == string(store.OpCreate) {
				if err := s.settle(ctx, h); err != nil {
					return nil, err
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b memberRef) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// addMembers applies the adds of h's pending write (step 3) and returns the
// ones that hold: it inserts their records, then reads the members again
// and removes the records of those no longer live in the incarnation the
// write saw. Only the adds returned are journaled. See doc.go for why no
// record outlives its member and why the journal order is truthful.
func (s *Store) addMembers(ctx context.Context, h *head) ([]memberRef, error) {
	p := h.Pend
	if len(p.Add) == 0 {
		return nil, nil
	}
	docs := make([]any, len(p.Add))
	ids := make([]string, len(p.Add))
	for i, m := range p.Add {
		docs[i] = memberDoc{Key: mkey(h.T, h.ID, m.ID), T: h.T, G: h.ID, M: m.ID, MK: m.K, MI: m.I}
		ids[i] = m.ID
	}
	for chunk := range slices.Chunk(docs, 5000) {
		_, err := s.mem.InsertMany(ctx, chunk, options.InsertMany().SetOrdered(false))
		if err != nil && !allDup(err) {
			return nil, mapErr(err)
		}
	}
	if err := s.step("inserted"); err != nil {
		return nil, err
	}
	hs, err := s.heads(ctx, h.T, ids, bson.D{{Key: "id", Value: 1}, {Key: "inc", Value: 1}, {Key: "del", Value: 1}})
	if err != nil {
		return nil, err
	}
	inc := make(map[string]string, len(hs))
	for _, m := range hs {
		inc[m.ID] = m.Inc
	}
	var kept []memberRef
	var gone []string
	for _, m := range p.Add {
		if i, ok := inc[m.ID]; ok && (m.I == "" || m.I == i) {
			kept = append(kept, m)
		} else {
			gone = append(gone, mkey(h.T, h.ID, m.ID))
		}
	}
	for chunk := range slices.Chunk(gone, 5000) {
		if _, err := s.mem.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}); err != nil {
			return nil, mapErr(err)
		}
	}
	return kept, nil
}

// awaitAdders is the first half of a delete's step 3 for the memberships
// of the deleted h: it waits until no group write that adds h is pending
// (finishing those whose lease is over), so that their journal entries
// precede h's delete entry, and returns the keys of h's records it found.
// A record inserted after this read belongs to a write whose re-read
// (addMembers) sees h deleted and removes it.
func (s *Store) awaitAdders(ctx context.Context, h *head) ([]string, error) {
	ms, err := findAll[memberDoc](ctx, s.mem, bson.D{{Key: "t", Value: h.T}, {Key: "m", Value: h.ID}},
		options.Find().SetProjection(bson.D{{Key: "g", Value: 1}}))
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.Key
		for attempt := 0; ; attempt++ {
			g, err := s.loadHead(ctx, h.T, m.G)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			if !g.PJ || g.Pend == nil || !slices.ContainsFunc(g.Pend.Add, func(r memberRef) bool { return r.ID == h.ID }) {
				break
			}
			if err := s.settle(ctx, g); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

// memberSet returns the members of a group among ids (all if ids is nil).
// Beyond 5,000 ids it reads the whole membership instead: one $in with
// every key could pass the 16 MiB limit of a command.
func (s *Store) memberSet(ctx context.Context, tenant, group string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	f := bson.D{{Key: "t", Value: tenant}, {Key: "g", Value: group}}
	if len(ids) > 5000 {
		all, err := s.memberSet(ctx, tenant, group, nil)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if all[id] {
				out[id] = true
			}
		}
		return out, nil
	}
	if ids != nil {
		if len(ids) == 0 {
			return out, nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = mkey(tenant, group, id)
		}
		f = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}
	}
	docs, err := findAll[memberDoc](ctx, s.mem, f, options.Find().SetProjection(bson.D{{Key: "m", Value: 1}}))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		out[d.M] = true
	}
	return out, nil
}
