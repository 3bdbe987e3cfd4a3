package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
)

// resolve reads the token and client secrets, JWKS files and schema files
// the config refers to, relative to dir, and returns the problems found. Entries that already
// failed validation are skipped. No problem quotes a secret.
func (c *Config) resolve(dir string, env func(string) string) []string {
	var p []string
	type use struct{ field, tenant string }
	first := map[[32]byte]use{} // token hash → where it was first configured
	if c.envTokenHash != nil {
		first[*c.envTokenHash] = use{EnvToken, DefaultTenant}
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		for j := range t.Tokens {
			tok := &t.Tokens[j]
			field := fmt.Sprintf("tenants[%d].tokens[%d]", i, j)
			h, problem, ok := resolveSecret(tok.SHA256, tok.Env, tok.File, field, dir, env)
			if problem != "" {
				p = append(p, problem)
			}
			if !ok {
				continue
			}
			tok.Hash = h
			prev, dup := first[h]
			switch {
			case !dup:
				first[h] = use{field, t.Name}
			case prev.tenant != t.Name:
				p = append(p, fmt.Sprintf("%s: the same token is configured for tenant %q by %s; a token must open one tenant only", field, prev.tenant, prev.field))
			}
		}
	}
	p = append(p, c.resolveAdminTokens(dir, env, func(h [32]byte) (field, tenant string, ok bool) {
		u, ok := first[h]
		return u.field, u.tenant, ok
	})...)
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Pull != nil {
			p = append(p, resolvePull(fmt.Sprintf("tenants[%d].pull", i), t.Pull, dir, env)...)
		}
		if t.OAuth != nil {
			p = append(p, resolveOAuth(fmt.Sprintf("tenants[%d].oauth", i), t.OAuth, dir, env)...)
		}
		if t.EntraJWT != nil {
			p = append(p, resolveEntraJWT(fmt.Sprintf("tenants[%d].entraJWT", i), t.EntraJWT, dir)...)
		}
	}
	p = append(p, c.resolveSchemas(dir)...)
	p = append(p, c.resolveServing(dir, env)...)

	return p
}

// resolveAdminTokens resolves admin.tokens into hashes. A token that is
// also a tenant's SCIM token (tenantToken finds it) is a problem: each
// credential opens either SCIM or the admin API, never both.
func (c *Config) resolveAdminTokens(dir string, env func(string) string, tenantToken func([32]byte) (field, tenant string, ok bool)) []string {
	var p []string
	shared := func(field string, h [32]byte) {
		if tf, tenant, ok := tenantToken(h); ok {
			p = append(p, fmt.Sprintf("%s: the same token is a SCIM token of tenant %q (%s); an admin token must not open SCIM, nor a SCIM token the admin API", field, tenant, tf))
		}
	}
	if c.envAdminTokenHash != nil {
		shared(EnvAdminToken, *c.envAdminTokenHash)
	}
	for j := range c.Admin.Tokens {
		tok := &c.Admin.Tokens[j]
		field := fmt.Sprintf("admin.tokens[%d]", j)
		h, problem, ok := resolveSecret(tok.SHA256, tok.Env, tok.File, field, dir, env)
		if problem != "" {
			p = append(p, problem)
		}
		if ok {
			tok.Hash = h
			shared(field, h)
		}
	}
	return p
}

// resolveOAuth resolves the client secrets of one tenant's oauth section.
func resolveOAuth(field string, o *OAuth, dir string, env func(string) string) []string {
	var p []string
	for i := range o.Clients {
		cl := &o.Clients[i]
		if f := cl.Federation; f != nil && f.JWKSFile != "" {
			ff := fmt.Sprintf("%s.clients[%d].federation", field, i)
			p = append(p, resolveEntraJWT(ff, &EntraJWT{JWKSFile: f.JWKSFile}, dir)...)
			f.JWKSFile = relTo(dir, f.JWKSFile)
		}
		for j := range cl.Secrets {
			sec := &cl.Secrets[j]
			sf := fmt.Sprintf("%s.clients[%d].secrets[%d]", field, i, j)
			h, problem, ok := resolveSecret(sec.SHA256, sec.Env, sec.File, sf, dir, env)
			if problem != "" {
				p = append(p, problem)
			}
			if ok {
				sec.Hash = h
			}
		}
	}
	return p
}

