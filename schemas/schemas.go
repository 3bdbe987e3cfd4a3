// Package schemas holds the SCIM schemas scimbridge serves (RFC 7643 core User,
// the enterprise User extension, Group, and custom extensions from config) and a
// Go view of their attribute metadata that the filter planner, projection and the
// PATCH engine use. The JSON definitions are embedded and parsed once with
// elimity-com/scim's schema.Schema.UnmarshalJSON, so elimity stays the library of
// record for validation; the view is built once at load time so no request pays
// for schema construction.
package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
)

//go:embed user.json enterprise_user.json group.json
var files embed.FS

// Well-known schema URNs.
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Attribute data types (RFC 7643 §2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeReference = "reference"
	TypeBinary    = "binary"
	TypeComplex   = "complex"
)

// Attribute characteristics (RFC 7643 §7).
const (
	MutabilityReadOnly  = "readOnly"
	MutabilityReadWrite = "readWrite"
	MutabilityImmutable = "immutable"
	MutabilityWriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedDefault = "default"
	ReturnedNever   = "never"
	ReturnedRequest = "request"
)

// Attribute is the metadata of one attribute or sub-attribute.
type Attribute struct {
	Name            string // canonical spelling, e.g. "userName"
	SchemaURN       string // the schema that defines it
	Type            string
	MultiValued     bool
	CaseExact       bool
	Required        bool
	Mutability      string
	Returned        string
	Uniqueness      string
	CanonicalValues []string
	SubAttributes   []*Attribute // in schema order
	Parent          *Attribute   // nil for a top-level attribute

	sub map[string]*Attribute // lower-cased name -> sub-attribute
}

// Sub returns the sub-attribute called name (case-insensitive), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	if a == nil {
		return nil
	}
	return a.sub[strings.ToLower(name)]
}

// IsComplex reports whether the attribute has sub-attributes.
func (a *Attribute) IsComplex() bool { return a.Type == TypeComplex }

// Extension is a schema extension of a resource type.
type Extension struct {
	Schema   schema.Schema
	Required bool
	attrs    map[string]*Attribute
	ordered  []*Attribute
}

// Attributes returns the extension's top-level attributes in schema order.
func (e *Extension) Attributes() []*Attribute { return e.ordered }

// ResourceType is a SCIM resource type with its schemas and attribute view.
type ResourceType struct {
	Name        string // "User" or "Group"
	Endpoint    string // "/Users" or "/Groups"
	Description string
	Schema      schema.Schema // core schema, as elimity parsed it
	Extensions  []*Extension

	attrs   map[string]*Attribute // lower-cased core and common top-level names
	ordered []*Attribute          // core attributes in schema order (no common ones)
	common  []*Attribute          // id, externalId, meta
	ext     map[string]*Extension // lower-cased URN -> extension
}

// CoreAttributes returns the core schema's top-level attributes in schema order,
// without the common attributes id, externalId and meta.
func (rt *ResourceType) CoreAttributes() []*Attribute { return rt.ordered }

// CommonAttributes returns id, externalId and meta.
func (rt *ResourceType) CommonAttributes() []*Attribute { return rt.common }

// Attribute returns the top-level core or common attribute called name
// (case-insensitive), or nil.
func (rt *ResourceType) Attribute(name string) *Attribute {
	return rt.attrs[strings.ToLower(name)]
}

// Extension returns the extension with the given URN (case-insensitive), or nil.
func (rt *ResourceType) Extension(urn string) *Extension {
	return rt.ext[strings.ToLower(urn)]
}

// ExtensionAttribute returns the top-level attribute name of extension urn, or nil.
func (rt *ResourceType) ExtensionAttribute(urn, name string) *Attribute {
	e := rt.Extension(urn)
	if e == nil {
		return nil
	}
	return e.attrs[strings.ToLower(name)]
}

// SchemaURNs returns the core schema URN followed by every extension URN.
func (rt *ResourceType) SchemaURNs() []string {
	out := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		out = append(out, e.Schema.ID)
	}
	return out
}

// Path is an attribute path resolved against a resource type:
// [URN ":"] attr ["." sub].
type Path struct {
	URN  string     // extension URN in canonical case; "" for core and common attributes
	Attr *Attribute // top-level attribute
	Sub  *Attribute // sub-attribute, or nil
}

