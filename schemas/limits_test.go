package schemas

import (
	"reflect"
	"strings"
	"testing"
)

func TestStringLimitsCheck(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	attrs := map[string]any{
		"schemas":    []any{UserURN},
		"userName":   long(257),
		"externalId": long(256),
		"name":       map[string]any{"givenName": long(4097), "familyName": long(4096)},
		"emails":     []any{map[string]any{"value": long(300)}, map[string]any{"value": "ok@example.com"}},
		EnterpriseUserURN: map[string]any{
			"department": long(5000),
			"manager":    map[string]any{"value": long(4097)},
		},
	}
	got := StringLimits{}.Check(attrs, nil)
	want := []OverLimit{
		{"emails.value", 300, 256},
		{"name.givenName", 4097, 4096},
		{EnterpriseUserURN + ":department", 5000, 4096},
		{EnterpriseUserURN + ":manager.value", 4097, 4096},
		{"userName", 257, 256},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}

	// Configured limits.
	l := StringLimits{MaxBytes: 10, MaxIdentifierBytes: 3}
	if got := l.Check(map[string]any{"userName": "abcd", "displayName": "0123456789"}, nil); len(got) != 1 || got[0] != (OverLimit{"userName", 4, 3}) {
		t.Fatalf("configured: %v", got)
	}

	// Values already stored at the same path are allowed; a new one is not.
	old := map[string]any{"userName": long(300), "emails": []any{map[string]any{"value": long(300)}}}
	cur := map[string]any{"userName": long(300), "emails": []any{map[string]any{"value": long(300)}, map[string]any{"value": long(301)}}}
	if got := (StringLimits{}).Check(cur, old); len(got) != 1 || got[0] != (OverLimit{"emails.value", 301, 256}) {
		t.Fatalf("allowed: %v", got)
	}
	// ... but not at another path.
	if got := (StringLimits{}).Check(map[string]any{"externalId": long(300)}, old); len(got) != 1 {
		t.Fatalf("other path: %v", got)
	}
}
