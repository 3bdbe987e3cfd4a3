// Package scim is the SCIM 2.0 HTTP API (RFC 7644) on gorilla/mux: bearer
// auth per tenant, resource handlers for /Users and /Groups, filters, paging,
// sorting, projection, ETags, PATCH and discovery. Schemas, validation semantics
// and /Schemas and /ResourceTypes discovery come from elimity-com/scim; the
// resource handlers are our own so that every response can honour
// attributes/excludedAttributes, If-Match and the store's atomic updates, and so
// hot requests do not rebuild schema data or re-parse filters.
package scim
