//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// envReadOnlyChild makes the test binary run one command as the child of
// TestReadOnlyDatabaseSaysWhichFile and print its error.
const envReadOnlyChild = "SCIMBRIDGE_TEST_READONLY_DATA_DIR"

// TestReadOnlyDatabaseSaysWhichFile checks that a database file, or a data
// directory, this process cannot write is reported at start, naming the
// file and what to check. Without the check a read-only file opens fine and
// only the first SCIM write fails. Permissions do not bind root, so as root
// the command runs in a child process as user nobody.
func TestReadOnlyDatabaseSaysWhichFile(t *testing.T) {
	if dir := os.Getenv(envReadOnlyChild); dir != "" {
		_, _, err := runCmd(t, nil, "token", "create", "--data-dir", dir)
		if err != nil {
			os.Stdout.WriteString("ERROR: " + err.Error() + "\n")
		}
		return
	}
	root := os.Geteuid() == 0
	base := t.TempDir()
	if root {
		// The child (nobody) must reach the data and the test binary.
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := filepath.Join(base, "data")
	if _, _, err := runCmd(t, nil, "token", "create", "--data-dir", data); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, "scimbridge.db")
	for _, f := range []string{db + "-wal", db + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s is left after a clean close", f)
		}
	}
	bin := ""
	if root {
		bin = copyExecutable(t, base)
	}
	for _, c := range []struct {
		name              string
		fileMode, dirMode os.FileMode
	}{
		{"read-only file", 0o444, 0o777},
		{"read-only directory", 0o666, 0o555},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.Chmod(db, c.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(data, c.dirMode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(data, 0o755) })
			var msg string
			if root {
				msg = runAsNobody(t, bin, data)
			} else {
				_, _, err := runCmd(t, nil, "token", "create", "--data-dir", data)
				if err != nil {
					msg = err.Error()
				}
			}
			for _, want := range []string{"cannot write the database file " + db, "permissions and owner", "its directory " + data} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q: %q", want, msg)
				}
			}
		})
	}
}

// copyExecutable copies the test binary to dir, where user nobody can run
// it (go test builds it in a private directory).
func copyExecutable(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "scimbridge.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runAsNobody runs `token create --data-dir data` in the test binary bin as
// user nobody (65534) and returns the error it printed.
func runAsNobody(t *testing.T, bin, data string) string {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyDatabaseSaysWhichFile$")
	cmd.Env = []string{envReadOnlyChild + "=" + data, "PATH=" + os.Getenv("PATH")}
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	_, msg, ok := strings.Cut(out.String(), "ERROR: ")
	if !ok {
		t.Fatalf("the child succeeded:\n%s", out.String())
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return msg
}
