package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestScanPlans checks that the keyset listings are index range scans in
// index order: no table scan, no sort, so a page costs the same wherever
// it starts.
func TestScanPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query string
		args  []any
		want  string
	}{
		{qScan, []any{"t", string(store.User), "u", 1000},
			"SEARCH resources USING INDEX resources_kind_id (kind=? AND tenant=? AND id>?)"},
		{qStatePageFrom, []any{"t", "a/", "a0", 1000}, "SEARCH state USING PRIMARY KEY (tenant=? AND key>? AND key<?)"},
		{qStatePageAfter, []any{"t", "a/b", "a0", 1000}, "SEARCH state USING PRIMARY KEY (tenant=? AND key>? AND key<?)"},
		{qStatePageAfter, []any{"t", "a/b", []byte{0}, 1000}, "SEARCH state USING PRIMARY KEY (tenant=? AND key>? AND key<?)"},
	} {
		got := strings.Join(queryPlan(t, s.r, c.query, c.args...), "\n")
		if !strings.Contains(got, c.want) {
			t.Errorf("plan of %s\n%s\nlacks %q", c.query, got, c.want)
		}
		if strings.Contains(got, "SCAN") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("plan of %s scans or sorts:\n%s", c.query, got)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"a/", "a0", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"x\U0010FFFF", "x\xf4\x8f\xbf\xc0", true},
	} {
		got, ok := prefixEnd(c.prefix)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.prefix, got, ok, c.want, c.ok)
		}
	}
}

// BenchmarkScan reads pages of 1,000 from a tenant of 100,000 users and
// 1,000 groups with random ids (as Create gives them), at the start, the
// middle and the end of the tenant, and walks the whole tenant. The rows
// are loaded in one transaction with Create's own statement (without the
// journal and emails rows, which Scan does not read): seconds, where
// 100,000 Creates would take minutes.
func BenchmarkScan(b *testing.B) {
	const users, groups, page = 100000, 1000, 1000
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "scan.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var ids []string
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range users + groups {
		r := storetest.BenchUser(i)
		r.ID = ""
		if i >= users {
			r = store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group},
				Attrs: map[string]any{"displayName": fmt.Sprint("group ", i)}}
		}
		if err := store.PrepareCreate(&r, nil, now); err != nil {
			b.Fatal(err)
		}
		doc, err := json.Marshal(r.Attrs)
		if err != nil {
			b.Fatal(err)
		}
		sh := shadows(r.Kind, r.Attrs)
		if _, err := tx.ExecContext(ctx, qInsertResource, r.Tenant, r.ID, string(r.Kind), r.Version,
			r.Created.UnixNano(), r.LastModified.UnixNano(),
			sh.externalID, sh.userName, sh.displayName, sh.display, sh.active, doc); err != nil {
			b.Fatal(err)
		}
		if r.Kind == store.User {
			ids = append(ids, r.ID)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	slices.Sort(ids)
	for _, c := range []struct {
		name  string
		kind  store.Kind
		after string
	}{
		{"users/first", store.User, ""},
		{"users/middle", store.User, ids[users/2]},
		{"users/last", store.User, ids[users-page-1]},
		{"groups", store.Group, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rs, err := s.Scan(ctx, "t", c.kind, c.after, page)
				if err != nil || len(rs) != page {
					b.Fatalf("Scan: %d resources, %v", len(rs), err)
				}
			}
		})
	}
	// For comparison: the same last page by offset, as a SCIM list
	// request pages, which steps over every resource before it.
	b.Run("query-offset/last", func(b *testing.B) {
		for b.Loop() {
			p, err := s.Query(ctx, "t", store.User, store.Query{StartIndex: users - page + 1, Count: page})
			if err != nil || len(p.Resources) != page {
				b.Fatalf("Query: %d resources, %v", len(p.Resources), err)
			}
		}
	})
	b.Run("users/all", func(b *testing.B) {
		for b.Loop() {
			n, after := 0, ""
			for {
				rs, err := s.Scan(ctx, "t", store.User, after, page)
				if err != nil {
					b.Fatal(err)
				}
				if len(rs) == 0 {
					break
				}
				n += len(rs)
				after = rs[len(rs)-1].ID
			}
			if n != users {
				b.Fatalf("walked %d users", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*users/page), "ns/page")
	})
}
