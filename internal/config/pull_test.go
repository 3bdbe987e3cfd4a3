package config

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadPull(t *testing.T) {
	c, err := Load("testdata/pull.good.yaml", envMap(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PullTenants(); !slices.Equal(got, []string{"default", "acme", "globex"}) {
		t.Errorf("pull tenants = %v", got)
	}
	def := c.Tenant("default").Pull
	if def.Interval != 30*time.Minute || def.OnDelete != OnDeleteDisable || def.CreateDisabledUsers || def.Scope != nil {
		t.Errorf("default pull = %+v", def)
	}
	if g := def.Graph; g.Cloud != CloudGlobal || g.ClientSecret.Value != "graph-secret-from-env-0123" || g.Certificate != nil || g.CAPEM != nil {
		t.Errorf("default graph = %+v (secret %q)", g, g.ClientSecret.Value)
	}

	acme := c.Tenant("acme").Pull
	if acme.Interval != 0 || acme.OnDelete != OnDeleteDelete || !acme.CreateDisabledUsers {
		t.Errorf("acme pull = %+v", acme)
	}
	if s := acme.Scope; s == nil || !slices.Equal(s.Groups, []string{"Print Users", "5b3c8f0e-0000-4000-8000-000000000001"}) ||
		!slices.Equal(s.Users, []string{"ada@contoso.example"}) || !s.Nested {
		t.Errorf("acme scope = %+v", acme.Scope)
	}
	g := acme.Graph
	if g.TenantID != "contoso.onmicrosoft.com" || g.Cloud != CloudUSGov || g.AuthorityHost != "https://login.example/" ||
		g.GraphBaseURL != "https://graph.example/v1.0" || g.ClientSecret != nil {
		t.Errorf("acme graph = %+v", g)
	}
	// Files are relative to the config file and read by Load.
	pem, _ := os.ReadFile("testdata/pull/app.pem")
	if g.Certificate.File != filepath.Join("testdata", "pull", "app.pem") || string(g.Certificate.Data) != string(pem) {
		t.Errorf("certificate = %q, %d bytes", g.Certificate.File, len(g.Certificate.Data))
	}
	if g.Certificate.Password.Value != "graph-secret-from-file-0123" {
		t.Errorf("certificate password = %q", g.Certificate.Password.Value)
	}
	ca, _ := os.ReadFile("testdata/pull/ca.pem")
	if g.CAFile != filepath.Join("testdata", "pull", "ca.pem") || string(g.CAPEM) != string(ca) {
		t.Errorf("caFile = %q, %d bytes", g.CAFile, len(g.CAPEM))
	}
	if gx := c.Tenant("globex").Pull.Graph; gx.Cloud != CloudChina || gx.ClientSecret.Value != "graph-secret-from-file-0123" {
		t.Errorf("globex graph = %+v", gx)
	}

	want := [][32]byte{sha256.Sum256([]byte("admin-token-0123456789")), sha256.Sum256([]byte("file-token-for-acme-0123456789"))}
	if got := c.AdminTokenHashes(); !slices.Equal(got, want) {
		t.Errorf("admin token hashes = %x", got)
	}
	if names := c.AdminTokenNames(); names[want[0]] != "ops" || names[want[1]] != "console" {
		t.Errorf("admin token names = %v", names)
	}
	// Admin tokens are no tenant's tokens.
	for _, name := range c.TenantNames() {
		for _, h := range c.TokenHashes(name) {
			if slices.Contains(want, h) {
				t.Errorf("tenant %s accepts an admin token", name)
			}
		}
	}

	// Printing the configuration never shows a sent secret or the key.
	dump := fmt.Sprintf("%+v %#v %v %+v %s", c, c, *def.Graph.ClientSecret, *g.Certificate, *g.Certificate.Password)
	for _, s := range []string{"graph-secret-from-env-0123", "graph-secret-from-file-0123", "PRIVATE KEY"} {
		if strings.Contains(dump, s) {
			t.Errorf("printed configuration reveals %q", s)
		}
	}
}

func TestAdminTokenFromEnv(t *testing.T) {
	c, err := Load("", envMap(map[string]string{EnvAdminToken: " admin-secret \n"}))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("admin-secret"))
	if got := c.AdminTokenHashes(); !slices.Equal(got, [][32]byte{h}) || c.AdminTokenNames()[h] != EnvAdminToken {
		t.Errorf("admin tokens = %x %v", got, c.AdminTokenNames())
	}
	if len(c.TokenHashes(DefaultTenant)) != 0 {
		t.Error("SCIMBRIDGE_ADMIN_TOKEN opens the default tenant")
	}
	// The same secret in SCIMBRIDGE_TOKEN and SCIMBRIDGE_ADMIN_TOKEN would
	// open both SCIM and the admin API.
	_, err = Load("", envMap(map[string]string{EnvAdminToken: "same", EnvToken: "same"}))
	if err == nil || !strings.Contains(err.Error(), `SCIMBRIDGE_ADMIN_TOKEN: the same token is a SCIM token of tenant "default" (SCIMBRIDGE_TOKEN)`) {
		t.Errorf("shared env token: %v", err)
	}
	if c, _ := Load("", envMap(nil)); len(c.AdminTokenHashes()) != 0 {
		t.Error("admin tokens without configuration")
	}
}

// TestPullSecretsNeverInErrors pastes secrets where they do not belong
// (a sha256 field of a sent secret, a URL's user info) and checks that no
// error quotes them.
func TestPullSecretsNeverInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yml := `tenants:
  - name: a
    pull:
      graph:
        tenantId: 0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11
        clientId: cb5b4b43-1d3b-4e2a-9f27-3c7a1b8d2e55
        clientSecret: {sha256: pasted-secret-value-xyz}
        graphBaseURL: http://user:pasted-password-xyz@graph.example/v1.0
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, envMap(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"tenants[0].pull.graph.clientSecret.sha256: not allowed", `tenants[0].pull.graph.graphBaseURL: "http://graph.example/v1.0" must not contain user info`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	for _, s := range []string{"pasted-secret-value-xyz", "pasted-password-xyz"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error reveals %q:\n%v", s, err)
		}
	}
}

// TestExamplePullBlock uncomments the pull block of config.example.yaml
// and loads it: the example must stay a valid configuration.
func TestExamplePullBlock(t *testing.T) {
	b, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	start := -1 // the indentation of "# pull:"
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		if trimmed == "# pull:" {
			start = len(indent)
		}
		if start < 0 {
			continue
		}
		if !strings.HasPrefix(trimmed, "#") || len(indent) < start {
			break
		}
		block = append(block, indent+strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " "))
	}
	if len(block) < 10 {
		t.Fatalf("no pull block found in config.example.yaml (%d lines)", len(block))
	}
	yml := "tenants:\n  - name: acme\n" + strings.Join(block, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, envMap(map[string]string{"ACME_GRAPH_SECRET": "s"}))
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	p := c.Tenant("acme").Pull
	if p.Interval != 30*time.Minute || p.Scope == nil || p.Graph.ClientSecret.Value != "s" || p.Graph.Certificate != nil {
		t.Errorf("pull = %+v", p)
	}
}
