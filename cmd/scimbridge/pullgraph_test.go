package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/test/fakegraph"
)

// fakeGraphConfig writes a config whose tenant acme pulls from fg (secret
// in GRAPH_SECRET, fg's certificate in caFile, on demand) into dir, and
// returns its path and the environment it needs. extra is added to the
// pull section; cred, if set, replaces the clientSecret line.
func fakeGraphConfig(t *testing.T, dir string, fg *fakegraph.Server, extra string, cred ...string) (string, map[string]string) {
	t.Helper()
	ca := filepath.Join(dir, "fakegraph-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fg.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	credLine := "clientSecret: {env: GRAPH_SECRET}"
	if len(cred) > 0 {
		credLine = cred[0]
	}
	yml := fmt.Sprintf(`dataDir: %s
admin:
  tokens:
    - {name: ops, env: ADMIN_TOKEN}
tenants:
  - name: acme
    tokens:
      - {name: entra, env: ACME_TOKEN}
    pull:
%s      graph:
        tenantId: %s
        clientId: %s
        %s
        authorityHost: %s
        graphBaseURL: %s
        caFile: fakegraph-ca.pem
`, filepath.Join(dir, "data"), extra, fg.TenantID(), fg.ClientID(), credLine, fg.AuthorityHost(), fg.GraphBaseURL())
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ADMIN_TOKEN": pullEnv["ADMIN_TOKEN"], "ACME_TOKEN": pullEnv["ACME_TOKEN"], "GRAPH_SECRET": fg.ClientSecret()}
	return path, env
}

// users returns the tenant's users by userName.
func storeUsers(t *testing.T, st store.Store, tenant string) map[string]store.Resource {
	t.Helper()
	page, err := st.Query(context.Background(), tenant, store.User, store.Query{Count: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Resource{}
	for _, r := range page.Resources {
		out[r.Attrs["userName"].(string)] = r
	}
	return out
}

func managerOf(r store.Resource) string {
	ext, _ := r.Attrs[pull.EnterpriseURN].(map[string]any)
	m, _ := ext["manager"].(map[string]any)
	v, _ := m["value"].(string)
	return v
}

// TestPullFromFakeGraph runs `scimbridge pull` end to end: the real Graph
// source (azidentity client secret against the fake's token endpoint,
// delta queries over TLS trusted through caFile) into the SQLite store.
func TestPullFromFakeGraph(t *testing.T) {
	fg := fakegraph.New(fakegraph.Options{PageSize: 2})
	defer fg.Close()
	const (
		ada   = "aaaaaaaa-0000-4000-8000-000000000001"
		bob   = "aaaaaaaa-0000-4000-8000-000000000002"
		carol = "aaaaaaaa-0000-4000-8000-000000000003"
		dave  = "aaaaaaaa-0000-4000-8000-000000000004"
		print = "bbbbbbbb-0000-4000-8000-000000000001"
	)
	fg.PutUser(fakegraph.User{ID: ada, UserPrincipalName: "ada@contoso.example", DisplayName: "Ada", JobTitle: "Engineer", Mail: "ada@contoso.example", MailNickname: "ada"})
	fg.PutUser(fakegraph.User{ID: bob, UserPrincipalName: "bob@contoso.example", DisplayName: "Bob", Disabled: true})
	fg.PutUser(fakegraph.User{ID: carol, UserPrincipalName: "carol@contoso.example", DisplayName: "Carol", Manager: ada})
	fg.PutUser(fakegraph.User{ID: dave, UserPrincipalName: "dave@contoso.example", DisplayName: "Dave"})
	fg.PutGroup(fakegraph.Group{ID: print, DisplayName: "Print Users"})
	fg.AddMembers(print, ada, carol)

	dir := t.TempDir()
	cfg, env := fakeGraphConfig(t, dir, fg, "")
	pullOK := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCmd(t, env, append([]string{"pull", "--config", cfg}, args...)...)
		if err != nil {
			t.Fatalf("pull %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
		}
		return out
	}

	// A dry run plans and writes nothing.
	out := pullOK("--dry-run")
	for _, w := range []string{`Dry run of tenant "acme"`, ": succeeded in ", "Plan:", "create", "ada@contoso.example", "carol@contoso.example", "Print Users", "1  disabled"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "bob@contoso.example") {
		t.Errorf("the dry run plans to create a disabled user:\n%s", out)
	}
	st := openTestStore(t, dir)
	if n := len(storeUsers(t, st, "acme")); n != 0 {
		t.Fatalf("the dry run wrote %d users", n)
	}

	// The real round.
	out = pullOK()
	if !strings.Contains(out, `Pull of tenant "acme"`) || !strings.Contains(out, "created 4,") || !strings.Contains(out, "skipped 1,") {
		t.Errorf("pull output:\n%s", out)
	}
	users := storeUsers(t, st, "acme")
	if len(users) != 3 || users["ada@contoso.example"].Attrs["title"] != "Engineer" || users["ada@contoso.example"].Attrs["externalId"] != "ada" {
		t.Fatalf("users = %v", users)
	}
	if managerOf(users["carol@contoso.example"]) != users["ada@contoso.example"].ID {
		t.Errorf("carol's manager = %q, want ada's id", managerOf(users["carol@contoso.example"]))
	}
	groups, err := st.Query(context.Background(), "acme", store.Group, store.Query{Count: 10})
	if err != nil || len(groups.Resources) != 1 || groups.Resources[0].Attrs["displayName"] != "Print Users" {
		t.Fatalf("groups = %+v (%v)", groups, err)
	}
	members, err := st.Members(context.Background(), groups.Resources[0].Ref, "", 10)
	if err != nil || len(members) != 2 {
		t.Errorf("members = %+v (%v)", members, err)
	}

	// Changes: dave renamed, carol hard-deleted (onDelete: disable).
	daveID := users["dave@contoso.example"].ID
	fg.PutUser(fakegraph.User{ID: dave, UserPrincipalName: "david@contoso.example", DisplayName: "David"})
	fg.DeleteUser(carol, true)
	out = pullOK()
	if !strings.Contains(out, "incremental") || !strings.Contains(out, "disabled 1,") {
		t.Errorf("incremental pull output:\n%s", out)
	}
	users = storeUsers(t, st, "acme")
	if r, ok := users["david@contoso.example"]; !ok || r.ID != daveID {
		t.Errorf("renamed user: %+v (want the same resource %s)", users, daveID)
	}
	if users["carol@contoso.example"].Attrs["active"] != false {
		t.Errorf("carol = %+v, want disabled", users["carol@contoso.example"].Attrs)
	}
	// A replayed round changes nothing; --progress draws the counts on
	// stderr even though it is no terminal here.
	out, errOut, err := runCmd(t, env, "pull", "--config", cfg, "--dry-run", "--progress")
	if err != nil || !strings.Contains(out, "Plan: nothing to change.") {
		t.Errorf("second dry run (%v):\n%s", err, out)
	}
	if !strings.Contains(errOut, "pages ") || !strings.Contains(errOut, "memberships ") {
		t.Errorf("--progress drew no counts:\n%q", errOut)
	}

	// The status lists the four runs.
	out, _, err = runCmd(t, env, "pull", "status", "--config", cfg)
	if err != nil || strings.Count(out, "  cli  ") != 4 || !strings.Contains(out, "on demand only") {
		t.Errorf("status (%v):\n%s", err, out)
	}

	// A wrong secret fails the run with Entra's error, exit status 1.
	env["GRAPH_SECRET"] = "wrong"
	out, _, err = runCmd(t, env, "pull", "--config", cfg)
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(out+stderr.String(), "AADSTS") {
		t.Errorf("wrong secret: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
}

// TestPullWithCertificate signs in with a certificate: a PKCS#12 file in
// the AES/PBES2 encryption OpenSSL 3 writes by default, its password from
// the environment. A wrong password stops the pull before any request,
// naming the field.
func TestPullWithCertificate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "scimbridge pull"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pfx-password")
	if err != nil {
		t.Fatal(err)
	}
	fg := fakegraph.New(fakegraph.Options{ClientCertificates: []*x509.Certificate{cert}})
	defer fg.Close()
	fg.PutUser(fakegraph.User{ID: "aaaaaaaa-0000-4000-8000-000000000001", UserPrincipalName: "ada@contoso.example", DisplayName: "Ada"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.pfx"), pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, env := fakeGraphConfig(t, dir, fg, "", "certificate: {file: app.pfx, password: {env: PFX_PASSWORD}}")
	delete(env, "GRAPH_SECRET")

	env["PFX_PASSWORD"] = "wrong"
	_, _, err = runCmd(t, env, "pull", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "tenants[0].pull.graph.certificate") || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: %v", err)
	}
	if n := len(fg.Requests()); n != 0 {
		t.Errorf("a pull with a wrong certificate password sent %d requests", n)
	}

	// serve refuses to start with it too, rather than fail every round.
	var stdout, stderr bytes.Buffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--config", cfg})
	if err == nil || !strings.Contains(err.Error(), "tenants[0].pull.graph.certificate") || strings.Contains(stdout.String(), "listening") {
		t.Errorf("serve with a wrong certificate password: %v\n%s", err, stdout.String())
	}

	env["PFX_PASSWORD"] = "pfx-password"
	out, errOut, err := runCmd(t, env, "pull", "--config", cfg)
	if err != nil || !strings.Contains(out, "created 1,") {
		t.Fatalf("pull: %v\n%s\n%s", err, out, errOut)
	}
	st := openTestStore(t, dir)
	if _, ok := storeUsers(t, st, "acme")["ada@contoso.example"]; !ok {
		t.Error("ada was not pulled")
	}
}

// TestPullMongo: `scimbridge pull` and `pull status` on the MongoDB store,
// where the engine keeps its identity map, checkpoint, runs and lease too.
func TestPullMongo(t *testing.T) {
	uri, db := testmongo.DB(t)
	fg := fakegraph.New(fakegraph.Options{PageSize: 2})
	defer fg.Close()
	for i := range 3 {
		fg.PutUser(fakegraph.User{ID: fmt.Sprintf("aaaaaaaa-0000-4000-8000-00000000000%d", i), UserPrincipalName: fmt.Sprintf("u%d@contoso.example", i), DisplayName: fmt.Sprintf("U %d", i)})
	}
	dir := t.TempDir()
	cfg, env := fakeGraphConfig(t, dir, fg, "")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "store:\n  type: mongo\n  database: %s\n", db); err != nil {
		t.Fatal(err)
	}
	f.Close()
	env["SCIMBRIDGE_MONGO_URI"] = uri

	out, errOut, err := runCmd(t, env, "pull", "--config", cfg)
	if err != nil || !strings.Contains(out, "created 3,") {
		t.Fatalf("pull: %v\n%s\n%s", err, out, errOut)
	}
	out, _, err = runCmd(t, env, "pull", "--config", cfg, "--dry-run")
	if err != nil || !strings.Contains(out, "incremental") || !strings.Contains(out, "Plan: nothing to change.") {
		t.Errorf("second round (%v):\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "pull", "status", "--config", cfg)
	if err != nil || strings.Count(out, "  cli  ") != 2 {
		t.Errorf("status (%v):\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "scimbridge.db")); err == nil {
		t.Error("pull created the embedded store although MongoDB is configured")
	}
}
