// Package config loads scimbridge's configuration: a strict YAML file (unknown
// keys are errors), SCIMBRIDGE_* environment overrides, defaults, and one
// validation pass that reports every problem at once, each naming its field.
//
// The loader is the only place that reads secrets: the env vars and files
// of bearer tokens and of OAuth client secrets are resolved here into SHA-256
// hashes, and the plain values are dropped. Nothing in a Config, and no error Load returns, contains a secret.
package config
