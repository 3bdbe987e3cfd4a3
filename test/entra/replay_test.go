// Package entra_test replays whole Microsoft Entra ID provisioning cycles
// against the full scimbridge handler stack (auth, routing, handlers, the
// Entra normaliser, the PATCH engine, the SQLite store), in-process.
//
// Each file under testdata/<dialect>/ is one scenario run on a fresh server:
// a JSON array of steps
//
//	{"name": "…", "method": "GET", "path": "/Users?filter=…", "body": {…},
//	 "status": 200, "expect": {"<path>": <value>, …}, "capture": {"var": "<path>"}}
//
// Paths are relative to the tenant base (/scim/v2); spaces and quotes in them
// are URL-escaped by the runner. ${var} in paths and bodies is replaced by a
// captured value; ${random} by a fresh GUID-like string.
//
// Assertion paths are "/"-separated (URN keys contain dots): "id",
// "name/familyName", "emails/0/value",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/value".
// A segment "key[sub=value]" selects the element of an array whose sub equals
// value (e.g. "emails[type=work]/value"); "*" maps over an array. Expected
// values compare exactly (objects and arrays too), with these specials:
// "<absent>" (the path has no value), "<present>", "<id>" (a non-empty
// string); a path ending in "#len" compares the length of an array (absent =
// 0); one ending in "#set" compares an array of strings ignoring order.
package entra_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

const token = "entra-replay-token"

type step struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Body    json.RawMessage   `json:"body"`
	Status  int               `json:"status"`
	Expect  map[string]any    `json:"expect"`
	Capture map[string]string `json:"capture"`
}

func TestReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.ToSlash(f)[len("testdata/"):], ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var steps []step
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&steps); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			replay(t, newServer(t), steps)
		})
	}
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scim.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := scim.NewHandler(scim.Options{
		Store:   st,
		Schemas: reg,
		Tenants: []auth.Tenant{{Name: scim.DefaultTenant, TokenHashes: [][32]byte{auth.HashToken(token)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func replay(t *testing.T, srv *httptest.Server, steps []step) {
	vars := map[string]string{}
	subst := func(s string, inJSON bool) string {
		return varRE.ReplaceAllStringFunc(s, func(m string) string {
			k := m[2 : len(m)-1]
			v, ok := vars[k]
			if k == "random" {
				v, ok = randomID(), true
			}
			if !ok {
				t.Fatalf("undefined variable %s", m)
			}
			if inJSON {
				b, _ := json.Marshal(v)
				return string(b[1 : len(b)-1])
			}
			return v
		})
	}
	for i, s := range steps {
		label := fmt.Sprintf("step %d %q (%s %s)", i+1, s.Name, s.Method, s.Path)
		path := escapePath(subst(s.Path, false))
		var rd io.Reader
		if len(s.Body) > 0 && string(s.Body) != "null" {
			rd = strings.NewReader(subst(string(s.Body), true))
		}
		req, err := http.NewRequest(s.Method, srv.URL+"/scim/v2"+path, rd)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if rd != nil {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != s.Status {
			t.Fatalf("%s: status %d, want %d: %s", label, res.StatusCode, s.Status, raw)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s: server error %s", label, raw)
		}
		if len(raw) > 0 {
			if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
				t.Errorf("%s: Content-Type %q", label, ct)
			}
		}
		var body any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("%s: response is not JSON: %s", label, raw)
			}
		}
		if res.StatusCode == http.StatusNoContent && len(raw) > 0 {
			t.Errorf("%s: 204 with a body", label)
		}
		keys := make([]string, 0, len(s.Expect))
		for k := range s.Expect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			want := substAll(s.Expect[k], func(x string) string { return subst(x, false) })
			if msg := check(body, k, want); msg != "" {
				t.Errorf("%s: %s: %s\nresponse: %s", label, k, msg, raw)
			}
		}
		for v, p := range s.Capture {
			got, ok := lookup(body, p)
			str, isStr := got.(string)
			if !ok || !isStr || str == "" {
				t.Fatalf("%s: capture %s: no string at %q: %s", label, v, p, raw)
			}
			vars[v] = str
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// substAll applies f to every string in a decoded JSON value.
func substAll(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substAll(e, f)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substAll(e, f)
		}
		return out
	}
	return v
}

// escapePath URL-escapes what Entra escapes in a filter query (spaces,
// quotes, brackets), leaving the rest of the path as written.
func escapePath(p string) string {
	base, query, ok := strings.Cut(p, "?")
	if !ok {
		return p
	}
	return base + "?" + strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D", "+", "%2B").Replace(query)
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// check compares the value at path with want (see the package doc).
func check(body any, path string, want any) string {
	switch {
	case strings.HasSuffix(path, "#len"):
		got, ok := lookup(body, strings.TrimSuffix(path, "#len"))
		n := 0
		if ok && got != nil {
			l, isList := got.([]any)
			if !isList {
				return fmt.Sprintf("not an array: %v", got)
			}
			n = len(l)
		}
		if w, _ := want.(float64); int(w) != n {
			return fmt.Sprintf("length %d, want %v", n, want)
		}
		return ""
	case strings.HasSuffix(path, "#set"):
		got, _ := lookup(body, strings.TrimSuffix(path, "#set"))
		g := strs(got)
		w := strs(want)
		sort.Strings(g)
		sort.Strings(w)
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("got %v, want %v", g, w)
		}
		return ""
	}
	got, ok := lookup(body, path)
	switch want {
	case "<absent>":
		if ok && got != nil {
			return fmt.Sprintf("got %v, want absent", got)
		}
		return ""
	case "<present>":
		if !ok || got == nil {
			return "absent"
		}
		return ""
	case "<id>":
		if s, _ := got.(string); s == "" {
			return fmt.Sprintf("got %v, want a non-empty string", got)
		}
		return ""
	}
	if !ok {
		return fmt.Sprintf("absent, want %v", want)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		return fmt.Sprintf("got %s, want %s", g, w)
	}
	return ""
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

var selRE = regexp.MustCompile(`^(.*)\[([^=\]]+)=([^\]]*)\]$`)

// lookup follows a "/"-separated path through decoded JSON.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	seg, rest, _ := strings.Cut(path, "/")
	if seg == "*" {
		l, ok := v.([]any)
		if !ok {
			return nil, false
		}
		out := make([]any, 0, len(l))
		for _, el := range l {
			if x, ok := lookup(el, rest); ok {
				out = append(out, x)
			}
		}
		return out, true
	}
	key, sel := seg, selRE.FindStringSubmatch(seg)
	if sel != nil {
		key = sel[1]
	}
	switch x := v.(type) {
	case map[string]any:
		var ok bool
		if v, ok = x[key]; !ok {
			return nil, false
		}
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(x) {
			return nil, false
		}
		v = x[i]
	default:
		return nil, false
	}
	if sel != nil {
		l, _ := v.([]any)
		found := false
		for _, el := range l {
			if m, ok := el.(map[string]any); ok && fmt.Sprint(m[sel[2]]) == sel[3] {
				v, found = el, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return lookup(v, rest)
}
