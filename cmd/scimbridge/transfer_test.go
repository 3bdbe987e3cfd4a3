package main

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestExportImportCLI moves a store served by one bridge to a fresh data
// directory with `export` and `import` and serves it again: the same
// resources (ids, versions, timestamps, attributes, members) answer to the
// same token.
func TestExportImportCLI(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	s := startServe(t, nil, "--data-dir", src)
	tok := s.token
	if tok == "" {
		t.Fatalf("no token printed:\n%s", s.stdout)
	}
	var alice, group map[string]any
	if code := do(t, "POST", s.base+"/Users", tok, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName": "alice@example.com", "externalId": "e-1", "active": true,
		"name": map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": "7"},
	}, &alice); code != http.StatusCreated {
		t.Fatalf("POST user: %d %v", code, alice)
	}
	aliceID := alice["id"].(string)
	if code := do(t, "PATCH", s.base+"/Users/"+aliceID, tok, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Alice S."}},
	}, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("PATCH user: %d", code)
	}
	if code := do(t, "POST", s.base+"/Groups", tok, map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Admins", "members": []any{map[string]any{"value": aliceID}},
	}, &group); code != http.StatusCreated {
		t.Fatalf("POST group: %d %v", code, group)
	}
	groupID := group["id"].(string)
	before := map[string]map[string]any{}
	for _, path := range []string{"/Users/" + aliceID, "/Groups/" + groupID} {
		var r map[string]any
		if code := do(t, "GET", s.base+path, tok, nil, &r); code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		before[path] = r
	}
	if v := before["/Users/"+aliceID]["meta"].(map[string]any)["version"]; v != `W/"2"` {
		t.Fatalf("user version %v, want W/\"2\"", v)
	}
	s.stop(t)

	file := filepath.Join(t.TempDir(), "export.jsonl")
	out, stderr, err := runCmd(t, nil, "export", "--data-dir", src, "--out", file, "--progress")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if out != "" {
		t.Errorf("export --out wrote to stdout: %q", out)
	}
	if !strings.Contains(stderr, `Exported tenant "default": 1 users, 1 groups, 1 memberships, 1 state entries.`) || !strings.Contains(stderr, "exporting") {
		t.Errorf("export stderr %q", stderr)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Quiet without --progress when stderr is not a terminal.
	_, stderr, err = runCmd(t, nil, "import", "--data-dir", dst, "--in", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if stderr != "Imported into tenant \"default\": 1 users, 1 groups, 1 memberships, 1 state entries.\n" {
		t.Errorf("import stderr %q", stderr)
	}

	// A second import conflicts at the first line that exists (the token)...
	_, _, err = runCmd(t, nil, "import", "--data-dir", dst, "--in", file)
	if err == nil || !strings.Contains(err.Error(), "import: line 3: state entry \"token/") || !strings.Contains(err.Error(), "already exists in tenant \"default\"") {
		t.Errorf("second import: %v", err)
	}
	// ...unless --skip-existing.
	_, stderr, err = runCmd(t, nil, "import", "--data-dir", dst, "--in", file, "--skip-existing")
	if err != nil || !strings.Contains(stderr, "Left as they were (already existing): 1 users, 1 groups, 1 memberships, 1 state entries.") {
		t.Errorf("import --skip-existing: %v %q", err, stderr)
	}

	s2 := startServe(t, nil, "--data-dir", dst)
	if s2.token != "" {
		t.Error("the imported store has no token: serve generated one")
	}
	for path, want := range before {
		var got map[string]any
		if code := do(t, "GET", s2.base+path, tok, nil, &got); code != http.StatusOK {
			t.Fatalf("GET %s on the imported store with the old token: %d", path, code)
		}
		// The location follows the listen address.
		for _, m := range []map[string]any{got, want} {
			delete(m["meta"].(map[string]any), "location")
			for _, attr := range []string{"members", "groups"} {
				ms, _ := m[attr].([]any)
				for _, x := range ms {
					delete(x.(map[string]any), "$ref")
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GET %s:\n got %v\nwant %v", path, got, want)
		}
	}
	s2.stop(t)
}

func TestExportImportStdio(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if _, _, err := runCmd(t, nil, "token", "create", "--data-dir", src); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, nil, "export", "--data-dir", src, "--tenant", "default")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if !strings.HasPrefix(out, `{"type":"header","format":"scimbridge-export","version":1,`) || strings.Contains(stderr, "exporting") {
		t.Fatalf("export to stdout: stdout %q, stderr %q", out, stderr)
	}
	cfg := filepath.Join(dst, "c.yaml")
	if err := os.WriteFile(cfg, []byte("tenants:\n  - name: acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The tenant must exist in the target configuration.
	_, _, err = runCmdStdin(t, nil, out, "import", "--data-dir", dst, "--tenant-map", "default=nope")
	if err == nil || !strings.Contains(err.Error(), `line 2: tenant "nope" is not configured`) {
		t.Errorf("import into an unknown tenant: %v", err)
	}
	_, stderr, err = runCmdStdin(t, nil, out, "import", "--config", cfg, "--data-dir", dst, "--tenant-map", "default=acme")
	if err != nil || !strings.Contains(stderr, `Imported into tenant "acme" (tenant "default" of the export): 0 users, 0 groups, 0 memberships, 1 state entries.`) {
		t.Fatalf("import from stdin: %v %q", err, stderr)
	}
	// Corrupt input names the line.
	bad := strings.Replace(out, `"type":"state"`, `"type":"state",`, 1)
	_, _, err = runCmdStdin(t, nil, bad, "import", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "import: line 3: bad JSON") {
		t.Errorf("corrupt input: %v", err)
	}
	var code bytes.Buffer
	if exitCode(err, &code) != 1 {
		t.Errorf("corrupt input: exit code not 1")
	}
}

func TestExportImportUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"export", "--tenant", "default", "--all-tenants"},
		{"export", "--out", ""},
		{"export", "extra"},
		{"import", "--tenant-map", "nope"},
		{"import", "--tenant-map", "a=b", "--tenant-map", "a=c"},
		{"import", "--in", ""},
	} {
		_, _, err := runCmd(t, nil, append(args, "--data-dir", dir)...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	_, _, err := runCmd(t, nil, "export", "--tenant", "nope", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), `export: tenant "nope" is not configured`) {
		t.Errorf("export unknown tenant: %v", err)
	}
	for _, cmd := range []string{"export", "import"} {
		out, _, err := runCmd(t, nil, cmd, "-h")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "Usage: scimbridge "+cmd) {
			t.Errorf("%s -h: %v %q", cmd, err, out)
		}
	}
	out, _, _ := runCmd(t, nil, "help")
	if !strings.Contains(out, "scimbridge export") || !strings.Contains(out, "scimbridge import") {
		t.Errorf("help lacks export/import:\n%s", out)
	}
}
