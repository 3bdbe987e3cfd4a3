package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// entryOf is what the tests compare of a printed journal entry.
type entryOf struct {
	op     store.ChangeOp
	kind   store.Kind
	id     string
	name   string
	source string
}

// parseChanges reads `changes --output json`: one object per line.
func parseChanges(t *testing.T, out string) []changeLine {
	t.Helper()
	var ls []changeLine
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l changeLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		ls = append(ls, l)
	}
	return ls
}

func entries(ls []changeLine) []entryOf {
	out := []entryOf{}
	for _, l := range ls {
		out = append(out, entryOf{l.Op, l.Kind, l.ID, l.Name, l.Source})
	}
	return out
}

// importFile writes a one-user export file for `scimbridge import`.
func importFile(t *testing.T, id, userName string) string {
	t.Helper()
	lines := []string{
		`{"type":"header","format":"scimbridge-export","version":1,"exportedAt":"2026-01-01T00:00:00Z"}`,
		`{"type":"tenant","tenant":"default"}`,
		fmt.Sprintf(`{"type":"resource","tenant":"default","kind":"User","id":%q,"version":3,"created":"2025-01-01T00:00:00Z","lastModified":"2025-06-01T00:00:00Z","attrs":{"userName":%q,"active":true}}`, id, userName),
		`{"type":"end","lines":3,"counts":{"users":1,"groups":0,"members":0,"state":0},"tenants":{"default":{"users":1,"groups":0,"members":0,"state":0}}}`,
	}
	path := filepath.Join(t.TempDir(), "bob.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFollow runs `changes --follow args...` until the returned cancel
// function is called; that function waits for the command to end and
// returns its error.
func startFollow(t *testing.T, env map[string]string, args ...string) (*output, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &output{}
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: out, stderr: &output{}, changesPoll: 20 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, append([]string{"changes", "--follow"}, args...)) }()
	t.Cleanup(cancel)
	return out, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("changes --follow did not end after its context was cancelled")
			return nil
		}
	}
}

