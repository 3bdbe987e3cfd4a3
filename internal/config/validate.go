package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
)

// Limits of the validated fields.
const (
	MaxMaxResults = 10000
)

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks every field and returns an *Error listing all problems,
// or nil. It does not read files or the environment: Load does that.
func (c *Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

func (c *Config) problems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if err := checkHostPort(c.Listen); err != nil {
		add("listen: %q is not host:port (%v)", c.Listen, err)
	}
	if c.DataDir == "" {
		add("dataDir: must not be empty")
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			add("baseURL: %q %v", redactURL(c.BaseURL), err)
		}
	}
	switch c.Store.Type {
	case "sqlite":
		if c.Store.Path == "" {
			add("store.path: must not be empty")
		}
	default:
		add("store.type: %q is not supported (want sqlite)", c.Store.Type)
	}
	if c.MaxBodyBytes <= 0 {
		add("maxBodyBytes: %d must be greater than 0", c.MaxBodyBytes)
	}
	if c.MaxResults < 1 || c.MaxResults > MaxMaxResults {
		add("maxResults: %d must be between 1 and %d", c.MaxResults, MaxMaxResults)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q must be one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q must be text or json", c.Log.Format)
	}
	seen := map[string]int{}
	for i, t := range c.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Name == "":
			add("%s.name: must not be empty", field)
		case !tenantName.MatchString(t.Name):
			add("%s.name: %q must be lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters", field, t.Name)
		default:
			if j, dup := seen[t.Name]; dup {
				add("%s.name: %q is already used by tenants[%d]", field, t.Name, j)
			} else {
				seen[t.Name] = i
			}
		}
		p = append(p, tokenProblems(field, t.Tokens)...)
	}
	for i, s := range c.Schemas {
		field := fmt.Sprintf("schemas[%d]", i)
		if s.File == "" {
			add("%s.file: must not be empty", field)
		}
		if s.ResourceType != "User" && s.ResourceType != "Group" {
			add("%s.resourceType: %q must be User or Group", field, s.ResourceType)
		}
	}
	return p
}

// tokenProblems checks a tenant's tokens. It never quotes a token field's
// value: a secret may have been put in the wrong field.
func tokenProblems(tenantField string, tokens []Token) []string {
	var p []string
	names := map[string]int{}
	for i, tok := range tokens {
		field := fmt.Sprintf("%s.tokens[%d]", tenantField, i)
		if tok.Name == "" {
			p = append(p, field+".name: must not be empty")
		} else if j, dup := names[tok.Name]; dup {
			p = append(p, fmt.Sprintf("%s.name: %q is already used by tokens[%d]", field, tok.Name, j))
		} else {
			names[tok.Name] = i
		}
		n := 0
		for _, v := range []string{tok.SHA256, tok.Env, tok.File} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			p = append(p, field+": must have exactly one of sha256, env, file")
			continue
		}
		if tok.SHA256 != "" {
			if b, err := hex.DecodeString(tok.SHA256); err != nil || len(b) != 32 {
				p = append(p, field+".sha256: must be 64 hexadecimal digits (the SHA-256 of the token, not the token)")
			}
		}
	}
	return p
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must start with http:// or https://")
	case u.Host == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not contain user info")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return errors.New("must not have a path, query or fragment (the SCIM paths are added)")
	}
	return nil
}

// redactURL drops user info (which may hold a password) from a URL for
// error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
