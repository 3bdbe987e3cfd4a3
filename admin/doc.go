// Package admin serves the admin JSON API under /admin/api/: it drives the
// pull engine ("Synchronize now", run records, dry-run plans) for the
// operators and the admin console. It is authenticated by the admin tokens
// only: a tenant's SCIM credentials never open it (and the admin tokens
// never open SCIM, which the configuration enforces).
//
// It knows nothing of a directory's specifics: cmd gives it, per tenant,
// the pull request (source and policy) to run.
package admin
