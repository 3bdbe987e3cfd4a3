package dockerconfig_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuf is a buffer a child process writes while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// imageRun is the image's default command (ENTRYPOINT + CMD) and health
// check, with the config path they share replaced by a local file.
type imageRun struct {
	bin         string
	cmd, health []string
}

func newImageRun(t *testing.T, bin, cfgPath string) imageRun {
	t.Helper()
	stages := dockerfile(t)
	final := stages[len(stages)-1]
	r := imageRun{bin: bin, cmd: execForm(t, find(final, "CMD")[0]), health: execForm(t, find(final, "HEALTHCHECK")[0])[1:]}
	r.cmd, r.health = slices.Clone(r.cmd), slices.Clone(r.health)
	for _, args := range [][]string{r.cmd, r.health} {
		i := slices.Index(args, "--config")
		if i < 0 {
			t.Fatalf("%v has no --config", args)
		}
		args[i+1] = cfgPath
	}
	return r
}

// serve starts the default command with extra arguments and env as the
// whole environment, and returns once it has printed where it listens.
func (r imageRun) serve(t *testing.T, env []string, extra ...string) (addr string, stdout *syncBuf) {
	t.Helper()
	stdout, stderr := &syncBuf{}, &syncBuf{}
	cmd := exec.Command(r.bin, append(slices.Clone(r.cmd), extra...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	re := regexp.MustCompile(`scimbridge is listening on (\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthcheck runs the image's HEALTHCHECK command with env as the whole
// environment (docker runs it in the container's environment).
func (r imageRun) healthcheck(t *testing.T, env []string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, r.health...)
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("healthcheck: %s", out)
	}
	return err
}

func ready(t *testing.T, addr string) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz on %s: %v", addr, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz on %s: %d", addr, res.StatusCode)
	}
}

// TestImageDefaultCommand runs the image's default command with the config
// the image ships, as a plain `docker run` does, against the binary built
// the way the Dockerfile builds it, and checks the documented precedence
// (flags > environment > file) and that the health check follows it.
// 0.0.0.0 and /data are replaced through the environment or a copy of the
// file, as a test cannot bind the container's port or write /data.
func TestImageDefaultCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the image is linux; this env has GOOS=%s", runtime.GOOS)
	}
	bin := buildBinary(t)
	shipped, err := os.ReadFile(filepath.Join(dockerDir, "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("file", func(t *testing.T) {
		// The shipped file with its listen host and dataDir made local: the
		// port comes from the file alone, for serve and the health check.
		port, data := freePort(t), t.TempDir()
		local := strings.Replace(string(shipped), "listen: 0.0.0.0:8080", "listen: 127.0.0.1:"+port, 1)
		local = strings.Replace(local, "dataDir: /data", "dataDir: "+data, 1)
		if local == string(shipped) || !strings.Contains(local, data) {
			t.Fatal("docker/default.yaml no longer has listen: 0.0.0.0:8080 and dataDir: /data")
		}
		cfgPath := filepath.Join(t.TempDir(), "scimbridge.yaml")
		if err := os.WriteFile(cfgPath, []byte(local), 0o600); err != nil {
			t.Fatal(err)
		}
		r := newImageRun(t, bin, cfgPath)
		addr, stdout := r.serve(t, nil)
		if addr != "127.0.0.1:"+port {
			t.Errorf("listening on %s, want the file's 127.0.0.1:%s", addr, port)
		}
		ready(t, addr)
		if !strings.Contains(stdout.String(), "TOKEN=") {
			t.Errorf("a first start without credentials prints no token:\n%s", stdout)
		}
		if _, err := os.Stat(filepath.Join(data, "scimbridge.db")); err != nil {
			t.Errorf("the store is not under the file's dataDir: %v", err)
		}
		if err := r.healthcheck(t, nil); err != nil {
			t.Errorf("the image's HEALTHCHECK on a ready bridge: %v", err)
		}
	})

	cfgPath := filepath.Join(t.TempDir(), "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, shipped, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newImageRun(t, bin, cfgPath)

	t.Run("environment over file", func(t *testing.T) {
		port, data := freePort(t), t.TempDir()
		env := []string{"SCIMBRIDGE_LISTEN=127.0.0.1:" + port, "SCIMBRIDGE_DATA_DIR=" + data}
		addr, _ := r.serve(t, env)
		if addr != "127.0.0.1:"+port {
			t.Errorf("listening on %s, want SCIMBRIDGE_LISTEN's 127.0.0.1:%s", addr, port)
		}
		ready(t, addr)
		if _, err := os.Stat(filepath.Join(data, "scimbridge.db")); err != nil {
			t.Errorf("the store is not under SCIMBRIDGE_DATA_DIR: %v", err)
		}
		if err := r.healthcheck(t, env); err != nil {
			t.Errorf("the image's HEALTHCHECK with the container's environment: %v", err)
		}
		// The health check follows the configuration: pointed elsewhere, it
		// fails.
		other := []string{"SCIMBRIDGE_LISTEN=127.0.0.1:" + freePort(t), "SCIMBRIDGE_DATA_DIR=" + data}
		if err := r.healthcheck(t, other); err == nil {
			t.Error("the HEALTHCHECK passed against a port nothing listens on")
		}
	})

	t.Run("flags over environment", func(t *testing.T) {
		envPort, flagPort := freePort(t), freePort(t)
		env := []string{"SCIMBRIDGE_LISTEN=127.0.0.1:" + envPort, "SCIMBRIDGE_DATA_DIR=" + t.TempDir()}
		addr, _ := r.serve(t, env, "--listen", "127.0.0.1:"+flagPort)
		if addr != "127.0.0.1:"+flagPort {
			t.Errorf("listening on %s, want --listen's 127.0.0.1:%s", addr, flagPort)
		}
		ready(t, addr)
	})
}
