package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPatchLimits(t *testing.T) {
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Patch != (Patch{MaxOperations: 1000, MaxMemberValues: 10000}) {
		t.Errorf("default patch = %+v", c.Patch)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("patch:\n  maxOperations: 20\n  maxMemberValues: 300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(file, envMap(nil)); err != nil {
		t.Fatal(err)
	}
	if c.Patch != (Patch{MaxOperations: 20, MaxMemberValues: 300}) {
		t.Errorf("file patch = %+v", c.Patch)
	}
	c, err = Load(file, envMap(map[string]string{"SCIMBRIDGE_PATCH_MAX_OPERATIONS": "7", "SCIMBRIDGE_PATCH_MAX_MEMBER_VALUES": "8"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Patch != (Patch{MaxOperations: 7, MaxMemberValues: 8}) {
		t.Errorf("env patch = %+v", c.Patch)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("patch:\n  maxOperations: 0\n  maxMemberValues: -1\n  maxOps: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad, envMap(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`unknown key "patch.maxOps"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if err := os.WriteFile(bad, []byte("patch:\n  maxOperations: 0\n  maxMemberValues: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad, envMap(map[string]string{"SCIMBRIDGE_PATCH_MAX_MEMBER_VALUES": "lots"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`patch.maxOperations: 0 must be greater than 0`,
		`patch.maxMemberValues: -1 must be greater than 0`,
		`SCIMBRIDGE_PATCH_MAX_MEMBER_VALUES: "lots" is not an integer`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}
