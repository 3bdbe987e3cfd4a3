package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Source says what kind of writer made a change. The set is closed: a new
// kind of writer adds a constant here, so that consumers (the audit CLI, a
// target runner telling a pull from a push) can switch on it.
type Source string

// The sources of writes.
const (
	SourcePush      Source = "push"       // SCIM requests (Entra or any SCIM client)
	SourcePullGraph Source = "pull:graph" // a pull from Microsoft Graph
	SourcePullLDAP  Source = "pull:ldap"  // a pull from an LDAP directory
	SourceImport    Source = "import"     // scimbridge import
	SourceAdmin     Source = "admin"      // the admin console / CLI edits
)

// Origin is the provenance of a write, carried to the store on its context
// (WithOrigin) and recorded in the write's journal entry. It is set by the
// writer when the write happens; it is never guessed afterwards.
type Origin struct {
	Source Source `json:"source"`
	Actor  string `json:"actor,omitempty"` // token name or OAuth client id (push); user (admin)
	RunID  string `json:"runId,omitempty"` // the pull or import run
}

// ErrNoOrigin is returned by every write (Create, Update, Delete) whose
// context carries no Origin; nothing is written then. Requiring it at the
// store, the one place every writer passes, means no writer can forget it.
var ErrNoOrigin = errors.New("store: a write without an origin (store.WithOrigin)")

type originKey struct{}

// WithOrigin returns ctx carrying o as the provenance of the writes made with it.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the Origin WithOrigin put on ctx. An Origin with an
// empty Source counts as none.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok && o.Source != ""
}

// RequireOrigin returns the Origin of a write's context, or ErrNoOrigin.
// Backends call it before they touch anything.
func RequireOrigin(ctx context.Context) (Origin, error) {
	o, ok := OriginFrom(ctx)
	if !ok {
		return Origin{}, ErrNoOrigin
	}
	return o, nil
}

// AuditedAttrs are the attributes whose old and new values a journal entry
// keeps (AttrChange.Old/New): what an audit of account changes asks about.
// Other attributes are recorded by path only, so that the journal does not
// copy whole resources.
var AuditedAttrs = []string{"active", "userName", "emails", "displayName", "externalId"}

// ChangedAttrs compares a resource's attributes before and after a write,
// as the JSON documents the backends store (oldDoc nil for a create), and
// returns what changed, by path, sorted bytewise. Paths are the top-level
// attribute names as stored; an extension's attributes (an object under a
// "urn:" key) are compared one by one as "URN:attr". Old and New of the
// audited attributes are the stored JSON (json.RawMessage): the journal
// keeps them as they are, without decoding and re-encoding them.
//
// It works on the encoded documents because every write has them at hand:
// decoding them only one level deep and comparing bytes costs a fraction of
// decoding the whole old resource and comparing the values (both documents
// are encoded by encoding/json from maps, whose keys it sorts, so equal
// values are equal bytes).
func ChangedAttrs(oldDoc, newDoc []byte) ([]AttrChange, error) {
	o, err := flatDoc(oldDoc)
	if err != nil {
		return nil, err
	}
	n, err := flatDoc(newDoc)
	if err != nil {
		return nil, err
	}
	var out []AttrChange
	add := func(path string, ov, nv []byte) {
		c := AttrChange{Path: path}
		if slices.Contains(AuditedAttrs, path) {
			if ov != nil {
				c.Old = json.RawMessage(ov)
			}
			if nv != nil {
				c.New = json.RawMessage(nv)
			}
		}
		out = append(out, c)
	}
	// Both lists are sorted by path: merge them.
	i, j := 0, 0
	for i < len(o) || j < len(n) {
		switch {
		case j == len(n) || i < len(o) && o[i].path < n[j].path:
			add(o[i].path, o[i].raw, nil)
			i++
		case i == len(o) || n[j].path < o[i].path:
			add(n[j].path, nil, n[j].raw)
			j++
		default:
			if !bytes.Equal(o[i].raw, n[j].raw) {
				add(o[i].path, o[i].raw, n[j].raw)
			}
			i++
			j++
		}
	}
	return out, nil
}

// docAttr is one attribute of a document: its path and its JSON.
type docAttr struct {
	path string
	raw  []byte
}

// flatDoc splits an attributes document into its top-level attributes, and
// an extension's object into its attributes ("URN:attr"), sorted by path,
// leaving out nulls. The values are slices of doc.
func flatDoc(doc []byte) ([]docAttr, error) {
	var out []docAttr
	if len(bytes.TrimSpace(doc)) == 0 {
		return out, nil
	}
	err := scanObject(doc, func(k string, v []byte) error {
		if string(v) == "null" { // unassigned, as if absent (RFC 7643)
			return nil
		}
		if !strings.HasPrefix(k, "urn:") || v[0] != '{' {
			out = append(out, docAttr{k, v})
			return nil
		}
		return scanObject(v, func(a string, av []byte) error {
			if string(av) != "null" {
				out = append(out, docAttr{k + ":" + a, av})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	slices.SortFunc(out, func(a, b docAttr) int { return cmp.Compare(a.path, b.path) })
	return out, nil
}

// errBadJSON: a document the backends encoded with encoding/json does not
// scan. Never expected; the write fails rather than journal a wrong diff.
var errBadJSON = errors.New("malformed JSON object")

// scanObject calls fn with the key and the raw value of each member of the
// JSON object doc. It is a small scanner rather than json.Unmarshal into
// map[string]json.RawMessage, which costs several times as much on every
// write and validates documents encoding/json has just produced.
func scanObject(doc []byte, fn func(key string, raw []byte) error) error {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return errBadJSON
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return errBadJSON
		}
		end, err := skipString(doc, i)
		if err != nil {
			return err
		}
		key := string(doc[i+1 : end-1])
		if strings.IndexByte(key, '\\') >= 0 {
			if err := json.Unmarshal(doc[i:end], &key); err != nil {
				return err
			}
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return errBadJSON
		}
		start := skipSpace(doc, i+1)
		end, err = skipValue(doc, start)
		if err != nil {
			return err
		}
		if err := fn(key, doc[start:end]); err != nil {
			return err
		}
		i = skipSpace(doc, end)
		switch {
		case i >= len(doc):
			return errBadJSON
		case doc[i] == '}':
			return nil
		case doc[i] == ',':
			i = skipSpace(doc, i+1)
		default:
			return errBadJSON
		}
	}
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at doc[i] ('"').
func skipString(doc []byte, i int) (int, error) {
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errBadJSON
}

// skipValue returns the index after the value starting at doc[i].
func skipValue(doc []byte, i int) (int, error) {
	if i >= len(doc) {
		return 0, errBadJSON
	}
	switch doc[i] {
	case '"':
		return skipString(doc, i)
	case '{', '[':
		depth := 0
		for ; i < len(doc); i++ {
			switch doc[i] {
			case '"':
				end, err := skipString(doc, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errBadJSON
	}
	start := i // a number, true, false or null
	for i < len(doc) && doc[i] != ',' && doc[i] != '}' && doc[i] != ']' && doc[i] != ' ' && doc[i] != '\t' && doc[i] != '\n' && doc[i] != '\r' {
		i++
	}
	if i == start {
		return 0, errBadJSON
	}
	return i, nil
}

// NameOf returns the name a journal entry records for a resource: a user's
// userName, a group's displayName ("" if it has none).
func NameOf(kind Kind, attrs map[string]any) string {
	key := "displayName"
	if kind == User {
		key = "userName"
	}
	s, _ := attrs[key].(string)
	return s
}
