package dockerconfig_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/dop251/goja"
)

// TestMongoHealthcheckScript runs the JavaScript of the mongo service's
// health check in an embedded JavaScript engine (goja) with stand-ins for
// mongosh's rs, db and quit, since no mongod runs here: on a fresh node it
// must initiate the replica set and report unhealthy until the node is
// primary, then healthy, and it must never initiate an already initiated
// set. The stand-ins follow mongosh: rs.status() throws before rs.initiate,
// quit(n) ends the script with exit status n, and a script that never calls
// quit exits 0 whatever its last value (which is what the test rejects).
func TestMongoHealthcheckScript(t *testing.T) {
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
			vm := goja.New()
			initiated, didInitiate := tc.initiated, false
			set := func(name string, v any) {
				if err := vm.Set(name, v); err != nil {
					t.Fatal(err)
				}
			}
			set("__status", func() map[string]any {
				if !initiated {
					panic(vm.NewGoError(errors.New("no replset config has been received")))
				}
				return map[string]any{"ok": 1}
			})
			set("__initiate", func(cfg map[string]any) map[string]any {
				if initiated {
					panic(vm.NewGoError(errors.New("already initialized")))
				}
				var host any
				if members, _ := cfg["members"].([]any); len(members) == 1 {
					if m, ok := members[0].(map[string]any); ok {
						host = m["host"]
					}
				}
				if cfg["_id"] != "rs0" || host != "mongo:27017" {
					t.Errorf("rs.initiate(%v): want one member mongo:27017 in set rs0", cfg)
				}
				initiated, didInitiate = true, true
				return map[string]any{"ok": 1}
			})
			set("__hello", func() map[string]any { return map[string]any{"isWritablePrimary": tc.primary} })
			// quit stops the script where it is, as mongosh's does.
			set("quit", func(code int) { vm.Interrupt(code) })
			if _, err := vm.RunString(`
const rs = { status: () => __status(), initiate: (cfg) => __initiate(cfg) };
const db = { hello: () => __hello() };`); err != nil {
				t.Fatal(err)
			}

			_, err := vm.RunString(script)
			var quit *goja.InterruptedError
			switch {
			case errors.As(err, &quit):
				if code, _ := quit.Value().(int); code != tc.wantExit {
					t.Errorf("quit(%v), want quit(%d)", quit.Value(), tc.wantExit)
				}
			case err != nil:
				t.Fatalf("the script failed: %v", err)
			default:
				t.Fatalf("the script ended without quit(): mongosh would exit 0 (healthy) whatever the state")
			}
			if didInitiate != tc.wantInitiate {
				t.Errorf("initiated the replica set: %v, want %v", didInitiate, tc.wantInitiate)
			}
		})
	}
}
