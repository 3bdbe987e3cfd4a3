package graphpull

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// Graph @odata.type values this package tells apart.
const (
	odataUser  = "#microsoft.graph.user"
	odataGroup = "#microsoft.graph.group"
)

// userSelect are the user properties a round asks Graph for: every
// property MapUser reads, accountEnabled, and manager (which /users/delta
// tracks as the manager@delta annotation). Only selected properties are
// tracked by delta: a change to any other property does not surface a user.
var userSelect = []string{
	"id", "userPrincipalName", "accountEnabled", "displayName", "jobTitle", "mail",
	"preferredLanguage", "givenName", "surname", "streetAddress", "city", "state",
	"postalCode", "country", "officeLocation", "businessPhones", "mobilePhone",
	"faxNumber", "mailNickname", "employeeId", "department", "manager",
}

// groupSelect are the group properties a round asks Graph for; members
// arrives as the members@delta annotation.
var groupSelect = []string{"id", "displayName", "members"}

// MapUser maps one Graph user object to the SCIM user Entra's default
// provisioning mapping (entra-and-graph.md §1.7, without roles) would have
// written. obj is the user as Graph's JSON has it (property names as in
// Graph; values as encoding/json decodes them: string, bool, float64,
// []any, map[string]any; pointer leaves such as kiota's *string are
// accepted too). The result's Attrs are in the store's canonical form:
//
//	SCIM attribute                    Graph property
//	userName                          userPrincipalName (required)
//	displayName                       displayName
//	title                             jobTitle
//	preferredLanguage                 preferredLanguage
//	externalId                        mailNickname
//	emails[0]                         {"primary": true, "type": "work", "value": mail}
//	name.givenName                    givenName
//	name.familyName                   surname
//	name.formatted                    givenName + " " + surname (Join: the present ones)
//	addresses[0]                      {"type": "work", ...}:
//	  .streetAddress                    streetAddress
//	  .locality                         city
//	  .region                           state
//	  .postalCode                       postalCode
//	  .country                          country
//	  .formatted                        officeLocation
//	phoneNumbers (in this order)      {"type": "work", "value": businessPhones[0]},
//	                                  {"type": "mobile", "value": mobilePhone},
//	                                  {"type": "fax", "value": faxNumber}
//	enterprise:employeeNumber         employeeId
//	enterprise:department             department
//	(User.Enabled)                    accountEnabled (absent: true)
//	(User.Manager)                    manager@delta (see below), or an
//	                                  expanded "manager" object
//
// An absent, null or empty ("") property leaves its attribute out (Entra
// does not provision nulls); a complex or multi-valued attribute with no
// value left is absent, as is the enterprise extension. "active" and the
// enterprise manager are not in Attrs (pull.User.Enabled and .Manager).
// proxyAddresses (emails[type eq "other"] in one Microsoft table) and roles
// are not mapped.
//
// Manager: "manager@delta" (an array of {"@odata.type", "id"} or one such
// object) gives the manager's object id, or "" when its entry carries
// "@removed" or the array is empty; "manager" (from $expand=manager) gives
// its "id", or "" when null. Neither key: Manager is nil (no news).
//
// The error, for an object that cannot be used (no id, no
// userPrincipalName, another @odata.type, a property of the wrong type), is
// the reason to report with obs.Skip.
func MapUser(obj map[string]any) (pull.User, error) {
	r := reader{obj: obj}
	id := r.str("id")
	if t := r.str("@odata.type"); t != "" && t != odataUser {
		return pull.User{ObjectID: id}, fmt.Errorf("unknown @odata.type %q in the users stream", t)
	}
	if id == "" && r.err == nil {
		r.err = fmt.Errorf("no id")
	}
	upn := r.str("userPrincipalName")
	if upn == "" && r.err == nil {
		r.err = fmt.Errorf("no userPrincipalName")
	}
	attrs := map[string]any{"userName": upn}
	setStr := func(attr, prop string) {
		if v := r.str(prop); v != "" {
			attrs[attr] = v
		}
	}
	setStr("displayName", "displayName")
	setStr("title", "jobTitle")
	setStr("preferredLanguage", "preferredLanguage")
	setStr("externalId", "mailNickname")
	if mail := r.str("mail"); mail != "" {
		attrs["emails"] = []any{map[string]any{"primary": true, "type": "work", "value": mail}}
	}

	name := map[string]any{}
	given, family := r.str("givenName"), r.str("surname")
	if given != "" {
		name["givenName"] = given
	}
	if family != "" {
		name["familyName"] = family
	}
	if f := strings.TrimSpace(given + " " + family); f != "" {
		name["formatted"] = f
	}
	if len(name) > 0 {
		attrs["name"] = name
	}

	addr := map[string]any{}
	for _, p := range [][2]string{
		{"streetAddress", "streetAddress"}, {"locality", "city"}, {"region", "state"},
		{"postalCode", "postalCode"}, {"country", "country"}, {"formatted", "officeLocation"},
	} {
		if v := r.str(p[1]); v != "" {
			addr[p[0]] = v
		}
	}
	if len(addr) > 0 {
		addr["type"] = "work"
		attrs["addresses"] = []any{addr}
	}

	var phones []any
	for _, p := range [][2]string{{"work", r.first("businessPhones")}, {"mobile", r.str("mobilePhone")}, {"fax", r.str("faxNumber")}} {
		if p[1] != "" {
			phones = append(phones, map[string]any{"type": p[0], "value": p[1]})
		}
	}
	if phones != nil {
		attrs["phoneNumbers"] = phones
	}

	ent := map[string]any{}
	if v := r.str("employeeId"); v != "" {
		ent["employeeNumber"] = v
	}
	if v := r.str("department"); v != "" {
		ent["department"] = v
	}
	if len(ent) > 0 {
		attrs[pull.EnterpriseURN] = ent
	}

	enabled := true
	if v, ok := r.obj["accountEnabled"]; ok && plain(v) != nil {
		b, isBool := plain(v).(bool)
		if !isBool && r.err == nil {
			r.err = fmt.Errorf("accountEnabled is %T, not a boolean", plain(v))
		}
		enabled = b || !isBool
	}
	mgr, err := managerOf(obj)
	if err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		return pull.User{ObjectID: id}, r.err
	}
	return pull.User{ObjectID: id, Attrs: attrs, Enabled: enabled, Manager: mgr}, nil
}

