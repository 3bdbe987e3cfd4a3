package mongo

import (
	"context"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// memberRef is a member in a pending write's delta: its id and kind.
type memberRef struct {
	ID string `bson:"id"`
	K  string `bson:"k"`
}

// memberDoc is a membership record.
type memberDoc struct {
	Key string `bson:"_id"`
	T   string `bson:"t"`
	G   string `bson:"g"`
	M   string `bson:"m"`
	MK  string `bson:"mk"`
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
	var add []memberRef
	if len(candidates) > 0 {
		ex, err := s.Exists(ctx, h.T, candidates)
		if err != nil {
			return nil, nil, err
		}
		for id, k := range ex {
			add = append(add, memberRef{ID: id, K: string(k)})
		}
	}
	slices.SortFunc(add, func(a, b memberRef) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(rm)
	return add, rm, nil
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
