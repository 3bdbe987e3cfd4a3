// Package config loads scimbridge's configuration: a strict YAML file (unknown
// keys are errors), SCIMBRIDGE_* environment overrides, defaults, and one
// validation pass that reports every problem at once, each naming its field.
//
// The loader is the only place that reads secrets: token env vars and token
// files are resolved here into SHA-256 hashes, and the plain tokens are
// dropped. Nothing in a Config, and no error Load returns, contains a secret.
package config
