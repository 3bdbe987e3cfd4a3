package dockerconfig_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestMongoHealthcheckScript runs the JavaScript of the mongo service's
// health check under Node.js with stand-ins for mongosh's rs, db and quit,
// since no mongod runs here: on a fresh node it must initiate the replica
// set and report unhealthy until the node is primary, then healthy, and it
// must never initiate an already initiated set. The stand-ins follow
// mongosh: rs.status() throws before rs.initiate, quit(n) exits with n.
func TestMongoHealthcheckScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the health check's script is checked only statically (TestCompose)")
	}
	c := loadCompose(t)
	test := c.Services["mongo"].Healthcheck.Test
	i := slices.Index(test, "--eval")
	if i < 0 || i+1 >= len(test) {
		t.Fatalf("mongo healthcheck %q has no --eval SCRIPT", test)
	}
	script := test[i+1]

	for _, tc := range []struct {
		name               string
		initiated, primary bool
		wantExit           int
		wantInitiate       bool
	}{
		{"fresh node", false, false, 1, true},
		{"initiated, electing", true, false, 1, false},
		{"primary", true, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prelude := `
let initiated = ` + jsBool(tc.initiated) + `, primary = ` + jsBool(tc.primary) + `;
const rs = {
  status() { if (!initiated) throw new Error("no replset config has been received"); return {ok: 1}; },
  initiate(cfg) {
    if (initiated) throw new Error("already initialized");
    if (cfg._id !== "rs0" || cfg.members.length !== 1 || cfg.members[0].host !== "mongo:27017") throw new Error("bad config " + JSON.stringify(cfg));
    console.log("INITIATE"); initiated = true; return {ok: 1};
  },
};
const db = { hello() { return {isWritablePrimary: primary}; } };
const quit = (code) => process.exit(code);
`
			// Without quit() reaching process.exit the script would end
			// with status 0: fail loudly instead.
			out, err := exec.Command(node, "-e", prelude+script+"\nconsole.log('NO QUIT'); process.exit(99);").CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.wantExit, out)
			}
			if got := strings.Contains(string(out), "INITIATE"); got != tc.wantInitiate {
				t.Errorf("initiated the replica set: %v, want %v; output:\n%s", got, tc.wantInitiate, out)
			}
		})
	}
}

func jsBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