// Leaf returns the attribute the path ends at.
func (p Path) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// String returns the path in canonical spelling.
func (p Path) String() string {
	s := p.Attr.Name
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	return s
}

// ErrUnknownAttribute is returned (wrapped) by ResolvePath for a path that names no
// attribute of the resource type.
var ErrUnknownAttribute = fmt.Errorf("unknown attribute")

// ReadablePaths lists every attribute a response can show: each top-level
// attribute (common, core, extension) not returned "never", and each such
// sub-attribute of a complex one, in schema order.
func (rt *ResourceType) ReadablePaths() []Path {
	var out []Path
	add := func(urn string, attrs []*Attribute) {
		for _, a := range attrs {
			if a.Returned == ReturnedNever {
				continue
			}
			out = append(out, Path{URN: urn, Attr: a})
			for _, sub := range a.SubAttributes {
				if sub.Returned != ReturnedNever {
					out = append(out, Path{URN: urn, Attr: a, Sub: sub})
				}
			}
		}
	}
	add("", rt.CommonAttributes())
	add("", rt.CoreAttributes())
	for _, e := range rt.Extensions {
		add(e.Schema.ID, e.Attributes())
	}
	return out
}

// ResolvePath resolves a dotted attribute path such as "userName",
// "name.givenName", "emails.value", "meta.lastModified" or a URN-qualified path
// such as "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
// A path qualified with the core schema URN is accepted too, and so is an
// unqualified name that exactly one extension defines ("manager"). Names are
// case-insensitive.
func (rt *ResourceType) ResolvePath(path string) (Path, error) {
	urn, rest := rt.splitURN(path)
	var p Path
	name, sub, _ := strings.Cut(rest, ".")
	if urn != "" && !strings.EqualFold(urn, rt.Schema.ID) {
		e := rt.Extension(urn)
		if e == nil {
			return Path{}, fmt.Errorf("%w: %q", ErrUnknownAttribute, path)
		}
		p.URN = e.Schema.ID
		p.Attr = e.attrs[strings.ToLower(name)]
	} else {
		p.Attr = rt.Attribute(name)
		if p.Attr == nil && urn == "" {
			// An unqualified name that only one extension defines resolves
			// to it: Entra's reference check says `manager eq "id"`.
			for _, e := range rt.Extensions {
				if a := e.attrs[strings.ToLower(name)]; a != nil {
					if p.Attr != nil {
						return Path{}, fmt.Errorf("%w: %q is ambiguous; qualify it with its schema URN", ErrUnknownAttribute, path)
					}
					p.URN, p.Attr = e.Schema.ID, a
				}
			}
		}
	}
	if p.Attr == nil {
		return Path{}, fmt.Errorf("%w: %q", ErrUnknownAttribute, path)
	}
	if sub != "" {
		p.Sub = p.Attr.Sub(sub)
		if p.Sub == nil {
			return Path{}, fmt.Errorf("%w: %q", ErrUnknownAttribute, path)
		}
	}
	return p, nil
}

// SplitURN splits a URN-qualified path into the schema URN it starts with (one
// of this resource type's schemas, in canonical case) and the rest. It returns
// ("", path) when the path is not qualified by a known schema URN.
func (rt *ResourceType) SplitURN(path string) (urn, rest string) {
	u, r := rt.splitURN(path)
	if u == "" {
		return "", path
	}
	if strings.EqualFold(u, rt.Schema.ID) {
		return rt.Schema.ID, r
	}
	return rt.Extension(u).Schema.ID, r
}

func (rt *ResourceType) splitURN(path string) (string, string) {
	if !strings.HasPrefix(strings.ToLower(path), "urn:") {
		return "", path
	}
	lp := strings.ToLower(path)
	cands := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		cands = append(cands, e.Schema.ID)
	}
	for _, c := range cands {
		lc := strings.ToLower(c)
		if strings.HasPrefix(lp, lc+":") {
			return c, path[len(c)+1:]
		}
		if lp == lc {
			return c, ""
		}
	}
	return "", path
}

// Registry holds the resource types a server offers.
type Registry struct {
	User  *ResourceType
	Group *ResourceType
}

// ResourceTypes returns User and Group.
func (r *Registry) ResourceTypes() []*ResourceType { return []*ResourceType{r.User, r.Group} }