// waitLines waits until out holds n lines.
func waitLines(t *testing.T, out *output, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(out.String(), "\n") < n {
		if time.Now().After(deadline) {
			t.Fatalf("changes --follow printed %d lines, want %d:\n%s", strings.Count(out.String(), "\n"), n, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestChangesAuditTrail: while `serve` runs on a SQLite store, SCIM pushes,
// an import and a delete are journaled, and `changes` (opened beside the
// running server, once following the whole time) prints them with their
// names and sources, in text and JSON, filtered by id, source and since.
// The server keeps writing afterwards.
func TestChangesAuditTrail(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir)
	follow, stopFollow := startFollow(t, nil, "--data-dir", dir, "--output", "json")

	var alice, group map[string]any
	if code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "alice@example.com", "active": true,
	}, &alice); code != http.StatusCreated {
		t.Fatalf("POST user: %d %v", code, alice)
	}
	aliceID := alice["id"].(string)
	if code := do(t, "POST", s.base+"/Groups", s.token, map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineers", "members": []any{map[string]any{"value": aliceID}},
	}, &group); code != http.StatusCreated {
		t.Fatalf("POST group: %d %v", code, group)
	}
	groupID := group["id"].(string)
	if code := do(t, "PATCH", s.base+"/Users/"+aliceID, s.token, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	}, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("PATCH user: %d", code)
	}
	if _, stderr, err := runCmd(t, nil, "import", "--data-dir", dir, "--in", importFile(t, "bob-id", "bob@example.com")); err != nil {
		t.Fatalf("import beside the running server: %v\n%s", err, stderr)
	}
	if code := do(t, "PATCH", s.base+"/Groups/"+groupID, s.token, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "bob-id"}}}},
	}, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("PATCH group: %d", code)
	}
	if code := do(t, "DELETE", s.base+"/Users/"+aliceID, s.token, nil, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE user: %d", code)
	}
	want := []entryOf{
		{store.OpCreate, store.User, aliceID, "alice@example.com", "push"},
		{store.OpCreate, store.Group, groupID, "Engineers", "push"},
		{store.OpUpdate, store.User, aliceID, "alice@example.com", "push"},
		{store.OpCreate, store.User, "bob-id", "bob@example.com", "import"},
		{store.OpUpdate, store.Group, groupID, "Engineers", "push"},
		{store.OpDelete, store.User, aliceID, "alice@example.com", "push"},
	}

	changes := func(args ...string) []changeLine {
		t.Helper()
		out, _, err := runCmd(t, nil, append([]string{"changes", "--data-dir", dir, "--output", "json"}, args...)...)
		if err != nil {
			t.Fatalf("changes %v: %v", args, err)
		}
		return parseChanges(t, out)
	}
	all := changes()
	if got := entries(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes:\n%v\nwant\n%v", got, want)
	}
	for i, l := range all {
		if i > 0 && l.Seq <= all[i-1].Seq {
			t.Errorf("seq %d after %d", l.Seq, all[i-1].Seq)
		}
		if time.Since(l.At) > time.Minute || l.At.After(time.Now()) {
			t.Errorf("entry %d at %v", l.Seq, l.At)
		}
		if l.Source == "push" && l.Actor != "initial" {
			t.Errorf("entry %d: actor %q, want the token's name", l.Seq, l.Actor)
		}
	}
	if g := all[1]; !reflect.DeepEqual(g.Added, []string{aliceID}) || len(g.Removed) != 0 {
		t.Errorf("group create: added %v removed %v", g.Added, g.Removed)
	}
	if g := all[4]; !reflect.DeepEqual(g.Added, []string{"bob-id"}) {
		t.Errorf("group update: added %v", g.Added)
	}
	if u := all[2]; !reflect.DeepEqual(u.Changed, []store.AttrChange{{Path: "active", Old: true, New: false}}) {
		t.Errorf("user update: changed %+v", u.Changed)
	}
	if all[3].RunID == "" || all[0].RunID != "" {
		t.Errorf("run ids: import %q (actor %q), push %q", all[3].RunID, all[3].Actor, all[0].RunID)
	}
	if all[5].Version != all[2].Version+1 {
		t.Errorf("delete version %d after update version %d", all[5].Version, all[2].Version)
	}

	// The filters.
	if got := entries(changes("--id", aliceID)); !reflect.DeepEqual(got, []entryOf{want[0], want[2], want[5]}) {
		t.Errorf("--id alice: %v", got)
	}
	if got := entries(changes("--source", "import")); !reflect.DeepEqual(got, []entryOf{want[3]}) {
		t.Errorf("--source import: %v", got)
	}
	if got := entries(changes("--source", "push", "--id", groupID)); !reflect.DeepEqual(got, []entryOf{want[1], want[4]}) {
		t.Errorf("--source push --id group: %v", got)
	}
	if got := changes("--source", "pull"); len(got) != 0 {
		t.Errorf("--source pull: %v", got)
	}
	if got := entries(changes("--since", fmt.Sprint(all[2].Seq))); !reflect.DeepEqual(got, want[3:]) {
		t.Errorf("--since %d: %v", all[2].Seq, got)
	}
	if got := entries(changes("--since", "1h")); !reflect.DeepEqual(got, want) {
		t.Errorf("--since 1h: %v", got)
	}

	// Text: one line per entry, fields separated by spaces.
	text, _, err := runCmd(t, nil, "changes", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("text: %d lines:\n%s", len(lines), text)
	}
	for i, line := range lines {
		f := strings.Fields(line)
		w := want[i]
		if len(f) < 8 || f[0] != fmt.Sprint(all[i].Seq) || f[2] != string(w.op) || f[3] != string(w.kind) || f[4] != w.id ||
			f[5] != fmt.Sprintf("v%d", all[i].Version) || f[6] != w.name || f[7] != "source="+w.source {
			t.Errorf("text line %d: %q", i, line)
		}
	}
	if !strings.Contains(lines[1], "added="+aliceID) || !strings.Contains(lines[2], "changed=active(true->false)") || !strings.Contains(lines[0], "actor=initial") {
		t.Errorf("text lines lack added, changed or actor:\n%s", text)
	}

	// --follow printed the same entries as they were written.
	waitLines(t, follow, len(want))
	if err := stopFollow(); err != nil {
		t.Errorf("changes --follow ended with %v, want nil on interrupt", err)
	}
	if got := parseChanges(t, follow.String()); !reflect.DeepEqual(got, all) {
		t.Errorf("--follow printed\n%v\nwant\n%v", got, all)
	}

	// The server was not disturbed by the commands that opened its store.
	if code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "carol@example.com",
	}, nil); code != http.StatusCreated {
		t.Fatalf("POST user after changes: %d", code)
	}
	if got := changes("--since", fmt.Sprint(all[5].Seq)); len(got) != 1 || got[0].Name != "carol@example.com" {
		t.Errorf("after the last delete: %v", entries(got))
	}
	s.stop(t)

	// Without a server the same.
	if got := changes("--id", aliceID); !reflect.DeepEqual(got, []changeLine{all[0], all[2], all[5]}) {
		t.Errorf("--id alice without a server: %v", entries(got))
	}
}

