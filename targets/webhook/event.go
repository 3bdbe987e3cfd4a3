package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/targets"
)

// Event is the JSON body of each POST.
//
//	{
//	  "id": "3f2a…",                       // stable: the same change always has the same id
//	  "type": "user.updated",
//	  "tenant": "default",
//	  "target": "hooks",
//	  "occurredAt": "2026-12-07T10:00:00.123Z",
//	  "seqs": [41, 42],                    // the journal entries it collapses
//	  "resourceType": "User",
//	  "resourceId": "2819c223-…",
//	  "name": "bjensen@example.com",       // userName / displayName (also on delete)
//	  "changed": ["title"],                // attribute paths changed
//	  "resource": { "schemas": [...], "id": "…", "userName": "…", "meta": {…} },
//	  "members": {"added": ["…"], "removed": ["…"]},   // groups only
//	  "origin": {"source": "push", "actor": "entra"}
//	}
type Event struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Tenant       string         `json:"tenant"`
	Target       string         `json:"target"`
	OccurredAt   time.Time      `json:"occurredAt"`
	Seqs         []int64        `json:"seqs"`
	ResourceType store.Kind     `json:"resourceType"`
	ResourceID   string         `json:"resourceId"`
	Name         string         `json:"name,omitempty"`
	Changed      []string       `json:"changed,omitempty"`
	Resource     map[string]any `json:"resource,omitempty"` // absent on *.deleted
	Members      *Members       `json:"members,omitempty"`
	Origin       store.Origin   `json:"origin"`
}

// Members is a group's membership delta: member ids.
type Members struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// Event types.
const (
	UserCreated         = "user.created"
	UserUpdated         = "user.updated"
	UserDisabled        = "user.disabled"
	UserDeleted         = "user.deleted"
	GroupCreated        = "group.created"
	GroupUpdated        = "group.updated"
	GroupDeleted        = "group.deleted"
	GroupMembersAdded   = "group.members.added"
	GroupMembersRemoved = "group.members.removed"
)

// events turns one change into the POSTs to make, in order: one, or for a
// membership-only change of a group one per direction (added, removed).
func events(c targets.Change) []Event {
	base := Event{Tenant: c.Tenant, Target: c.Target, OccurredAt: c.At.UTC(), Seqs: c.Seqs,
		ResourceType: c.Kind, ResourceID: c.ID, Name: c.Name, Changed: c.Changed, Origin: c.Origin}
	if base.Seqs == nil {
		base.Seqs = []int64{}
	}
	if c.Resource != nil {
		base.Resource = targets.SCIMJSON(c.Resource)
	}
	if c.Kind == store.Group && c.MembersOnly() {
		var out []Event
		if len(c.MembersAdded) > 0 {
			e := base
			e.Type, e.Members = GroupMembersAdded, &Members{Added: c.MembersAdded}
			out = append(out, withID(e))
		}
		if len(c.MembersRemoved) > 0 {
			e := base
			e.Type, e.Members = GroupMembersRemoved, &Members{Removed: c.MembersRemoved}
			out = append(out, withID(e))
		}
		return out
	}
	e := base
	e.Type = eventType(c)
	if c.Kind == store.Group && (len(c.MembersAdded) > 0 || len(c.MembersRemoved) > 0) {
		e.Members = &Members{Added: c.MembersAdded, Removed: c.MembersRemoved}
	}
	return []Event{withID(e)}
}

func eventType(c targets.Change) string {
	prefix := "user."
	if c.Kind == store.Group {
		prefix = "group."
	}
	switch c.Action {
	case targets.ActionDelete:
		return prefix + "deleted"
	case targets.ActionCreate:
		return prefix + "created"
	case targets.ActionDisable:
		// Disabled now, or first seen disabled; an edit of an already
		// disabled user is an update.
		if c.TargetID == "" || slices.Contains(c.Changed, "active") {
			return UserDisabled
		}
	}
	return prefix + "updated"
}

// withID sets the event's id: a hash of what identifies the change, so
// that a redelivery (a retry, or the replay after a crash) of the same
// change carries the same id and receivers can drop duplicates.
func withID(e Event) Event {
	var last int64
	if n := len(e.Seqs); n > 0 {
		last = e.Seqs[n-1]
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d\x00%s", e.Tenant, e.Target, e.ResourceType, e.ResourceID, last, e.Type))
	e.ID = hex.EncodeToString(h[:16])
	return e
}
