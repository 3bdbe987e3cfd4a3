// Package dockerconfig_test checks docker/ without Docker: the example
// config loads with the environment compose.yaml gives it and selects
// MongoDB, compose.yaml has the services, health checks and volumes the
// README promises, the Dockerfile builds a static CGO-free binary that runs
// as non-root with the config compose mounts, ships a default config where
// its CMD reads it and sets no ENV that would shadow the file, and that very
// binary, built the way the Dockerfile builds it, serves the example config
// and the shipped one (flags > environment > file) and passes the image's
// HEALTHCHECK command, which takes its port from the same configuration.
package dockerconfig_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/internal/testmongo"
)

const testToken = "docker-test-token-0123456789abcdef"

var dockerDir = filepath.Join("..", "..", "docker")

// compose is the part of compose.yaml the tests read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Restart     string            `yaml:"restart"`
		Build       *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test     []string `yaml:"test"`
			Interval string   `yaml:"interval"`
			Retries  int      `yaml:"retries"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// interpolate resolves compose's ${VAR}, ${VAR:?msg} and ${VAR:-default}.
func interpolate(s string, env map[string]string) string {
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[?-]([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sm := re.FindStringSubmatch(m)
		if v, ok := env[sm[1]]; ok {
			return v
		}
		if strings.Contains(m, ":-") {
			return sm[2]
		}
		return ""
	})
}

// instruction is one Dockerfile instruction.
type instruction struct {
	cmd  string // upper case
	args string
}

// dockerfile parses docker/Dockerfile into stages of instructions
// (continuation lines joined, comments dropped).
func dockerfile(t *testing.T) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm parses a JSON exec-form argument list (CMD ["a", "b"]).
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	args := strings.TrimSpace(strings.TrimPrefix(in.args, "CMD"))
	if in.cmd == "HEALTHCHECK" {
		_, args, _ = strings.Cut(in.args, " CMD ")
	}
	var out []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(args)), &out); err != nil {
		t.Fatalf("Dockerfile %s %s: not the JSON exec form: %v", in.cmd, in.args, err)
	}
	return out
}

// imageEnv is the final stage's ENV (key=value pairs).
func imageEnv(t *testing.T, final []instruction) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range find(final, "ENV") {
		for _, f := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("Dockerfile ENV %q: use key=value", in.args)
			}
			env[k] = v
		}
	}
	return env
}

// configMount returns where compose mounts docker/scimbridge.yaml.
func configMount(t *testing.T, c compose) string {
	t.Helper()
	for _, v := range c.Services["scimbridge"].Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && filepath.Clean(parts[0]) == "scimbridge.yaml" {
			if len(parts) < 3 || parts[2] != "ro" {
				t.Errorf("the config is mounted writable: %q", v)
			}
			return parts[1]
		}
	}
	t.Fatalf("compose.yaml does not mount ./scimbridge.yaml into the bridge: %v", c.Services["scimbridge"].Volumes)
	return ""
}

// containerEnv is the environment the bridge gets in the container: the
// image's ENV overridden by compose's environment (with SCIMBRIDGE_TOKEN
// given, as the README says).
func containerEnv(t *testing.T) map[string]string {
	t.Helper()
	stages := dockerfile(t)
	env := imageEnv(t, stages[len(stages)-1])
	shell := map[string]string{"SCIMBRIDGE_TOKEN": testToken}
	for k, v := range loadCompose(t).Services["scimbridge"].Environment {
		env[k] = interpolate(v, shell)
	}
	return env
}

// TestExampleConfig loads docker/scimbridge.yaml with the container's
// environment: it validates and selects MongoDB, with the URI and token from
// the environment, never from the file.
func TestExampleConfig(t *testing.T) {
	env := containerEnv(t)
	if env["SCIMBRIDGE_MONGO_URI"] == "" || env["SCIMBRIDGE_TOKEN"] != testToken {
		t.Fatalf("compose gives the bridge %v: want SCIMBRIDGE_MONGO_URI and SCIMBRIDGE_TOKEN", env)
	}
	path := filepath.Join(dockerDir, "scimbridge.yaml")
	cfg, err := config.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("docker/scimbridge.yaml with the compose environment: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if cfg.Store.Type != "mongo" || cfg.Store.URI != env["SCIMBRIDGE_MONGO_URI"] || cfg.Store.Database == "" {
		t.Errorf("store %+v: want mongo at %s", cfg.Store, env["SCIMBRIDGE_MONGO_URI"])
	}
	if cfg.Listen != "0.0.0.0:8080" {
		t.Errorf("listen %q: the published port 8080 must be reachable from outside the container", cfg.Listen)
	}
	if cfg.DataDir != "/data" {
		t.Errorf("dataDir %q, want the image's volume /data", cfg.DataDir)
	}
	if !slices.Contains(cfg.TokenHashes(config.DefaultTenant), auth.HashToken(testToken)) {
		t.Errorf("SCIMBRIDGE_TOKEN is not accepted for the default tenant")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"uri:", "token", "mongodb://"} {
		for _, line := range strings.Split(string(raw), "\n") {
			if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && strings.Contains(l, secret) {
				t.Errorf("docker/scimbridge.yaml holds a secret-bearing setting: %q", line)
			}
		}
	}
	// Without the URI from the environment the file alone is refused.
	delete(env, "SCIMBRIDGE_MONGO_URI")
	if _, err := config.Load(path, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "store.uri") {
		t.Errorf("without SCIMBRIDGE_MONGO_URI: %v, want a store.uri problem", err)
	}
}

// TestCompose checks compose.yaml's services, health checks and volumes.
func TestCompose(t *testing.T) {
	c := loadCompose(t)
	mongo, ok := c.Services["mongo"]
	if !ok {
		t.Fatal("no mongo service")
	}
	bridge, ok := c.Services["scimbridge"]
	if !ok {
		t.Fatal("no scimbridge service")
	}
	if !strings.HasPrefix(mongo.Image, "mongo:") {
		t.Errorf("mongo image %q", mongo.Image)
	}
	// A single-node replica set, initialised by the health check, that the
	// bridge's URI names.
	i := slices.Index(mongo.Command, "--replSet")
	if i < 0 || i+1 >= len(mongo.Command) {
		t.Fatalf("mongo command %v: no --replSet", mongo.Command)
	}
	rs := mongo.Command[i+1]
	if mongo.Healthcheck == nil || len(mongo.Healthcheck.Test) < 2 || mongo.Healthcheck.Test[0] != "CMD" {
		t.Fatalf("mongo healthcheck %+v", mongo.Healthcheck)
	}
	hc := strings.Join(mongo.Healthcheck.Test, " ")
	if !strings.Contains(hc, "rs.initiate") || !strings.Contains(hc, `_id: "`+rs+`"`) || !strings.Contains(hc, `host: "mongo:27017"`) || !strings.Contains(hc, "quit(db.hello().isWritablePrimary ? 0 : 1)") {
		t.Errorf("mongo healthcheck does not initiate replica set %s on mongo:27017 and wait for a primary: %s", rs, hc)
	}
	uri := bridge.Environment["SCIMBRIDGE_MONGO_URI"]
	if !strings.HasPrefix(uri, "mongodb://mongo:27017/") || !strings.Contains(uri, "replicaSet="+rs) {
		t.Errorf("SCIMBRIDGE_MONGO_URI %q does not name the mongo service's replica set %s", uri, rs)
	}
	if !strings.Contains(bridge.Environment["SCIMBRIDGE_TOKEN"], ":?") {
		t.Errorf("SCIMBRIDGE_TOKEN %q: compose should refuse to start without it (${SCIMBRIDGE_TOKEN:?…})", bridge.Environment["SCIMBRIDGE_TOKEN"])
	}
	if d, ok := bridge.DependsOn["mongo"]; !ok || d.Condition != "service_healthy" {
		t.Errorf("scimbridge depends_on %+v: want mongo: {condition: service_healthy}", bridge.DependsOn)
	}
	if bridge.Build == nil || filepath.ToSlash(filepath.Join("docker", bridge.Build.Context, bridge.Build.Dockerfile)) != "docker/Dockerfile" {
		t.Errorf("scimbridge build %+v: want the repository root as context and docker/Dockerfile", bridge.Build)
	}
	// The bridge's health check: its own, or the image's HEALTHCHECK.
	if bridge.Healthcheck == nil {
		stages := dockerfile(t)
		if len(find(stages[len(stages)-1], "HEALTHCHECK")) == 0 {
			t.Error("the bridge has no health check in compose.yaml nor in the image")
		}
	}
	// Volumes: declared, and the data survives a container replacement.
	for svc, target := range map[string]string{"mongo": "/data/db", "scimbridge": "/data"} {
		found := false
		for _, v := range c.Services[svc].Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == target {
				if _, declared := c.Volumes[parts[0]]; !declared {
					t.Errorf("%s mounts %q: not a declared named volume", svc, v)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no volume on %s", svc, target)
		}
	}
	if mount := configMount(t, c); mount == "" {
		t.Error("no config mount")
	}
	for _, p := range bridge.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") || !strings.HasSuffix(p, ":8080") {
			t.Errorf("port %q: publish 8080 on loopback only (TLS proxy in front)", p)
		}
	}
}

// TestDockerfile checks the build and the final image's settings.
func TestDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a multi-stage build", len(stages))
	}
	var build string
	for _, in := range find(stages[0], "RUN") {
		if strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if build == "" || !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/scimbridge") {
		t.Errorf("build stage RUN %q: want CGO_ENABLED=0 go build ./cmd/scimbridge", build)
	}
	final := stages[len(stages)-1]
	base := find(final, "FROM")[0].args
	if !strings.Contains(base, "distroless/static") && !strings.HasPrefix(base, "scratch") {
		t.Errorf("final base %q: want a static, minimal base", base)
	}
	users := find(final, "USER")
	if len(users) == 0 {
		t.Fatal("the final stage has no USER: the bridge would run as root")
	}
	user := strings.Split(users[len(users)-1].args, ":")[0]
	if user == "root" || user == "0" || user == "" {
		t.Errorf("USER %q: must not be root", users[len(users)-1].args)
	}
	if !strings.Contains(base, ":nonroot") && user == "nonroot" {
		t.Errorf("USER nonroot on %q: only the distroless :nonroot images define that user", base)
	}
	ep := find(final, "ENTRYPOINT")
	if len(ep) != 1 {
		t.Fatal("no ENTRYPOINT")
	}
	bin := execForm(t, ep[0])[0]
	copied := false
	for _, in := range find(final, "COPY") {
		if strings.Contains(in.args, "--from=") && strings.HasSuffix(in.args, " "+bin) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not copied from the build stage", bin)
	}
	cmds := find(final, "CMD")
	if len(cmds) != 1 {
		t.Fatal("no CMD")
	}
	cmd := execForm(t, cmds[0])
	i := slices.Index(cmd, "--config")
	if len(cmd) == 0 || cmd[0] != "serve" || i < 0 || i+1 >= len(cmd) {
		t.Fatalf("CMD %v: want serve --config FILE", cmd)
	}
	if mount := configMount(t, loadCompose(t)); cmd[i+1] != mount {
		t.Errorf("CMD reads %s but compose mounts the config at %s", cmd[i+1], mount)
	}
	// No ENV may shadow the config file: SCIMBRIDGE_* variables override
	// it, so an image default would silently win over the listen or
	// dataDir an operator sets in the mounted file.
	for k := range imageEnv(t, final) {
		if strings.HasPrefix(k, "SCIMBRIDGE_") {
			t.Errorf("the image sets ENV %s, which overrides the config file", k)
		}
	}
	// The image ships a default config where CMD reads it.
	shipped := ""
	for _, in := range find(final, "COPY") {
		if f := strings.Fields(in.args); !strings.Contains(in.args, "--from=") && len(f) == 2 && f[1] == cmd[i+1] {
			shipped = f[0]
		}
	}
	if shipped != "docker/default.yaml" {
		t.Fatalf("the image does not ship docker/default.yaml at %s, where CMD reads the config (COPY %q)", cmd[i+1], shipped)
	}
	cfg, err := config.Load(filepath.Join("..", "..", shipped), func(string) string { return "" })
	if err != nil {
		t.Fatalf("the shipped config: %v", err)
	}
	if !slices.Contains(find(final, "VOLUME"), instruction{"VOLUME", `["` + cfg.DataDir + `"]`}) {
		t.Errorf("the shipped dataDir %q is not the image's VOLUME", cfg.DataDir)
	}
	hcs := find(final, "HEALTHCHECK")
	if len(hcs) != 1 {
		t.Fatal("no HEALTHCHECK")
	}
	hc := execForm(t, hcs[0])
	if len(hc) < 2 || hc[0] != bin || hc[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK %v: want the bridge binary's healthcheck (the image has no shell or curl)", hc)
	}
	// The health check finds the port and scheme in the file serve reads,
	// never in a hard-coded URL.
	if j := slices.Index(hc, "--config"); j < 0 || j+1 >= len(hc) || hc[j+1] != cmd[i+1] {
		t.Errorf("HEALTHCHECK %v: want --config %s, the file CMD serves", hc, cmd[i+1])
	}
	if slices.Contains(hc, "--url") {
		t.Errorf("HEALTHCHECK %v hard-codes a URL", hc)
	}
}

// TestShippedConfig loads the config the image ships with no environment:
// it validates, serves SQLite from the image's volume and listens on every
// interface (the published port must be reachable from outside).
func TestShippedConfig(t *testing.T) {
	cfg, err := config.Load(filepath.Join(dockerDir, "default.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatalf("docker/default.yaml: %v", err)
	}
	if cfg.Listen != "0.0.0.0:8080" {
		t.Errorf("listen %q, want 0.0.0.0:8080", cfg.Listen)
	}
	if cfg.DataDir != "/data" || cfg.Store.Type != "sqlite" || cfg.Store.Path != "/data/scimbridge.db" {
		t.Errorf("dataDir %q, store %+v: want SQLite under /data", cfg.DataDir, cfg.Store)
	}
}

// TestDockerignore checks that local data and build output stay out of the
// build context.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{"data/", "*.db", ".git/"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// buildBinary builds cmd/scimbridge the way the Dockerfile does
// (CGO_ENABLED=0, version stamped; -trimpath is left out so that the
// build cache of other CGO-free builds is reused).
func buildBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "scimbridge")
	cmd := exec.Command("go", "build", "-ldflags", "-s -w -X main.version=docker-test", "-o", out, "./cmd/scimbridge")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	t.Logf("CGO_ENABLED=0 go build: %v", time.Since(start).Round(time.Millisecond))
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// TestBinaryServesExampleConfig builds the static binary, runs it the way
// the image does (CMD with the example config, the container environment,
// loopback instead of 0.0.0.0, a fresh database) against MongoDB, provisions
// a user with the token from the environment, runs the image's HEALTHCHECK
// command against it, and stops it with SIGTERM like `docker stop`.
func TestBinaryServesExampleConfig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the image is linux; this env has GOOS=%s", runtime.GOOS)
	}
	bin := buildBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	if f.Section(".interp") != nil {
		t.Error("the binary is dynamically linked: it will not run on distroless/static")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	f.Close()

	uri, db := testmongo.DB(t)
	stages := dockerfile(t)
	final := stages[len(stages)-1]
	cmd := execForm(t, find(final, "CMD")[0])
	// The example config, on a fresh database.
	raw, err := os.ReadFile(filepath.Join(dockerDir, "scimbridge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s*database:\s*)\S+\s*$`)
	if !re.Match(raw) {
		t.Fatal("docker/scimbridge.yaml sets no store.database")
	}
	cfgPath := filepath.Join(t.TempDir(), "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, re.ReplaceAll(raw, []byte("${1}"+db)), 0o600); err != nil {
		t.Fatal(err)
	}
	i := slices.Index(cmd, "--config")
	args := slices.Clone(cmd)
	args[i+1] = cfgPath

	port := freePort(t)
	env := containerEnv(t)
	env["SCIMBRIDGE_MONGO_URI"] = uri
	env["SCIMBRIDGE_LISTEN"] = "127.0.0.1:" + port
	env["SCIMBRIDGE_DATA_DIR"] = t.TempDir()
	var stdout, stderr bytes.Buffer
	srv := exec.Command(bin, args...)
	srv.Env = []string{"HOME=" + t.TempDir()}
	for k, v := range env {
		srv.Env = append(srv.Env, k+"="+v)
	}
	srv.Stdout, srv.Stderr = &stdout, &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-exited
	})
	root := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(root + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v\nstderr:\n%s", err, &stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"docker@example.com"}`
	req, _ := http.NewRequest("POST", root+"/scim/v2/Users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Errorf("POST /Users with SCIMBRIDGE_TOKEN: %d", res.StatusCode)
	}

	// The image's HEALTHCHECK, run by the same binary against this server.
	hc := execForm(t, find(final, "HEALTHCHECK")[0])
	hcArgs := slices.Clone(hc[1:])
	hcArgs[slices.Index(hcArgs, "--config")+1] = cfgPath
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hcCmd := exec.CommandContext(ctx, bin, hcArgs...)
	hcCmd.Env = srv.Env // docker runs the health check in the container's environment
	if out, err := hcCmd.CombinedOutput(); err != nil {
		t.Errorf("the image's HEALTHCHECK (%s) fails on a ready bridge: %v\n%s", strings.Join(hc, " "), err, out)
	}

	// docker stop: SIGTERM, then a clean exit.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\nstderr:\n%s", err, &stderr)
		}
	case <-time.After(20 * time.Second):
		t.Error("no exit 20s after SIGTERM")
	}
	if strings.Contains(stdout.String()+stderr.String(), testToken) {
		t.Error("the token from the environment was printed")
	}
}
