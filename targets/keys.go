package targets

import "github.com/scimbridge/scimbridge/store"

// A runner keeps everything in the tenant's store, so that any replica that
// takes the consumer lease continues where another stopped:
//
//	journal consumer "target/<name>"     the cursor (store.Journal) and, through
//	                                     store.ConsumerLease, the lease "consumer/target/<name>"
//	target/<name>/map/u/<user id>        the user's id in the target (DN, row key, remote id)
//	target/<name>/map/g/<group id>       the group's id in the target
//	target/<name>/dead/<resource id>     a dead letter (JSON DeadLetter); ids are unique across kinds
//	target/<name>/status                 last success and last error (JSON statusRecord)
//
// The runner writes no resources, only state records, so it needs no
// store.Origin on its context.
type keys struct{ name string }

func keysFor(target string) keys { return keys{name: target} }

// consumer is the journal consumer name of the target.
func (k keys) consumer() string { return "target/" + k.name }

// lease is the consumer lease the runner holds (AdvanceCursor checks it).
func (k keys) lease() string { return store.ConsumerLease(k.consumer()) }

func (k keys) idMap(kind store.Kind, id string) string {
	if kind == store.Group {
		return "target/" + k.name + "/map/g/" + id
	}
	return "target/" + k.name + "/map/u/" + id
}

func (k keys) deadPrefix() string    { return "target/" + k.name + "/dead/" }
func (k keys) dead(id string) string { return k.deadPrefix() + id }
func (k keys) status() string        { return "target/" + k.name + "/status" }