// TestChangesFollowID: --follow with --id and --since prints the
// matching entries already written, then the new ones, and ends cleanly
// when its context is cancelled even with nothing new to print.
func TestChangesFollowID(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir)
	post := func(userName string) string {
		t.Helper()
		var u map[string]any
		if code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName,
		}, &u); code != http.StatusCreated {
			t.Fatalf("POST user: %d %v", code, u)
		}
		return u["id"].(string)
	}
	a := post("a@example.com")
	b := post("b@example.com")
	out, stop := startFollow(t, nil, "--data-dir", dir, "--id", b, "--since", "1h")
	waitLines(t, out, 1)
	if code := do(t, "DELETE", s.base+"/Users/"+a, s.token, nil, nil); code != http.StatusNoContent {
		t.Fatal(code)
	}
	if code := do(t, "DELETE", s.base+"/Users/"+b, s.token, nil, nil); code != http.StatusNoContent {
		t.Fatal(code)
	}
	waitLines(t, out, 2)
	time.Sleep(100 * time.Millisecond) // several polls: nothing else may come
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " create ") || !strings.Contains(lines[1], " delete ") ||
		!strings.Contains(lines[0], b) || !strings.Contains(lines[1], "b@example.com") {
		t.Errorf("--follow --id %s:\n%s", b, out)
	}
	s.stop(t)
}

