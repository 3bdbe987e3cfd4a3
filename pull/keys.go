package pull

import (
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// The engine keeps everything it needs between runs in the store's state
// records of the tenant, so that any process (and either backend) can run
// the next round, list the runs or read a plan:
//
//	pull/lease                     who holds the pull lease, since when
//	pull/next                      the next scheduled run (RFC 3339)
//	pull/run/<id>                  run records (ids sort by start time)
//	pull/plan/<id>/<page>          a dry run's plan, 500 items per record
//	pull/<src>/map/u/<object id>   identity map: bridge id of a source user
//	pull/<src>/map/g/<object id>   identity map: bridge id of a source group
//	pull/<src>/checkpoint          the source's checkpoint of the last complete round
//	pull/<src>/scope               the scope the scope records were computed for
//	pull/<src>/scope/g/<object id> a group's name and nested groups (scope only)
//	pull/<src>/scope/m/<object id>/<n> its user members, 5000 per record
//	pull/<src>/pending/<object id> groups of a user not provisioned yet (pending.go)
const (
	leaseName     = "pull"
	keyLease      = "pull/lease"
	keyNext       = "pull/next"
	keyRunPrefix  = "pull/run/"
	keyPlanPrefix = "pull/plan/"
)

// sourceKeys are the state keys of one source.
type sourceKeys struct{ prefix string }

func keysFor(kind store.Source) sourceKeys {
	// "pull:graph" -> "pull/graph/"
	return sourceKeys{prefix: "pull/" + strings.TrimPrefix(string(kind), "pull:") + "/"}
}

func (k sourceKeys) mapPrefix() string            { return k.prefix + "map/" }
func (k sourceKeys) userMap(obj string) string    { return k.prefix + "map/u/" + obj }
func (k sourceKeys) groupMap(obj string) string   { return k.prefix + "map/g/" + obj }
func (k sourceKeys) checkpoint() string           { return k.prefix + "checkpoint" }
func (k sourceKeys) scopeDef() string             { return k.prefix + "scope" }
func (k sourceKeys) scopeGroupPrefix() string     { return k.prefix + "scope/g/" }
func (k sourceKeys) scopeGroup(obj string) string { return k.prefix + "scope/g/" + obj }
func (k sourceKeys) scopeMemberPrefix() string    { return k.prefix + "scope/m/" }
func (k sourceKeys) scopeMembers(obj string, chunk int) string {
	return fmt.Sprintf("%sscope/m/%s/%06d", k.prefix, obj, chunk)
}
func (k sourceKeys) pendingPrefix() string     { return k.prefix + "pending/" }
func (k sourceKeys) pending(obj string) string { return k.prefix + "pending/" + obj }
