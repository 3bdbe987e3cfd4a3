package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsumerPlans checks that Consumers counts the lag on the covering
// index journal_tenant and History reads journal_resource: neither scans
// the journal.
func TestConsumerPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query string
		args  []any
		want  []string
	}{
		{qConsumers, []any{"t"}, []string{
			"SEARCH c USING PRIMARY KEY (tenant=?)",
			"SEARCH j USING COVERING INDEX journal_tenant (tenant=? AND seq>?)",
			"SEARCH j USING INDEX journal_tenant (tenant=? AND seq>?)",
			"SEARCH l USING PRIMARY KEY (tenant=? AND name=?)",
		}},
		{qHistory, []any{"t", "u", 10, "User", 5}, []string{"SEARCH journal USING INDEX journal_resource (tenant=? AND id=? AND seq<?)"}},
	} {
		got := strings.Join(queryPlan(t, s.r, c.query, c.args...), "\n")
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("plan of %s\n%s\nlacks %q", c.query, got, w)
			}
		}
		if strings.Contains(got, "SCAN") {
			t.Errorf("plan of %s scans:\n%s", c.query, got)
		}
	}
}