// managerOf reads the manager annotation (manager@delta) or the expanded
// manager object; nil when the object says nothing about the manager.
func managerOf(obj map[string]any) (*string, error) {
	none := ""
	if v, ok := obj["manager@delta"]; ok {
		switch x := plain(v).(type) {
		case nil:
			return &none, nil
		case map[string]any:
			return managerEntry(x)
		case []any:
			// One entry in practice; a removed entry beside a new one
			// (a manager change reported as remove+add) keeps the new one.
			var out *string = &none
			for _, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("manager@delta entry is %T, not an object", e)
				}
				id, err := managerEntry(m)
				if err != nil {
					return nil, err
				}
				if *id != "" {
					out = id
				}
			}
			return out, nil
		default:
			return nil, fmt.Errorf("manager@delta is %T, not an array", x)
		}
	}
	if v, ok := obj["manager"]; ok {
		switch x := plain(v).(type) {
		case nil:
			return &none, nil
		case map[string]any:
			return managerEntry(x)
		default:
			return nil, fmt.Errorf("manager is %T, not an object", x)
		}
	}
	return nil, nil
}

func managerEntry(m map[string]any) (*string, error) {
	none := ""
	if _, removed := m["@removed"]; removed {
		return &none, nil
	}
	id, _ := plain(m["id"]).(string)
	if id == "" {
		return nil, fmt.Errorf("manager entry without an id")
	}
	return &id, nil
}

