package mongo

import "testing"

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"a/", "a0", true},
		{"aé", "aê", true},
		{"x\U0010FFFF", "y", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"a\uD7FF", "a\uE000", true}, // past the surrogates
		{"a\xff", "", false},         // not UTF-8: the regex alone decides
	} {
		got, ok := prefixEnd(c.prefix)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.prefix, got, ok, c.want, c.ok)
		}
	}
}
