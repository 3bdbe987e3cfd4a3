// Package webhook is the webhook target: one signed HTTP POST per change.
//
// The body is a JSON Event (event.go): a stable id for de-duplication, a
// type such as "user.created" or "group.members.added", the resource as
// SCIM JSON, and when it happened. Each request carries
//
//	Scimbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// with a second v1 (from previousSecret) while a secret is being rotated.
// Receivers check it with Verify (signature.go) or the snippet in
// docs/targets.md, and drop events whose t is outside their replay window.
//
// Responses: 2xx delivers; 408, 429 and 5xx, network errors and timeouts
// are retried by the runner (honouring Retry-After); any other status is
// permanent and dead-letters the change with the receiver's message.
package webhook
