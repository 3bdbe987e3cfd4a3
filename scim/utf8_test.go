package scim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzCheckUTF8 checks that whatever checkUTF8 accepts decodes without a
// replacement character the input did not spell: nothing is stored as
// U+FFFD that was sent as something else.
func FuzzCheckUTF8(f *testing.F) {
	for _, s := range []string{
		`{"a":"x"}`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `{"a":"\udc00"}`, `{"a":"\ud83d\ude00"}`,
		`{"a":"\\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\ufffd"}`, `{"a":"\uD83D\uDE00"}`, `["\ud800\ud800\udc00"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkUTF8(b) != nil {
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		spelled := bytes.ContainsRune(b, '\uFFFD') || strings.Contains(strings.ToLower(string(b)), `\ufffd`)
		if !spelled && containsFFFD(v) {
			t.Fatalf("accepted %q, which decodes to U+FFFD", b)
		}
	})
}

func containsFFFD(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, '\uFFFD')
	case []any:
		for _, e := range x {
			if containsFFFD(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, '\uFFFD') || containsFFFD(e) {
				return true
			}
		}
	}
	return false
}
