package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigWrongTypesListEveryProblem checks that values of the wrong type
// name their field and the expected type, and do not hide the file's other
// problems.
func TestConfigWrongTypesListEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	yml := "listen: abc\nstore:\n  type: mongo\n  uri: mongodb://db\n  connectRetry: 5\nmaxResults: lots\nlog:\n  level: loud\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, nil, "serve", "--config", cfg, "--data-dir", dir)
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"line 5: store.connectRetry: expected a duration such as 30s",
		`line 6: maxResults: expected a whole number, got "lots"`,
		`listen: "abc" is not host:port`,
		`log.level: "loud" must be one of`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "cannot unmarshal") {
		t.Errorf("stderr has yaml's raw message:\n%s", stderr.String())
	}
}
