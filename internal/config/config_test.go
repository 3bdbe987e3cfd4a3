package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// envMap returns an env lookup function backed by m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// testEnv is the environment the testdata files expect.
var testEnv = map[string]string{
	"ACME_TOKEN":        "env-token-for-acme-0123456789",
	"ACME_OAUTH_SECRET": " env-oauth-secret-for-acme-0123\n",
	"ADMIN_TOKEN":       "admin-token-0123456789",
	"GRAPH_SECRET":      "graph-secret-from-env-0123",
}

func TestLoadNoFileGivesDefaults(t *testing.T) {
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.DataDir != "./data" || c.BaseURL != "" {
		t.Errorf("listen/dataDir/baseURL = %q %q %q", c.Listen, c.DataDir, c.BaseURL)
	}
	if c.Store.Type != "sqlite" || c.Store.Path != filepath.Join("data", "scimbridge.db") {
		t.Errorf("store = %+v", c.Store)
	}
	if c.MaxBodyBytes != 10<<20 || c.MaxResults != 1000 {
		t.Errorf("maxBodyBytes/maxResults = %d %d", c.MaxBodyBytes, c.MaxResults)
	}
	if c.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("log = %+v", c.Log)
	}
	if got := c.TenantNames(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("tenants = %v", got)
	}
	if len(c.TokenHashes("default")) != 0 {
		t.Error("default tenant has static tokens")
	}
	if c.Bulk != (Bulk{MaxOperations: 1000, MaxPayloadBytes: 1 << 20}) {
		t.Errorf("bulk = %+v", c.Bulk)
	}
	if c.Tenant("default") != nil || c.OAuthClientIDs("default") != nil {
		t.Error("the default tenant has a configuration entry")
	}
}

func TestLoadGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) < 3 {
		t.Fatalf("found only %d good files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f, envMap(testEnv)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.good.yaml", envMap(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "https://scim.example.com" {
		t.Errorf("baseURL = %q (trailing slash kept?)", c.BaseURL)
	}
	if c.Store.Path != "/srv/scimbridge/db/store.db" || c.MaxBodyBytes != 1<<20 || c.MaxResults != 200 {
		t.Errorf("store/maxBodyBytes/maxResults = %+v %d %d", c.Store, c.MaxBodyBytes, c.MaxResults)
	}
	if c.Log != (Log{Level: "debug", Format: "json"}) {
		t.Errorf("log = %+v", c.Log)
	}
	if got := c.TenantNames(); !slices.Equal(got, []string{"default", "acme", "globex-2"}) {
		t.Errorf("tenant names = %v", got)
	}
	if !c.HasTenant("acme") || !c.HasTenant("default") || c.HasTenant("initech") {
		t.Error("HasTenant")
	}
	if got := c.TokenHashes("default"); !slices.Equal(got, [][32]byte{sha256.Sum256([]byte("test"))}) {
		t.Errorf("default token hashes = %x", got)
	}
	want := [][32]byte{
		sha256.Sum256([]byte("env-token-for-acme-0123456789")),
		sha256.Sum256([]byte("file-token-for-acme-0123456789")), // trimmed
	}
	if got := c.TokenHashes("acme"); !slices.Equal(got, want) {
		t.Errorf("acme token hashes = %x", got)
	}
	if len(c.TokenHashes("globex-2")) != 0 {
		t.Error("globex-2 has tokens")
	}
	if c.Bulk != (Bulk{MaxOperations: 50, MaxPayloadBytes: 2 << 20}) {
		t.Errorf("bulk = %+v", c.Bulk)
	}
	if got := c.StrictTenants(); !slices.Equal(got, []string{"acme"}) {
		t.Errorf("strict tenants = %v, want [acme]", got)
	}

	// OAuth clients: secrets resolved into hashes, lifetime defaulted.
	def := c.Tenant("default")
	if def == nil || def.OAuth == nil || def.OAuth.TokenLifetime != time.Hour {
		t.Fatalf("default tenant oauth = %+v", def)
	}
	if got := def.OAuth.Clients[0].SecretHashes(); !slices.Equal(got, [][32]byte{sha256.Sum256([]byte("secret"))}) {
		t.Errorf("default client secret hashes = %x", got)
	}
	acme := c.Tenant("acme")
	if acme.OAuth.TokenLifetime != 150*time.Minute {
		t.Errorf("acme tokenLifetime = %v", acme.OAuth.TokenLifetime)
	}
	if got := c.OAuthClientIDs("acme"); !slices.Equal(got, []string{"entra-acme", "other"}) {
		t.Errorf("acme client ids = %v", got)
	}
	want = [][32]byte{
		sha256.Sum256([]byte("env-oauth-secret-for-acme-0123")),   // trimmed
		sha256.Sum256([]byte("acme-oauth-secret-from-file-0123")), // trimmed
	}
	if got := acme.OAuth.Clients[0].SecretHashes(); !slices.Equal(got, want) {
		t.Errorf("acme client secret hashes = %x", got)
	}
	if c.OAuthClientIDs("globex-2") != nil {
		t.Error("globex-2 has OAuth clients")
	}

	// Entra JWT: the JWKS file is relative to the config file.
	e := acme.EntraJWT
	if e == nil || e.TenantID != "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11" || e.Audience != "api://scimbridge-test" ||
		!strings.HasSuffix(e.Issuer, "/v2.0") || len(e.AppIDs) != 1 || e.JWKSURL != "" {
		t.Errorf("acme entraJWT = %+v", e)
	}
	if e != nil && e.JWKSFile != filepath.Join("testdata", "jwks.json") {
		t.Errorf("acme entraJWT.jwksFile = %q, want it relative to the config file", e.JWKSFile)
	}
	if g := c.Tenant("globex-2"); g.EntraJWT == nil || g.EntraJWT.JWKSFile != "" || g.OAuth != nil {
		t.Errorf("globex-2 = %+v", g)
	}

	custom := c.CustomSchemas()
	if len(custom) != 2 || custom[0].ResourceType != "User" || !custom[0].Required || len(custom[0].JSON) == 0 || custom[1].ResourceType != "Group" {
		t.Errorf("custom schemas = %+v", custom)
	}
}

// badFiles is the expected-error table: each bad file and the substrings
// its error must contain (each names the field or line of one problem).
var badFiles = map[string][]string{
	"unknown-key.bad.yaml":        {`line 2: unknown key "lisen"`},
	"unknown-nested-key.bad.yaml": {`line 3: unknown key "store.file"`, `line 9: unknown key "tenants[].tokens[].secret"`},
	"wrong-type.bad.yaml":         {`line 1: maxResults: expected a whole number, got "lots"`},
	"syntax.bad.yaml":             {"line "},
	"two-documents.bad.yaml":      {"more than one YAML document"},
	"many-problems.bad.yaml": {
		`listen: "abc" is not host:port`,
		`dataDir: must not be empty`,
		`baseURL: "https://scim.example.com/scim/v2" must not end with /scim/v2`,
		`store.uri: must be set for store.type mongo`,
		`maxBodyBytes: -1 must be greater than 0`,
		`maxResults: 10001 must be between 1 and 10000`,
		`log.level: "loud" must be one of debug, info, warn, error`,
		`log.format: "xml" must be text or json`,
	},
	"uniqueness.bad.yaml": {
		`tenants[0].uniqueness: "unique" must be rfc7643 or strict`,
		`tenants[1].uniqueness: "Strict" must be rfc7643 or strict`,
	},
	"tenants.bad.yaml": {
		`tenants[0].name: "Acme" must be lowercase`,
		`tenants[2].name: "acme" is already used by tenants[1]`,
		`tenants[3].name: must not be empty`,
		`tenants[4].name: "-leading-dash" must be lowercase`,
	},
	"tokens.bad.yaml": {
		`tenants[0].tokens[0]: must have exactly one of sha256, env, file`,
		`tenants[0].tokens[1]: must have exactly one of sha256, env, file`,
		`tenants[0].tokens[2].sha256: must be 64 hexadecimal digits`,
		`tenants[0].tokens[3].name: must not be empty`,
		`tenants[0].tokens[4].env: environment variable SCIMBRIDGE_TEST_UNSET_VARIABLE is not set or empty`,
		`tenants[0].tokens[5].file: cannot read testdata/secrets/does-not-exist.token`,
		`tenants[0].tokens[6].file: testdata/secrets/empty.token is empty`,
		`tenants[0].tokens[8].name: "dup" is already used by tokens[7]`,
	},
	"shared-token.bad.yaml": {
		`tenants[1].tokens[0]: the same token is configured for tenant "acme" by tenants[0].tokens[0]`,
	},
	"schemas.bad.yaml": {
		`schemas[0].resourceType: "Device" must be User or Group`,
		`schemas[1].file: cannot read testdata/schemas/missing.json`,
		`schemas[2].file: schemas/not_a_urn.json: custom schema 0: id "acme" is not a URN`,
		`schemas[3].file: must not be empty`,
	},
	"oauth.bad.yaml": {
		`tenants[0].oauth.tokenLifetime: 30m must be between 1h and 6h`,
		`tenants[0].oauth.clients[0].id: must not be empty`,
		`tenants[0].oauth.clients[1].id: must be 1 to 255 printable ASCII characters without spaces or ':'`,
		`tenants[0].oauth.clients[3].id: "entra" is already used by clients[2]`,
		`tenants[0].oauth.clients[3].secrets: must list at least one secret`,
		`tenants[0].oauth.clients[4].secrets[0]: must have exactly one of sha256, env, file`,
		`tenants[0].oauth.clients[4].secrets[1]: must have exactly one of sha256, env, file`,
		`tenants[0].oauth.clients[4].secrets[2].sha256: must be 64 hexadecimal digits (the SHA-256 of the secret, not the secret)`,
		`tenants[0].oauth.clients[4].secrets[3].env: environment variable SCIMBRIDGE_TEST_UNSET_VARIABLE is not set or empty`,
		`tenants[0].oauth.clients[4].secrets[4].file: cannot read testdata/secrets/does-not-exist.secret`,
		`tenants[0].oauth.clients[4].secrets[5].file: testdata/secrets/empty.token is empty`,
		`tenants[1].oauth.tokenLifetime: 6h1m must be between 1h and 6h`,
		`tenants[1].oauth.clients: must list at least one client`,
		`tenants[2].oauth.tokenLifetime: -1h must be between 1h and 6h`,
		`tenants[2].oauth.clients[0].id: must be 1 to 255 printable ASCII characters`,
	},
	"auth-failures.bad.yaml": {`line 3: unknown key "authFailures.perSecond"`},
	"auth-failures-negative.bad.yaml": {
		`authFailures.burst: -1 must not be negative`,
		`authFailures.perMinute: -5 must not be negative`,
	},
	"federation.bad.yaml": {
		`tenants[0].oauth.clients[0].federation.tenantId: must not be empty`,
		`tenants[0].oauth.clients[1].federation.tenantId: "contoso.onmicrosoft.com" is not a GUID`,
		`tenants[0].oauth.clients[1].federation.subject: must not be empty`,
		`tenants[0].oauth.clients[1].federation.audience: must not be empty`,
		`tenants[0].oauth.clients[1].federation.issuer: "ftp://issuer.example.com/" must start with http:// or https://`,
		`tenants[0].oauth.clients[2].federation: must have jwksURL or jwksFile, not both`,
		`tenants[0].oauth.clients[3].federation.jwksFile: cannot read testdata/does-not-exist.json`,
		`tenants[0].oauth.clients[4].secrets: must list at least one secret (or configure federation)`,
	},
	"oauth-lifetime-type.bad.yaml": {"line 4: tenants[0].oauth.tokenLifetime: expected a duration such as 30s, 5m or 1h (a bare number has no unit), got 3600"},
	// Values of the wrong type name their field and the type expected, and
	// the rest of the file is still checked.
	"types.bad.yaml": {
		"line 5: store.connectRetry: expected a duration such as 30s, 5m or 1h (a bare number has no unit), got 5",
		`line 6: maxResults: expected a whole number, got "lots"`,
		"line 7: log.format: expected a string, got a list",
		"line 8: bulk: expected a mapping of keys to values, got 7",
		`line 11: tenants[0].tokens: expected a list, got "x"`,
		"line 13: tenants[0].oauth.tokenLifetime: expected a duration",
		`listen: "abc" is not host:port`,
		`log.level: "loud" must be one of debug, info, warn, error`,
		`tenants[0].oauth.clients[0].secrets[0].sha256: must be 64 hexadecimal digits`,
		`tenants[1].name: "Bad" must be lowercase`,
		`line 16: unknown key "bogus"`,
	},
	"entra-jwt.bad.yaml": {
		`tenants[0].entraJWT.tenantId: must not be empty`,
		`tenants[1].entraJWT.tenantId: "contoso.onmicrosoft.com" is not a GUID`,
		`tenants[1].entraJWT.issuer: "ftp://sts.example.com/" must start with http:// or https://`,
		`tenants[1].entraJWT.appIds[0]: must not be empty`,
		`tenants[1].entraJWT: must have jwksURL or jwksFile, not both`,
		`tenants[2].entraJWT.jwksURL: "https:///keys" has no host`,
		`tenants[3].entraJWT.jwksFile: cannot read testdata/missing-jwks.json`,
		`tenants[4].entraJWT.jwksFile: testdata/secrets/empty.token is empty`,
	},
	"bulk.bad.yaml": {
		`bulk.maxOperations: 0 must be greater than 0`,
		`bulk.maxPayloadBytes: -5 must be greater than 0`,
	},
	"unknown-oauth-key.bad.yaml": {
		`line 4: unknown key "tenants[].oauth.lifetime"`,
		`line 7: unknown key "tenants[].oauth.clients[].secret"`,
		`line 9: unknown key "tenants[].oauth.clients[].secrets[].value"`,
		`line 12: unknown key "tenants[].entraJWT.jwksUrl"`,
		`line 14: unknown key "bulk.maxPayloadSize"`,
	},
	"limits.bad.yaml": {
		`baseURL: "https://scim.example.com/bridge?x=1" must not have a query or fragment`,
		`trustedProxies[1]: "10.0.0.300" is not an IP address or CIDR range`,
		`trustedProxies[2]: "fd00::/129" is not an IP address or CIDR range`,
		`trustedProxies[3]: "proxy.example" is not an IP address or CIDR range`,
		`limits.maxStringBytes: 0 must be greater than 0`,
		`limits.maxIdentifierBytes: -1 must be greater than 0`,
		`limits.maxConcurrentRequests: 0 must be greater than 0`,
		`limits.queueWait: 0s must be greater than 0`,
		`limits.minBodyBytesPerSecond: -1 must not be negative`,
		`limits.bodyGracePeriod: -5s must be greater than 0`,
	},
	"baseurl-path.bad.yaml": {`baseURL: "https://scim.example.com/a/../b" has a path prefix with characters other than`},
	"pull.bad.yaml": {
		`tenants[0].pull.interval: 10s must be 0 (on demand only) or at least 1m`,
		`tenants[0].pull.onDelete: "remove" must be disable or delete`,
		`tenants[0].pull.scope: must list groups or users`,
		`tenants[0].pull.graph: must be set`,
		`tenants[1].pull.interval: -1m must be 0 (on demand only) or at least 1m`,
		`tenants[1].pull.scope.groups[0]: must not be empty`,
		`tenants[1].pull.scope.users[0]: must not be empty`,
		`tenants[1].pull.graph.tenantId: "not a tenant" is not a GUID or a domain name`,
		`tenants[1].pull.graph.clientId: "contoso.onmicrosoft.com" is not a GUID`,
		`tenants[1].pull.graph: must have clientSecret or certificate, not both`,
		`tenants[1].pull.graph.clientSecret.sha256: not allowed: this secret is sent`,
		`tenants[1].pull.graph.certificate.password: must have exactly one of env, file`,
		`tenants[1].pull.graph.cloud: "mars" must be one of global, usgov, usgovdod, china`,
		`tenants[1].pull.graph.authorityHost: "http://login.example/" must start with https://`,
		`tenants[1].pull.graph.graphBaseURL: "https://graph.example/v1.0?x=1" must not have a query or fragment`,
		`tenants[2].pull.graph.tenantId: must not be empty`,
		`tenants[2].pull.graph.clientId: must not be empty`,
		`tenants[2].pull.graph: must have clientSecret or certificate`,
		`tenants[2].pull.graph.authorityHost: "https:///nohost" has no host`,
		`tenants[3].pull.graph.clientSecret.env: environment variable SCIMBRIDGE_TEST_UNSET_VARIABLE is not set or empty`,
		`tenants[3].pull.graph.caFile: cannot read testdata/pull/missing-ca.pem`,
		`tenants[4].pull.graph.certificate.file: testdata/pull/empty.pfx is empty`,
		`tenants[4].pull.graph.caFile: testdata/pull/bad-ca.pem holds no PEM certificate`,
		`tenants[5].pull.graph.certificate.file: cannot read testdata/pull/missing.pfx`,
		`tenants[5].pull.graph.certificate.password.file: testdata/secrets/empty.token is empty`,
		`tenants[5].pull.graph.clientSecret: must have exactly one of env, file`,
	},
	"pull-types.bad.yaml": {
		"line 4: tenants[0].pull.interval: expected a duration such as 30s, 5m or 1h (a bare number has no unit), got 30",
		`line 5: tenants[0].pull.createDisabledUsers: expected true or false, got "maybe"`,
		`line 7: tenants[0].pull.scope.groups: expected a list, got a string`,
		`line 11: tenants[0].pull.graph.clientSecret: expected a mapping of keys to values, got a string`,
		`line 12: unknown key "tenants[].pull.graph.tenantID"`,
	},
	"admin.bad.yaml": {
		`admin.tokens[0]: the same token is a SCIM token of tenant "acme" (tenants[0].tokens[0])`,
		`admin.tokens[1].name: must not be empty`,
		`admin.tokens[1].sha256: must be 64 hexadecimal digits`,
		`line 6: unknown key "admin.tokens[].secret"`,
		`line 18: unknown key "tenants[].pull.graph.clientSecret.value"`,
		`admin.tokens[3].name: "ops" is already used by tokens[0]`,
		`admin.tokens[3].file: cannot read testdata/secrets/does-not-exist.token`,
	},
	"schemas-duplicate.bad.yaml": {`schemas: custom schema "urn:example:params:scim:schemas:extension:acme:2.0:User": already defined for User`},
}

func TestLoadBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range files {
		if _, ok := badFiles[filepath.Base(f)]; !ok {
			t.Errorf("%s has no entry in the expected-error table", f)
		}
	}
	env := map[string]string{"ACME_TOKEN": "file-token-for-acme-0123456789"} // the same as secrets/acme.token
	for name, want := range badFiles {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name), envMap(env))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *config.Error: %v", err, err)
			}
			msg := err.Error()
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "file-token-for-acme") || strings.Contains(msg, "hunter2") {
				t.Errorf("error reveals a secret:\n%s", msg)
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		"SCIMBRIDGE_LISTEN":                 "0.0.0.0:1234",
		"SCIMBRIDGE_DATA_DIR":               "/tmp/sb",
		"SCIMBRIDGE_BASE_URL":               "http://scim.internal:8080",
		"SCIMBRIDGE_LOG_LEVEL":              "warn",
		"SCIMBRIDGE_LOG_FORMAT":             "json",
		"SCIMBRIDGE_MAX_BODY_BYTES":         "2048",
		"SCIMBRIDGE_MAX_RESULTS":            "50",
		"SCIMBRIDGE_TOKEN":                  " plain-env-token \n",
		"SCIMBRIDGE_BULK_MAX_OPERATIONS":    "10",
		"SCIMBRIDGE_BULK_MAX_PAYLOAD_BYTES": "4096",
		"ACME_TOKEN":                        "env-token-for-acme-0123456789",
		"ACME_OAUTH_SECRET":                 "env-oauth-secret-for-acme-0123",
	}
	c, err := Load("testdata/minimal.good.yaml", envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:1234" || c.DataDir != "/tmp/sb" || c.BaseURL != "http://scim.internal:8080" {
		t.Errorf("listen/dataDir/baseURL = %q %q %q", c.Listen, c.DataDir, c.BaseURL)
	}
	if c.Store.Path != "/tmp/sb/scimbridge.db" {
		t.Errorf("store.path = %q, want it under the overridden dataDir", c.Store.Path)
	}
	if c.Log != (Log{Level: "warn", Format: "json"}) || c.MaxBodyBytes != 2048 || c.MaxResults != 50 {
		t.Errorf("log/maxBodyBytes/maxResults = %+v %d %d", c.Log, c.MaxBodyBytes, c.MaxResults)
	}
	if got := c.TokenHashes("default"); !slices.Equal(got, [][32]byte{sha256.Sum256([]byte("plain-env-token"))}) {
		t.Errorf("default token hashes = %x", got)
	}
	if c.Bulk != (Bulk{MaxOperations: 10, MaxPayloadBytes: 4096}) {
		t.Errorf("bulk = %+v", c.Bulk)
	}

	// The store path of the file wins over the dataDir default.
	env["SCIMBRIDGE_STORE_PATH"] = "/elsewhere/x.db"
	c, err = Load("testdata/full.good.yaml", envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Path != "/elsewhere/x.db" || c.DataDir != "/tmp/sb" {
		t.Errorf("store.path/dataDir = %q %q", c.Store.Path, c.DataDir)
	}
	// SCIMBRIDGE_TOKEN adds to the configured default-tenant tokens.
	if n := len(c.TokenHashes("default")); n != 2 {
		t.Errorf("default tenant has %d static tokens, want 2", n)
	}
}