// resolveEntraJWT makes jwksFile relative to the working directory and
// checks that it can be read (the server re-reads it to rotate keys).
func resolveEntraJWT(field string, e *EntraJWT, dir string) []string {
	if e.JWKSFile == "" {
		return nil
	}
	e.JWKSFile = relTo(dir, e.JWKSFile)
	b, err := os.ReadFile(e.JWKSFile)
	if err != nil {
		return []string{fmt.Sprintf("%s.jwksFile: %s", field, fileError(err))}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return []string{fmt.Sprintf("%s.jwksFile: %s is empty", field, e.JWKSFile)}
	}
	return nil
}

// resolveSecret returns the hash of one secret (a token or a client
// secret) given by exactly one of sha, envName, file. ok is false when there
// is no usable hash (invalid entries were reported by validation already).
// Values from the environment or a file are trimmed of surrounding
// whitespace.
func resolveSecret(sha, envName, file, field, dir string, env func(string) string) (h [32]byte, problem string, ok bool) {
	switch {
	case sha != "" && envName == "" && file == "":
		b, err := hex.DecodeString(sha)
		if err != nil || len(b) != 32 {
			return h, "", false
		}
		return [32]byte(b), "", true
	case envName != "" && sha == "" && file == "":
		v := strings.TrimSpace(env(envName))
		if v == "" {
			return h, fmt.Sprintf("%s.env: environment variable %s is not set or empty", field, envName), false
		}
		return sha256.Sum256([]byte(v)), "", true
	case file != "" && sha == "" && envName == "":
		b, err := os.ReadFile(relTo(dir, file))
		if err != nil {
			return h, fmt.Sprintf("%s.file: %s", field, fileError(err)), false
		}
		v := bytes.TrimSpace(b)
		if len(v) == 0 {
			return h, fmt.Sprintf("%s.file: %s is empty", field, relTo(dir, file)), false
		}
		return sha256.Sum256(v), "", true
	}
	return h, "", false
}

// resolveSchemas reads the custom schema files and checks each, then all
// together, with schemas.Load.
func (c *Config) resolveSchemas(dir string) []string {
	var p []string
	ok := true
	for i := range c.Schemas {
		s := &c.Schemas[i]
		field := fmt.Sprintf("schemas[%d]", i)
		if s.File == "" || (s.ResourceType != "User" && s.ResourceType != "Group") {
			ok = false
			continue
		}
		b, err := os.ReadFile(relTo(dir, s.File))
		if err != nil {
			p = append(p, fmt.Sprintf("%s.file: %s", field, fileError(err)))
			ok = false
			continue
		}
		s.JSON = b
		ext := schemas.CustomExtension{ResourceType: s.ResourceType, JSON: b, Required: s.Required}
		if _, err := schemas.Load(ext); err != nil {
			p = append(p, fmt.Sprintf("%s.file: %s: %v", field, s.File, err))
			ok = false
		}
	}
	if ok && len(c.Schemas) > 1 {
		if _, err := schemas.Load(c.CustomSchemas()...); err != nil {
			p = append(p, fmt.Sprintf("schemas: %v", err))
		}
	}
	return p
}

// relTo resolves a relative path against dir.
func relTo(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// fileError describes a file read error (it names the path, never the
// content).
func fileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err.Error()
}

// resolveStoreURI reads store.uriFile, which holds a secret (the MongoDB
// connection string may carry credentials). It runs before validation so the
// URI it reads is validated like one given inline.
func (c *Config) resolveStoreURI(dir string) []string {
	if c.Store.URIFile == "" || c.Store.URI != "" {
		return nil
	}
	b, err := os.ReadFile(relTo(dir, c.Store.URIFile))
	if err != nil {
		return []string{"store.uriFile: " + fileError(err)}
	}
	c.Store.URI = strings.TrimSpace(string(b))
	return nil
}
