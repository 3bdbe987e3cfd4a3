package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML config file at path (empty path: no file, defaults
// only), applies the SCIMBRIDGE_* variables looked up with env, fills in
// defaults, validates, and resolves token and client secrets, JWKS files
// and schema files. Relative
// paths in the file are relative to the file's directory. On failure the
// error is an *Error listing every problem found.
func Load(path string, env func(string) string) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	c := Default()
	dir := "."
	var decodeProblems, failed []string
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		decodeProblems, failed, err = decode(path, b, c)
		if err != nil {
			return nil, err
		}
		dir = filepath.Dir(path)
	}
	var later []string
	later = append(later, c.applyEnv(env)...)
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	c.applyDerivedDefaults()
	later = append(later, c.resolveStoreURI(dir)...)
	later = append(later, c.problems()...)
	later = append(later, c.resolve(dir, env)...)
	// Keys the file got wrong do not stop the checks of the others, so
	// every problem is listed at once; fields inside a value of the wrong
	// type kept their defaults and are not reported again.
	problems := decodeProblems
	for _, p := range later {
		if !underFailed(p, failed) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{File: path, Problems: problems}
	}
	return c, nil
}

// Error is a configuration that failed to load: every problem found, each
// naming the field (or file line) it is about.
type Error struct {
	File     string // the config file, if any
	Problems []string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration")
	if e.File != "" {
		fmt.Fprintf(&b, " in %s", e.File)
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// decode parses b strictly into c, whose fields already hold the defaults:
// keys absent from the file keep them. Unknown keys and values of the wrong
// type are returned as problems (with the paths of the latter in failed), to
// be listed with the rest; a file that is not YAML is an error.
func decode(path string, b []byte, c *Config) (problems, failed []string, err error) {
	b = zeroDurations(b, reflect.TypeOf(c).Elem())
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err = dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil, nil, nil // an empty file
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return nil, nil, &Error{File: path, Problems: yamlProblems(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, &Error{File: path, Problems: []string{"more than one YAML document"}}
	}
	var root yaml.Node
	rootOK := yaml.Unmarshal(b, &root) == nil
	if te != nil {
		if rootOK {
			problems, failed = typeProblems(&root, te.Errors)
		} else {
			problems, failed = typeProblems(nil, te.Errors)
		}
	}
	if rootOK {
		// yaml.v3 truncates a fraction into a whole-number field (1.5
		// becomes 1) without an error.
		fp, ff := fractionProblems(&root, reflect.TypeOf(c).Elem(), "")
		problems, failed = append(problems, fp...), append(failed, ff...)
	}
	return problems, failed, nil
}

// yamlKeyPrefix returns the YAML path prefix of the keys of the Go type
// named typ (as yaml.v3 names it in errors).
func yamlKeyPrefix(typ string) (string, bool) {
	switch typ {
	case "config.Config":
		return "", true
	case "config.Store":
		return "store.", true
	case "config.Log":
		return "log.", true
	case "config.Tenant":
		return "tenants[].", true
	case "config.Token":
		return "tenants[].tokens[].", true
	case "config.Schema":
		return "schemas[].", true
	case "config.OAuth":
		return "tenants[].oauth.", true
	case "config.OAuthClient":
		return "tenants[].oauth.clients[].", true
	case "config.Secret":
		return "tenants[].oauth.clients[].secrets[].", true
	case "config.EntraJWT":
		return "tenants[].entraJWT.", true
	case "config.Bulk":
		return "bulk.", true
	case "config.Journal":
		return "journal.", true
	case "config.TLS":
		return "tls.", true
	case "config.Metrics":
		return "metrics.", true
	case "config.MetricsToken":
		return "metrics.token.", true
	case "config.Debug":
		return "debug.", true
	case "config.Federation":
		return "tenants[].oauth.clients[].federation.", true
	case "config.AuthFailures":
		return "authFailures.", true
	case "config.Patch":
		return "patch.", true
	}
	return "", false
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

// yamlProblems turns a yaml.v3 error into problem lines; unknown keys are
// named by their YAML path and line.
func yamlProblems(err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		out = append(out, decodeProblem(e))
	}
	return out
}

// decodeProblem rewrites one yaml.v3 decoding error: an unknown key is
// named by its YAML path and line.
func decodeProblem(e string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		if prefix, ok := yamlKeyPrefix(m[3]); ok {
			return fmt.Sprintf("line %s: unknown key %q", m[1], prefix+m[2])
		}
	}
	return e
}

// LoadForProbe reads what `healthcheck` needs to find a running bridge —
// listen and whether TLS is on — from the file and the environment as Load
// does, but checks nothing else: a problem elsewhere in the file, or a TLS
// renewal on disk that does not load (serve keeps the old pair), must not
// make a healthy bridge look unhealthy. Only an unreadable or unparsable
// file is an error.
func LoadForProbe(path string, env func(string) string) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if _, _, err := decode(path, b, c); err != nil {
			return nil, err
		}
	}
	c.applyEnv(env)
	return c, nil
}
