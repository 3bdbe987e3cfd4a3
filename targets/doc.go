// Package targets projects the store's Users and Groups into application
// accounts. A Target applies one collapsed change to one account or group
// (target.go); a Runner (runner.go) feeds it from the tenant's change
// journal with a durable cursor, per-resource ordering, retries and a
// dead-letter list; a Registry (registry.go) maps adapter type names to
// their configuration. The adapters live in sub-packages (targets/webhook,
// later ldap, sqldb, scim); this package imports none of them.
//
// Every piece of runner state lives in the tenant's store state records,
// under the keys listed in keys.go, so that any replica holding the
// consumer lease can continue where another stopped.
package targets
