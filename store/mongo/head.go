package mongo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/scimbridge/scimbridge/store"
)

// head is a resource document.
type head struct {
	Key  string `bson:"_id"`
	T    string `bson:"t"`
	ID   string `bson:"id"`
	K    string `bson:"k"`
	V    int64  `bson:"v"`
	Inc  string `bson:"inc"` // incarnation: new for every create of the id
	C    int64  `bson:"c"`   // created, unix ns
	M    int64  `bson:"m"`   // lastModified, unix ns
	O    int64  `bson:"o"`   // creation order: the create's journal seq
	Doc  string `bson:"doc"` // Attrs as JSON
	Disp string `bson:"disp,omitempty"`

	// Shadows for filters.
	UN  *string  `bson:"un,omitempty"`
	DN  *string  `bson:"dn,omitempty"`
	Ext *string  `bson:"ext,omitempty"`
	Act *bool    `bson:"act,omitempty"`
	Em  []string `bson:"em,omitempty"`

	// Unique keys, always present (a dummy of another type when absent).
	XU any `bson:"xu"`
	XG any `bson:"xg"`
	XE any `bson:"xe"`

	Del  bool     `bson:"del"`
	PJ   bool     `bson:"pj"`
	Pend *pending `bson:"pend,omitempty"`
}

// pending is the outbox entry of the head's last write.
type pending struct {
	Op  string      `bson:"op"`
	V   int64       `bson:"v"`
	At  int64       `bson:"at"` // unix ns
	Add []memberRef `bson:"add,omitempty"`
	Rm  []string    `bson:"rm,omitempty"`
	// The provenance travels in the outbox, so that a takeover journals
	// the write with the origin of the writer that committed it.
	Prov prov `bson:",inline"`
}

// prov is the provenance of a write (see store.Change), as the outbox and
// the journal document store it. Changed is JSON text: its old and new
// values are canonical SCIM JSON, which BSON would not give back as such.
type prov struct {
	Src  string `bson:"src,omitempty"`  // store.Source
	By   string `bson:"by,omitempty"`   // Origin.Actor
	Run  string `bson:"run,omitempty"`  // Origin.RunID
	Name string `bson:"name,omitempty"` // userName or displayName at the time
	Ch   string `bson:"ch,omitempty"`   // JSON array of store.AttrChange
}

// newProv encodes the provenance of a write.
func newProv(o store.Origin, name string, changed []store.AttrChange) (prov, error) {
	p := prov{Src: string(o.Source), By: o.Actor, Run: o.RunID, Name: name}
	if len(changed) > 0 {
		b, err := json.Marshal(changed)
		if err != nil {
			return prov{}, fmt.Errorf("encode changed attributes: %w", err)
		}
		p.Ch = string(b)
	}
	return p, nil
}

func (h *head) resource() (store.Resource, error) {
	r := store.Resource{
		Ref:          store.Ref{Tenant: h.T, Kind: store.Kind(h.K), ID: h.ID},
		Version:      h.V,
		Created:      time.Unix(0, h.C).UTC(),
		LastModified: time.Unix(0, h.M).UTC(),
	}
	if err := json.Unmarshal([]byte(h.Doc), &r.Attrs); err != nil {
		return store.Resource{}, fmt.Errorf("decode %s: %w", h.ID, err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	return r, nil
}

// setShadows fills the shadow and unique-key fields from attrs. The keys of
// group displayName and externalId hold their values only when strict (the
// tenant has strict uniqueness); otherwise they get the per-resource dummy,
// as when the attribute is absent, and never collide.
func (h *head) setShadows(attrs map[string]any, strict bool) {
	h.UN, h.DN, h.Ext, h.Act, h.Em, h.Disp = nil, nil, nil, nil, nil, ""
	h.XU = h.noKey()
	if v, ok := attrs["externalId"].(string); ok {
		h.Ext = &v
	}
	dn, hasDN := attrs["displayName"].(string)
	if hasDN {
		l := strings.ToLower(dn)
		h.DN = &l
		h.Disp = dn
	}
	h.XG, h.XE = h.strictKeys(strict)
	if h.K != string(store.User) {
		return
	}
	if un, ok := attrs["userName"].(string); ok {
		l := strings.ToLower(un)
		h.UN = &l
		h.XU = l
		if !hasDN || dn == "" {
			h.Disp = un
		}
	}
	if b, ok := attrs["active"].(bool); ok {
		h.Act = &b
	}
	if list, ok := attrs["emails"].([]any); ok {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if v, ok := m["value"].(string); ok {
					h.Em = append(h.Em, strings.ToLower(v))
				}
			}
		}
	}
}

// noKey is the dummy unique key of a resource that holds no value for it:
// unique per resource, and of another BSON type than the real keys.
func (h *head) noKey() any { return bson.D{{Key: "none", Value: h.Key}} }

// strictKeys returns the xg and xe keys for h's shadows: the group
// displayName (lower-cased) and kind:externalId when strict, dummies
// otherwise or where the attribute is absent.
func (h *head) strictKeys(strict bool) (xg, xe any) {
	xg, xe = h.noKey(), h.noKey()
	if !strict {
		return xg, xe
	}
	if h.DN != nil && h.K == string(store.Group) {
		xg = *h.DN
	}
	if h.Ext != nil {
		xe = h.K + ":" + *h.Ext
	}
	return xg, xe
}

func newInc() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