// removalOf reads an object's @removed annotation: nil when absent. Graph's
// reasons are "changed" (soft-deleted, restorable) and "deleted" (gone); an
// unknown or missing reason counts as "changed", the reversible one.
func removalOf(kind store.Kind, id string, obj map[string]any) *pull.Removal {
	v, ok := obj["@removed"]
	if !ok {
		return nil
	}
	reason := pull.RemovedChanged
	if m, ok := plain(v).(map[string]any); ok {
		if s, _ := plain(m["reason"]).(string); strings.EqualFold(s, string(pull.RemovedDeleted)) {
			reason = pull.RemovedDeleted
		}
	}
	return &pull.Removal{Kind: kind, ObjectID: id, Reason: reason}
}

// mapGroup turns one /groups/delta entry into a group observation, a
// removal, or a skip (exactly one of the three is set), plus skips for
// member entries it could not read. full: the round reads everything, so
// the entry's members are (a slice of) the whole member list. Members that
// are not users are dropped, except member groups when nested is set
// (Group.Nested); a removed member group is dropped too (Group has no field
// for it: nesting only widens scope).
func mapGroup(obj map[string]any, full, nested bool) (g *pull.Group, rem *pull.Removal, skip *pull.Skip, memberSkips []pull.Skip) {
	r := reader{obj: obj}
	id := r.str("id")
	if t := r.str("@odata.type"); t != "" && t != odataGroup {
		return nil, nil, &pull.Skip{Kind: store.Group, ObjectID: id, Reason: fmt.Sprintf("unknown @odata.type %q in the groups stream", t)}, nil
	}
	if id == "" {
		return nil, nil, &pull.Skip{Kind: store.Group, Reason: "group entry without an id"}, nil
	}
	if rem := removalOf(store.Group, id, obj); rem != nil {
		return nil, rem, nil, nil
	}
	name := r.str("displayName")
	if r.err != nil {
		return nil, nil, &pull.Skip{Kind: store.Group, ObjectID: id, Reason: r.err.Error()}, nil
	}
	g = &pull.Group{ObjectID: id, DisplayName: name, MembersComplete: full}
	raw, ok := obj["members@delta"]
	if !ok {
		return g, nil, nil, nil
	}
	list, ok := plain(raw).([]any)
	if !ok && plain(raw) != nil {
		return nil, nil, &pull.Skip{Kind: store.Group, ObjectID: id, Reason: fmt.Sprintf("members@delta is %T, not an array", plain(raw))}, nil
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		mid, _ := m["id"].(string)
		mtype, _ := m["@odata.type"].(string)
		if !ok || mid == "" || mtype == "" {
			memberSkips = append(memberSkips, pull.Skip{Kind: store.Group, ObjectID: id, Reason: "member entry without @odata.type or id"})
			continue
		}
		_, removed := m["@removed"]
		switch mtype {
		case odataUser:
			if removed {
				g.Removed = append(g.Removed, mid)
			} else {
				g.Added = append(g.Added, mid)
			}
		case odataGroup:
			if nested && !removed {
				g.Nested = append(g.Nested, mid)
			}
		}
	}
	return g, nil, nil, memberSkips
}

// reader reads string properties of a Graph object, remembering the first
// type error.
type reader struct {
	obj map[string]any
	err error
}

func (r *reader) str(prop string) string {
	switch v := plain(r.obj[prop]).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		if r.err == nil {
			r.err = fmt.Errorf("%s is %T, not a string", prop, v)
		}
		return ""
	}
}

// first is the first non-empty string of a string collection
// (businessPhones).
func (r *reader) first(prop string) string {
	switch v := plain(r.obj[prop]).(type) {
	case nil:
		return ""
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				return s
			}
		}
		return ""
	default:
		if r.err == nil {
			r.err = fmt.Errorf("%s is %T, not an array of strings", prop, v)
		}
		return ""
	}
}

// plain turns a value as kiota's JSON parse node leaves it in
// GetAdditionalData (map[string]any / []any with pointer leaves: *string,
// *bool, *float64, *int64, …) into encoding/json's form (string, bool,
// float64, []any, map[string]any, nil). Plain values pass through; typed
// slices ([]string) become []any.
func plain(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *bool:
		if x == nil {
			return nil
		}
		return *x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return plain(rv.Elem().Interface())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = plain(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[it.Key().String()] = plain(it.Value().Interface())
		}
		return out
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	}
	return v
}
