package patch

import (
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
)

// The defaults of Limits (the patch.* configuration keys).
const (
	DefaultMaxOperations   = 1000
	DefaultMaxMemberValues = 10000
)

// Limits cap the work one PATCH request may ask for, so that its cost is
// bounded before any of it is done. Zero fields mean the defaults.
type Limits struct {
	// MaxOperations caps the entries of the request's Operations[]
	// (patch.maxOperations). Operations a normaliser split one entry into
	// count once.
	MaxOperations int
	// MaxMemberValues caps the member values of the request's operations on
	// a group's members, together (patch.maxMemberValues). They do not
	// count as operations: Entra sends members in batches of one add or
	// remove carrying many values.
	MaxMemberValues int
}

// Check returns an invalidValue *Error naming the configuration key when
// ops (as ParseRequest or a normaliser returned them, for resource type rt)
// exceed l.
func (l Limits) Check(rt *schemas.ResourceType, ops []Operation) error {
	maxOps, maxMembers := l.MaxOperations, l.MaxMemberValues
	if maxOps <= 0 {
		maxOps = DefaultMaxOperations
	}
	if maxMembers <= 0 {
		maxMembers = DefaultMaxMemberValues
	}
	entries, members := 0, 0
	last := -1
	group := rt != nil && rt.Name == "Group"
	for _, op := range ops {
		if op.Index <= 0 || op.Index != last {
			entries++
		}
		last = op.Index
		if group && isMembersPath(rt, op.Path) {
			switch v := op.Value.(type) {
			case []any:
				members += len(v)
			default:
				members++ // one value, or a filter naming members
			}
		}
	}
	if entries > maxOps {
		return errf(InvalidValue, "the request has %d operations; at most %d are allowed (patch.maxOperations)", entries, maxOps)
	}
	if members > maxMembers {
		return errf(InvalidValue, "the request has %d member values; at most %d are allowed (patch.maxMemberValues)", members, maxMembers)
	}
	return nil
}

// isMembersPath reports whether path names a group's members (members,
// members[filter], members.sub, optionally qualified by the core schema URN).
func isMembersPath(rt *schemas.ResourceType, path string) bool {
	p := strings.TrimSpace(path)
	if urn := rt.Schema.ID + ":"; len(p) > len(urn) && strings.EqualFold(p[:len(urn)], urn) {
		p = p[len(urn):]
	}
	const m = "members"
	if len(p) < len(m) || !strings.EqualFold(p[:len(m)], m) {
		return false
	}
	return len(p) == len(m) || p[len(m)] == '[' || p[len(m)] == '.'
}