// ByName returns the resource type called name ("User" or "Group"), or nil.
func (r *Registry) ByName(name string) *ResourceType {
	for _, rt := range r.ResourceTypes() {
		if strings.EqualFold(rt.Name, name) {
			return rt
		}
	}
	return nil
}

// CustomExtension is an extension schema loaded from configuration.
type CustomExtension struct {
	ResourceType string // "User" or "Group"
	JSON         []byte // a SCIM schema resource (id, name, attributes)
	Required     bool
}

// Load parses the embedded schemas and any custom extensions.
func Load(custom ...CustomExtension) (*Registry, error) {
	user, err := parseEmbedded("user.json")
	if err != nil {
		return nil, err
	}
	ent, err := parseEmbedded("enterprise_user.json")
	if err != nil {
		return nil, err
	}
	group, err := parseEmbedded("group.json")
	if err != nil {
		return nil, err
	}
	reg := &Registry{
		User:  newResourceType("User", "/Users", "User Account", user),
		Group: newResourceType("Group", "/Groups", "Group", group),
	}
	reg.User.addExtension(ent, false)
	for i, c := range custom {
		var s schema.Schema
		if err := json.Unmarshal(c.JSON, &s); err != nil {
			return nil, fmt.Errorf("custom schema %d: %w", i, err)
		}
		if !strings.HasPrefix(strings.ToLower(s.ID), "urn:") {
			return nil, fmt.Errorf("custom schema %d: id %q is not a URN", i, s.ID)
		}
		rt := reg.ByName(c.ResourceType)
		if rt == nil {
			return nil, fmt.Errorf("custom schema %q: resourceType %q is not User or Group", s.ID, c.ResourceType)
		}
		if rt.Extension(s.ID) != nil || strings.EqualFold(s.ID, rt.Schema.ID) {
			return nil, fmt.Errorf("custom schema %q: already defined for %s", s.ID, rt.Name)
		}
		rt.addExtension(s, c.Required)
	}
	return reg, nil
}

func parseEmbedded(name string) (schema.Schema, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return schema.Schema{}, err
	}
	var s schema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return schema.Schema{}, fmt.Errorf("parse %s: %w", name, err)
	}
	return s, nil
}

func newResourceType(name, endpoint, desc string, s schema.Schema) *ResourceType {
	rt := &ResourceType{
		Name: name, Endpoint: endpoint, Description: desc, Schema: s,
		attrs: map[string]*Attribute{}, ext: map[string]*Extension{},
	}
	for _, a := range s.Attributes {
		v := view(a, s.ID, nil)
		rt.ordered = append(rt.ordered, v)
		rt.attrs[strings.ToLower(v.Name)] = v
	}
	// The common attributes come from elimity's definitions, built once here
	// rather than per request. elimity marks externalId caseExact, as RFC 7643
	// §3.1 says.
	for _, a := range schema.CommonAttributes() {
		if a.Name() == "schemas" {
			continue
		}
		v := view(a, s.ID, nil)
		rt.common = append(rt.common, v)
		rt.attrs[strings.ToLower(v.Name)] = v
	}
	return rt
}

func (rt *ResourceType) addExtension(s schema.Schema, required bool) {
	e := &Extension{Schema: s, Required: required, attrs: map[string]*Attribute{}}
	for _, a := range s.Attributes {
		v := view(a, s.ID, nil)
		e.ordered = append(e.ordered, v)
		e.attrs[strings.ToLower(v.Name)] = v
	}
	rt.Extensions = append(rt.Extensions, e)
	rt.ext[strings.ToLower(s.ID)] = e
}

func view(a schema.CoreAttribute, urn string, parent *Attribute) *Attribute {
	v := &Attribute{
		Name:            a.Name(),
		SchemaURN:       urn,
		Type:            a.AttributeType(),
		MultiValued:     a.MultiValued(),
		CaseExact:       a.CaseExact(),
		Required:        a.Required(),
		Mutability:      a.Mutability(),
		Returned:        a.Returned(),
		Uniqueness:      a.Uniqueness(),
		CanonicalValues: a.CanonicalValues(),
		Parent:          parent,
	}
	if a.HasSubAttributes() {
		v.sub = map[string]*Attribute{}
		for _, sa := range a.SubAttributes() {
			sv := view(sa, urn, v)
			v.SubAttributes = append(v.SubAttributes, sv)
			v.sub[strings.ToLower(sv.Name)] = sv
		}
	}
	return v
}