// TestSeqBefore: the bisection finds the position of the first entry
// written at or after a time, with the tenant's sequence numbers
// interleaved with another tenant's (SQLite's are global).
func TestSeqBefore(t *testing.T) {
	ctx := store.WithOrigin(context.Background(), store.Origin{Source: store.SourceAdmin, Actor: "test"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := seqBefore(ctx, st, "a", t0); err != nil || got != 0 {
		t.Fatalf("empty journal: %d %v", got, err)
	}
	const n = 37
	var seqs []int64 // tenant a's, entry i written at t0 + i minutes
	for i := range n {
		now = t0.Add(time.Duration(i) * time.Minute)
		for j, tenant := range []string{"b", "a", "b"}[:1+i%3] {
			if _, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User},
				Attrs: map[string]any{"userName": fmt.Sprintf("%s-%d-%d@example.com", tenant, i, j)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := st.Changes(ctx, "a", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > len(seqs) {
			seqs = append(seqs, cs[len(cs)-1].Seq)
		}
	}
	if len(seqs) < n/2 {
		t.Fatalf("tenant a has %d entries", len(seqs))
	}
	if last, err := lastSeq(ctx, st, "a"); err != nil || last != seqs[len(seqs)-1] {
		t.Errorf("lastSeq: %d %v, want %d", last, err, seqs[len(seqs)-1])
	}
	if last, err := lastSeq(ctx, st, "c"); err != nil || last != 0 {
		t.Errorf("lastSeq of an empty journal: %d %v", last, err)
	}
	for i := 0; i <= n+1; i++ {
		cut := t0.Add(time.Duration(i)*time.Minute - 30*time.Second)
		if i == 0 {
			cut = t0.Add(-time.Hour)
		}
		after, err := seqBefore(ctx, st, "a", cut)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := st.Changes(ctx, "a", 0, 0)
		var want int64
		for _, c := range all {
			if c.At.Before(cut) {
				want = c.Seq
			}
		}
		if after != want {
			t.Errorf("cut %v: after %d, want %d (seqs %v)", cut.Sub(t0), after, want, seqs)
		}
	}
}

// TestSeqBeforeTrimmed: after retention trimmed the oldest entries, the
// bisection starts at the trim floor (Changes below it fails), and so
// does printChanges for a --since below it.
func TestSeqBeforeTrimmed(t *testing.T) {
	ctx := store.WithOrigin(context.Background(), store.Origin{Source: store.SourceAdmin, Actor: "test"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 20 {
		now = t0.Add(time.Duration(i) * time.Minute)
		if _, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "a", Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("u%d@example.com", i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := st.Changes(ctx, "a", 0, 0)
	if n, err := st.Trim(ctx, "a", t0.Add(10*time.Minute-time.Second), 100); err != nil || n != 10 {
		t.Fatalf("Trim: %d %v", n, err)
	}
	floor := all[9].Seq
	for _, tc := range []struct {
		cut  time.Time
		want int64
	}{
		{t0.Add(-time.Hour), floor},
		{t0.Add(5 * time.Minute), floor},
		{t0.Add(12*time.Minute + time.Second), all[12].Seq},
	} {
		if got, err := seqBefore(ctx, st, "a", tc.cut); err != nil || got != tc.want {
			t.Errorf("seqBefore %v: %d %v, want %d", tc.cut.Sub(t0), got, err, tc.want)
		}
	}
	if got, err := lastSeq(ctx, st, "a"); err != nil || got != all[19].Seq {
		t.Errorf("lastSeq: %d %v, want %d", got, err, all[19].Seq)
	}
	var out strings.Builder
	c := &cli{stdout: &out}
	if err := c.printChanges(ctx, st, "a", 1, 0, changesFilter{}, false, true); err != nil {
		t.Fatalf("printChanges --since 1 below the floor: %v", err)
	}
	if ls := parseChanges(t, out.String()); len(ls) != 10 || ls[0].Seq != all[10].Seq {
		t.Fatalf("printChanges below the floor printed %d entries, want the 10 kept", len(ls))
	}
}

// TestHistoryPages: history pages through one resource's entries between
// two positions, oldest first, leaving out other resources' entries.
func TestHistoryPages(t *testing.T) {
	ctx := store.WithOrigin(context.Background(), store.Origin{Source: store.SourceAdmin, Actor: "test"})
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "a", Kind: store.User}, Attrs: map[string]any{"userName": "u@example.com"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64 // the entries of u
	for i := range 9 {
		if _, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "a", Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("other-%d@example.com", i)}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["displayName"] = fmt.Sprint(i)
			return store.MemberDelta{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := st.Changes(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == u.ID {
			seqs = append(seqs, c.Seq)
		}
	}
	end := cs[len(cs)-1].Seq
	for _, c := range []struct{ after, end int64 }{{0, end}, {seqs[2], end}, {seqs[2] - 1, seqs[7]}, {end, end}} {
		got, err := history(ctx, st, "a", u.ID, c.after, c.end, 2)
		if err != nil {
			t.Fatal(err)
		}
		var gotSeqs, want []int64
		for _, g := range got {
			gotSeqs = append(gotSeqs, g.Seq)
		}
		for _, s := range seqs {
			if s > c.after && s <= c.end {
				want = append(want, s)
			}
		}
		if !reflect.DeepEqual(gotSeqs, want) {
			t.Errorf("history(%d, %d): %v, want %v", c.after, c.end, gotSeqs, want)
		}
	}
}

func TestParseSince(t *testing.T) {
	for _, c := range []struct {
		in     string
		after  int64
		window time.Duration
	}{
		{"", 0, 0}, {"0", 0, 0}, {"42", 42, 0}, {"90m", 0, 90 * time.Minute}, {"24h", 0, 24 * time.Hour},
		{"7d", 0, 7 * 24 * time.Hour}, {"1.5d", 0, 36 * time.Hour},
	} {
		after, window, err := parseSince(c.in)
		if err != nil || after != c.after || window != c.window {
			t.Errorf("%q: %d %v %v", c.in, after, window, err)
		}
	}
	for _, in := range []string{"-1", "yesterday", "-5m", "0s", "d", "0d", "2026-01-01"} {
		if _, _, err := parseSince(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestChangesText: the text form of an entry with every field.
func TestChangesText(t *testing.T) {
	var b bytes.Buffer
	l := changeLine{Seq: 7, At: time.Date(2026, 12, 7, 7, 1, 2, 345e6, time.UTC), Op: store.OpUpdate, Kind: store.Group, ID: "g1",
		Version: 3, Name: "Site Admins", Source: "pull:graph", Actor: "svc", RunID: "run 1",
		Added: []string{"u1", "u2"}, Removed: []string{"u3"},
		Changed: []store.AttrChange{{Path: "description"}, {Path: "displayName", Old: "Admins", New: "Site Admins"}, {Path: "externalId", New: "x"}}}
	if err := (changePrinter{w: &b}).print(l); err != nil {
		t.Fatal(err)
	}
	want := `       7  2026-12-07T07:01:02.345Z  update  Group  g1  v3  "Site Admins"  source=pull:graph  actor=svc  run="run 1"  added=u1,u2  removed=u3  changed=description,displayName(Admins->"Site Admins"),externalId(unset->x)` + "\n"
	if b.String() != want {
		t.Errorf("text:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := (changePrinter{w: &b, json: true}).print(lineOf(store.Change{Seq: 1, Op: store.OpCreate, Kind: store.User, ID: "u1", Version: 1,
		At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"seq":1,"at":"2026-01-01T00:00:00Z","op":"create","kind":"User","id":"u1","version":1,"name":"","source":"","actor":"","runId":"","added":[],"removed":[],"changed":[]}` + "\n"
	if b.String() != wantJSON {
		t.Errorf("json:\n%s\nwant\n%s", b.String(), wantJSON)
	}
}

func TestChangesUsage(t *testing.T) {
	for _, args := range [][]string{
		{"changes", "--output", "xml"},
		{"changes", "--since", "-3"},
		{"changes", "--since", "yesterday"},
		{"changes", "extra"},
		{"changes", "--bogus"},
		{"changes", "--source", "pussh"},
	} {
		_, _, err := runCmd(t, nil, args...)
		if code := exitCode(err, &bytes.Buffer{}); code != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, code, err)
		}
	}
	_, _, err := runCmd(t, nil, "changes", "--data-dir", t.TempDir(), "--tenant", "nope")
	if err == nil || !strings.Contains(err.Error(), `tenant "nope" is not configured`) {
		t.Errorf("unknown tenant: %v", err)
	}
	out, _, _ := runCmd(t, nil, "help")
	if !strings.Contains(out, "scimbridge changes [--tenant T]") {
		t.Errorf("help lacks changes:\n%s", out)
	}
	out, _, err = runCmd(t, nil, "changes", "-h")
	if exitCode(err, &bytes.Buffer{}) != 0 || !strings.Contains(out, "-follow") || !strings.Contains(out, "-since") {
		t.Errorf("changes -h: %v %q", err, out)
	}
}

// TestChangesMongo: `changes` on the MongoDB store, beside a running
// server: a push and a delete with their sources, and --follow.
func TestChangesMongo(t *testing.T) {
	uri, db := testmongo.DB(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("store:\n  type: mongo\n  database: "+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIMBRIDGE_MONGO_URI": uri, "SCIMBRIDGE_CONFIG": cfgPath, "SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}
	s := startServe(t, env)
	follow, stop := startFollow(t, env, "--output", "json")
	var u map[string]any
	if code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "mongo@example.com",
	}, &u); code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, u)
	}
	uid := u["id"].(string)
	if code := do(t, "DELETE", s.base+"/Users/"+uid, s.token, nil, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	want := []entryOf{
		{store.OpCreate, store.User, uid, "mongo@example.com", "push"},
		{store.OpDelete, store.User, uid, "mongo@example.com", "push"},
	}
	out, _, err := runCmd(t, env, "changes", "--output", "json", "--id", uid, "--since", "10m")
	if err != nil {
		t.Fatal(err)
	}
	all := parseChanges(t, out)
	if got := entries(all); !reflect.DeepEqual(got, want) {
		t.Errorf("changes on MongoDB: %v", got)
	}
	waitLines(t, follow, 2)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := parseChanges(t, follow.String()); !reflect.DeepEqual(got, all) {
		t.Errorf("--follow on MongoDB:\n%v\nwant\n%v", got, all)
	}
	s.stop(t)
}

// TestChangesBesideBusyServe: `changes` opened and closed again and again,
// and one following, beside a server under concurrent SCIM writes on
// SQLite: every write succeeds, and the follower prints each exactly once,
// in order.
func TestChangesBesideBusyServe(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir)
	follow, stop := startFollow(t, nil, "--data-dir", dir, "--output", "json")
	const writers, each = 4, 25
	errs := make(chan error, writers*each)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					b, _ := json.Marshal(map[string]any{
						"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("w%d-%d@example.com", w, i)})
					req, _ := http.NewRequest("POST", s.base+"/Users", bytes.NewReader(b))
					req.Header.Set("Authorization", "Bearer "+s.token)
					req.Header.Set("Content-Type", "application/scim+json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						continue
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						errs <- fmt.Errorf("POST: %d", resp.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
	}()
	for opened := 0; ; opened++ {
		if _, _, err := runCmd(t, nil, "changes", "--data-dir", dir, "--since", "1h"); err != nil {
			t.Errorf("changes beside the busy server: %v", err)
		}
		select {
		case <-done:
		default:
			continue
		}
		t.Logf("changes opened the store %d times during the writes", opened+1)
		break
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitLines(t, follow, writers*each)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := parseChanges(t, follow.String())
	names := map[string]bool{}
	for i, l := range got {
		if i > 0 && l.Seq <= got[i-1].Seq {
			t.Errorf("seq %d after %d", l.Seq, got[i-1].Seq)
		}
		names[l.Name] = true
	}
	if len(got) != writers*each || len(names) != writers*each {
		t.Errorf("followed %d entries of %d names, want %d", len(got), len(names), writers*each)
	}
	s.stop(t)
}
