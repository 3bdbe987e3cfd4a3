// Package graphpull is the Microsoft Graph pull source: a pull.Source that
// reads a tenant's users and groups with Graph delta queries
// (msgraph-sdk-go), authenticated as an app registration with a client
// secret or a certificate (azidentity), in any national cloud.
//
// A round reads /groups/delta first (id, displayName, members) and then
// /users/delta (every property the Entra default mapping uses, plus
// accountEnabled and manager), following every nextLink, and hands the
// engine observations: groups (a group whose members span several entries
// is observed several times), users mapped to SCIM by MapUser, removals
// (@removed) and skips (objects it cannot use). The checkpoint is the two
// delta links. A checkpoint Graph no longer accepts (410 Gone,
// syncStateNotFound, resyncRequired) restarts the round as a full one.
//
// Only this package and cmd/ import msgraph-sdk-go: it takes minutes to
// compile.
package graphpull