func TestEnvOverrideProblems(t *testing.T) {
	env := map[string]string{
		"SCIMBRIDGE_LISTEN":                 "nope",
		"SCIMBRIDGE_MAX_RESULTS":            "many",
		"SCIMBRIDGE_MAX_BODY_BYTES":         "0",
		"SCIMBRIDGE_BASE_URL":               "ftp://user:hunter2@example.com",
		"SCIMBRIDGE_BULK_MAX_OPERATIONS":    "lots",
		"SCIMBRIDGE_BULK_MAX_PAYLOAD_BYTES": "0",
	}
	_, err := Load("", envMap(env))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`listen: "nope" is not host:port`,
		`SCIMBRIDGE_MAX_RESULTS: "many" is not an integer`,
		`maxBodyBytes: 0 must be greater than 0`,
		`baseURL: "ftp://example.com" must start with http:// or https://`,
		`SCIMBRIDGE_BULK_MAX_OPERATIONS: "lots" is not an integer`,
		`bulk.maxPayloadBytes: 0 must be greater than 0`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals a password:\n%v", err)
	}
}

func TestSecretsNeverInErrorsOrConfig(t *testing.T) {
	dir := t.TempDir()
	secrets := []string{"s3cr3t-file-token-xyz", "s3cr3t-env-token-xyz", "s3cr3t-main-token-xyz", "s3cr3t-pasted-into-sha256"}
	if err := os.WriteFile(filepath.Join(dir, "tok"), []byte(secrets[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
listen: bad
tenants:
  - name: a
    tokens:
      - {name: f, file: tok}
      - {name: e, env: A_TOKEN}
      - {name: wrong, sha256: %s}
  - name: b
    tokens:
      - {name: f, file: tok}
      - {name: e, env: A_TOKEN}
  - name: default
    tokens:
      - {name: e, env: A_TOKEN}
    oauth:
      clients:
        - id: c
          secrets:
            - {file: tok}
            - {env: A_TOKEN}
            - {sha256: %s}
            - {env: A_TOKEN, file: tok}
`, secrets[3], secrets[3])
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envMap(map[string]string{"A_TOKEN": secrets[1], "SCIMBRIDGE_TOKEN": secrets[1]})
	_, err := Load(path, env)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error reveals %q:\n%v", s, err)
		}
	}
	if n := strings.Count(err.Error(), "the same token"); n != 3 {
		t.Errorf("%d shared-token problems, want 3:\n%v", n, err)
	}

	// A good config holds hashes only.
	env = envMap(map[string]string{"A_TOKEN": secrets[1], "SCIMBRIDGE_TOKEN": secrets[2]})
	good := "tenants:\n  - name: a\n    tokens:\n      - {name: f, file: tok}\n      - {name: e, env: A_TOKEN}\n" +
		"    oauth:\n      clients:\n        - id: c\n          secrets: [{file: tok}, {env: A_TOKEN}]\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprintf("%+v %#v", c, c)
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("config holds %q: %s", s, dump)
		}
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := Default()
	c.Listen = ""
	c.MaxResults = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 { // listen, store.path (no derived default), maxResults
		t.Fatalf("problems: %v", err)
	}
	c = Default()
	c.applyDerivedDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	env := envMap(map[string]string{"ACME_SCIM_TOKEN": "example-token-0123456789", "ACME_OAUTH_SECRET": "example-secret-0123456789"})
	c, err := Load("../../config.example.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.OAuthClientIDs("acme"); len(got) != 1 || c.Bulk != (Bulk{MaxOperations: DefaultBulkMaxOperations, MaxPayloadBytes: DefaultBulkMaxPayloadBytes}) {
		t.Errorf("example: acme OAuth clients %v, bulk %+v", got, c.Bulk)
	}
}

func TestMongoStore(t *testing.T) {
	dir := t.TempDir()
	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	// SCIMBRIDGE_MONGO_URI alone selects the MongoDB store with defaults.
	c, err := Load("", envOf(map[string]string{EnvMongoURI: "mongodb://u:secret@db1:27017/?replicaSet=rs0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Type != "mongo" || c.Store.Database != DefaultMongoDB || c.Store.URI == "" {
		t.Fatalf("store %+v", c.Store)
	}

	// The URI may come from a file relative to the config file.
	if err := os.WriteFile(filepath.Join(dir, "mongo.uri"), []byte("mongodb://db2:27017\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("store:\n  type: mongo\n  uriFile: mongo.uri\n  database: prod\n  connectRetry: 30s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(cfgPath, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.URI != "mongodb://db2:27017" || c.Store.Database != "prod" || c.Store.ConnectRetry.String() != "30s" {
		t.Fatalf("store %+v", c.Store)
	}

	// A bad scheme is named without leaking the password.
	if err := os.WriteFile(cfgPath, []byte("store:\n  type: mongo\n  uri: http://u:hunter2@db\n  database: a.b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(cfgPath, envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "store.uri:") || !strings.Contains(err.Error(), "store.database:") {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password leaked: %v", err)
	}
}

// TestLoadWrongTypeReportedOnce checks that the fields inside a value of the
// wrong type (which kept their zero values) are not reported again, and
// that a long value is never quoted (it may be a secret under the wrong key).
func TestLoadWrongTypeReportedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "maxBodyBytes: scb_0123456789abcdef\ntenants:\n  - name: acme\n    tokens: [abc]\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *config.Error", err)
	}
	want := []string{
		"line 1: maxBodyBytes: expected a whole number, got a string",
		`line 4: tenants[0].tokens[0]: expected a mapping of keys to values, got "abc"`,
	}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ce.Problems, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "scb_") {
		t.Errorf("the error quotes the value: %v", err)
	}
}

// TestExampleConfigNeedsItsEnv checks what the README and the file's header
// say: config.example.yaml loads only with its env: variables set, and the
// error names them.
func TestExampleConfigNeedsItsEnv(t *testing.T) {
	_, err := Load("../../config.example.yaml", envMap(nil))
	if err == nil {
		t.Fatal("config.example.yaml loads without its environment variables")
	}
	for _, v := range []string{"ACME_SCIM_TOKEN", "ACME_OAUTH_SECRET"} {
		if !strings.Contains(err.Error(), "environment variable "+v+" is not set") {
			t.Errorf("error does not name %s: %v", v, err)
		}
	}
}

func TestStaticTokens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "tenants:\n  - name: acme\n  - name: default\n    tokens:\n      - name: a\n        env: A_TOKEN\n      - name: b\n        env: B_TOKEN\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, envMap(map[string]string{"A_TOKEN": "token-a", "B_TOKEN": "token-b", EnvToken: "token-env"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.StaticTokens(DefaultTenant)
	want := []StaticToken{
		{Name: EnvToken, Source: TokenSourceEnv, Field: EnvToken, Hash: sha256.Sum256([]byte("token-env"))},
		{Name: "a", Source: TokenSourceConfig, Field: "tenants[1].tokens[0]", Hash: sha256.Sum256([]byte("token-a"))},
		{Name: "b", Source: TokenSourceConfig, Field: "tenants[1].tokens[1]", Hash: sha256.Sum256([]byte("token-b"))},
	}
	if !slices.Equal(got, want) {
		t.Errorf("StaticTokens(default) = %+v, want %+v", got, want)
	}
	if got := c.StaticTokens("acme"); len(got) != 0 {
		t.Errorf("StaticTokens(acme) = %+v", got)
	}
}

// TestLoadWrongTypesOnOneLine checks that two values of the wrong type on
// one line are each named by their own key.
func TestLoadWrongTypesOnOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("log: {level: [a], format: [b]}\nbulk: {maxOperations: x, maxPayloadBytes: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *config.Error", err)
	}
	want := []string{
		"line 1: log.level: expected a string, got a list",
		"line 1: log.format: expected a string, got a list",
		`line 2: bulk.maxOperations: expected a whole number, got "x"`,
		`line 2: bulk.maxPayloadBytes: expected a whole number, got "x"`,
	}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ce.Problems, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadFractionForWholeNumber checks that a number with a fractional
// part for a whole-number field is an error naming the field (yaml.v3 would
// truncate it silently: maxResults: 1.5 became 1), at any depth, with every
// problem listed; a whole number written as a float (1e3) still loads, and a
// number too large says so.
func TestLoadFractionForWholeNumber(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "maxResults: 1.5\n" +
		"limits:\n  maxStringBytes: 4096.25\n  maxIdentifierBytes: 1e3\n" +
		"bulk:\n  maxOperations: 99999999999999999999\n" +
		"patch:\n  maxOperations: 12.000000001\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *config.Error", err)
	}
	want := []string{
		"line 6: bulk.maxOperations: expected a whole number, got a number out of range",
		"line 1: maxResults: expected a whole number, got 1.5",
		"line 3: limits.maxStringBytes: expected a whole number, got 4096.25",
		"line 8: patch.maxOperations: expected a whole number, got a number with a fractional part",
	}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ce.Problems, "\n"), strings.Join(want, "\n"))
	}

	if err := os.WriteFile(path, []byte("maxResults: 1e3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxResults != 1000 {
		t.Errorf("maxResults: 1e3 loaded as %d", c.MaxResults)
	}
}
