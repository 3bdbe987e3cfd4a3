package config

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a value of the wrong type as "line N: cannot unmarshal
// TAG[ `VALUE`] into GOTYPE", without the key. typeMismatch parses that; the
// key is found again in the document's node tree by line and value.
var typeMismatch = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")

// typeProblems turns the errors of a yaml.v3 TypeError into problem lines,
// in order: a value of the wrong type is named by its YAML path (as
// validation names fields: "store.connectRetry",
// "tenants[0].oauth.tokenLifetime") with the type expected; other errors go
// through decodeProblem. root is the parsed document (nil if unavailable).
// failed lists the paths of the values of the wrong type.
func typeProblems(root *yaml.Node, errs []string) (problems, failed []string) {
	var nodes []pathNode
	if root != nil {
		nodes = valueNodes(root, "", nil)
	}
	used := map[*yaml.Node]bool{} // two errors on one line are two values
	for _, e := range errs {
		m := typeMismatch.FindStringSubmatch(e)
		if m == nil {
			problems = append(problems, unknownKeyProblem(root, e))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		tag, value, goType := m[2], m[3], m[4]
		path := findValue(nodes, used, line, tag, value)
		got := describeValue(tag, value)
		want := expectedType(goType)
		if (tag == "!!int" || tag == "!!float") && want == "a whole number" {
			// yaml.v3 refuses a number for a whole-number field only when
			// it does not fit (a fraction is truncated, see
			// fractionProblems).
			got = "a number out of range"
		}
		if tag == "!!int" && goType == "time.Duration" {
			want += " (a bare number has no unit)"
		}
		name := path
		if name == "" {
			name = "value" // not found: the line still says where
		} else {
			failed = append(failed, path)
		}
		problems = append(problems, fmt.Sprintf("line %d: %s: expected %s, got %s", line, name, want, got))
	}
	return problems, failed
}

// unknownKeyProblem names an unknown key by its YAML path, found in root by
// line and key (list indexes written as [], as in "tenants[].tokens[].x"):
// the Go type yaml.v3 names is ambiguous when one type is used in several
// places (Token: tenants[].tokens[] and admin.tokens[]). Other errors, and
// keys not found, go through decodeProblem.
func unknownKeyProblem(root *yaml.Node, e string) string {
	m := unknownField.FindStringSubmatch(e)
	if m == nil || root == nil {
		return decodeProblem(e)
	}
	line, _ := strconv.Atoi(m[1])
	if path, ok := keyPath(root, "", line, m[2]); ok {
		return fmt.Sprintf("line %d: unknown key %q", line, path)
	}
	return decodeProblem(e)
}

// keyPath finds the mapping key named key on line under n and returns its
// path, with list indexes written as [].
func keyPath(n *yaml.Node, path string, line int, key string) (string, bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p, ok := keyPath(c, path, line, key); ok {
				return p, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			if n.Content[i].Line == line && n.Content[i].Value == key {
				return k, true
			}
			if p, ok := keyPath(n.Content[i+1], k, line, key); ok {
				return p, true
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if p, ok := keyPath(c, path+"[]", line, key); ok {
				return p, true
			}
		}
	}
	return "", false
}

// pathNode is a value node of the document and its YAML path.
type pathNode struct {
	path string
	node *yaml.Node
}

// valueNodes lists every value node under n (n included, unless it is the
// document root) with its path.
func valueNodes(n *yaml.Node, path string, out []pathNode) []pathNode {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = valueNodes(c, path, out)
		}
		return out
	case yaml.AliasNode:
		if n.Alias != nil {
			return append(out, pathNode{path, n.Alias})
		}
		return out
	}
	if path != "" {
		out = append(out, pathNode{path, n})
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if path != "" {
				key = path + "." + key
			}
			out = valueNodes(n.Content[i+1], key, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = valueNodes(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
	return out
}

// findValue returns the path of the first value node on line, not used
// yet, that yaml.v3 described by tag and (possibly shortened) value, and
// marks it used; or "".
func findValue(nodes []pathNode, used map[*yaml.Node]bool, line int, tag, value string) string {
	for _, pn := range nodes {
		n := pn.node
		if n.Line != line || used[n] {
			continue
		}
		var ok bool
		switch tag {
		case "!!map":
			ok = n.Kind == yaml.MappingNode
		case "!!seq":
			ok = n.Kind == yaml.SequenceNode
		default:
			ok = n.Kind == yaml.ScalarNode && shortValue(n.Value) == value
		}
		if ok {
			used[n] = true
			return pn.path
		}
	}
	return ""
}

// shortValue shortens a scalar the way yaml.v3 does in its errors.
func shortValue(v string) string {
	if len(v) > 10 {
		return v[:7] + "..."
	}
	return v
}

// describeValue says what was found, from yaml.v3's tag and shortened value.
// A long value is not quoted even shortened: it may be a secret put under
// the wrong key.
func describeValue(tag, value string) string {
	if strings.HasSuffix(value, "...") {
		switch tag {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		}
		return "a value"
	}
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!str":
		return strconv.Quote(value)
	case "!!null":
		return "nothing (null)"
	}
	return value
}

// expectedType describes a Go type of the configuration in YAML terms.
func expectedType(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s, 5m or 1h"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "config."), strings.HasPrefix(goType, "*config."):
		return "a mapping of keys to values"
	}
	return "a value of type " + goType
}

// underFailed reports whether a validation problem is about a field inside
// (or equal to) one whose value had the wrong type: such a field kept its
// default or zero value, and reporting it again would only add noise.
func underFailed(problem string, failed []string) bool {
	for _, f := range failed {
		if f == "" || !strings.HasPrefix(problem, f) {
			continue
		}
		switch rest := problem[len(f):]; {
		case rest == "", rest[0] == '.', rest[0] == '[', rest[0] == ':':
			return true
		}
	}
	return false
}

// fractionProblems finds the numbers with a fractional part given for
// whole-number fields of the struct type t, under n at YAML path path:
// yaml.v3 truncates them silently (maxResults: 1.5 would be 1). They are
// reported like other values of the wrong type, and their paths returned as
// failed.
func fractionProblems(n *yaml.Node, t reflect.Type, path string) (problems, failed []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			p, f := fractionProblems(c, t, path)
			problems, failed = append(problems, p...), append(failed, f...)
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := yamlField(t, key)
			if !ok {
				continue // an unknown key, reported by the decoder
			}
			if path != "" {
				key = path + "." + key
			}
			p, f := fractionProblems(n.Content[i+1], ft, key)
			problems, failed = append(problems, p...), append(failed, f...)
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return nil, nil
		}
		for i, c := range n.Content {
			p, f := fractionProblems(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			problems, failed = append(problems, p...), append(failed, f...)
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!float" || t == reflect.TypeOf(time.Duration(0)) {
			return nil, nil // a duration refuses a float with its own error
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return nil, nil
		}
		var v float64
		if err := n.Decode(&v); err != nil || v == math.Trunc(v) {
			return nil, nil
		}
		got := n.Value
		if len(got) > 10 {
			got = "a number with a fractional part" // not quoted: see describeValue
		}
		return []string{fmt.Sprintf("line %d: %s: expected a whole number, got %s", n.Line, path, got)}, []string{path}
	}
	return problems, failed
}

// yamlField returns the type of the field of struct type t whose YAML key is
// key.
func yamlField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		if name == key && name != "-" {
			return f.Type, true
		}
	}
	return nil, false
}

// zeroDurations returns b with every bare 0 given for a duration written
// as 0s. yaml.v3 refuses a bare number for a time.Duration (5 could mean
// anything), but 0 is 0 in every unit, and "0 keeps everything" is how
// people write an unlimited retention. The patch appends to the scalar in
// place, so the line numbers of every later error stay true.
func zeroDurations(b []byte, t reflect.Type) []byte {
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil {
		return b // the decoder reports it
	}
	var zeros []*yaml.Node
	collectZeroDurations(&root, t, &zeros)
	if len(zeros) == 0 {
		return b
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	for _, n := range zeros {
		if n.Line < 1 || n.Line > len(lines) {
			continue
		}
		line := lines[n.Line-1]
		end := n.Column - 1 + len(n.Value)
		if n.Column < 1 || end > len(line) || string(line[n.Column-1:end]) != n.Value {
			continue // not where the parser said: leave it to the decoder's error
		}
		lines[n.Line-1] = slices.Concat(line[:end], []byte("s"), line[end:])
	}
	return bytes.Join(lines, nil)
}

func collectZeroDurations(n *yaml.Node, t reflect.Type, out *[]*yaml.Node) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectZeroDurations(c, t, out)
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := yamlField(t, n.Content[i].Value); ok {
				collectZeroDurations(n.Content[i+1], ft, out)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice {
			for _, c := range n.Content {
				collectZeroDurations(c, t.Elem(), out)
			}
		}
	case yaml.ScalarNode:
		if t == reflect.TypeOf(time.Duration(0)) && n.ShortTag() == "!!int" && n.Style == 0 && strings.Trim(n.Value, "0") == "" {
			*out = append(*out, n)
		}
	}
}
