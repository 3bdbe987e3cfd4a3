package targets

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Config is an adapter's configuration: a fresh value from the Registry is
// decoded from the target's config block (strictly, by the loader), then
// validated and opened.
type Config interface {
	// Validate applies defaults and reports every problem, naming the
	// fields (e.g. "webhook.url: must be an http or https URL").
	Validate() error
	// Open returns the target named name. It validates first, so a caller
	// cannot open an invalid config.
	Open(name string, deps Deps) (Target, error)
}

// Deps are what the process hands every adapter; a struct, so that a new
// dependency does not change Open's signature.
type Deps struct {
	Logger     *slog.Logger
	HTTPClient *http.Client     // nil: the adapter builds its own
	Now        func() time.Time // nil: time.Now
}

// Registry maps adapter type names ("webhook", "ldap", ...) to fresh
// configuration values. It is filled explicitly by the caller (the one
// list of built-ins is targets/builtin, to come); there is no global one.
type Registry struct {
	types map[string]func() Config
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]func() Config{}} }

// Register adds an adapter type. It panics on an empty name, a nil func or
// a name registered twice: those are programming errors in the wiring.
func (r *Registry) Register(typ string, newConfig func() Config) {
	if typ == "" || newConfig == nil {
		panic("targets: Register with an empty type or a nil config func")
	}
	if _, dup := r.types[typ]; dup {
		panic("targets: type " + typ + " registered twice")
	}
	r.types[typ] = newConfig
}

// New returns a fresh configuration value of type typ to decode into; an
// error naming the known types if typ is not registered.
func (r *Registry) New(typ string) (Config, error) {
	f, ok := r.types[typ]
	if !ok {
		return nil, fmt.Errorf("unknown target type %q (known: %s)", typ, strings.Join(r.Types(), ", "))
	}
	return f(), nil
}

// Types lists the registered type names, sorted.
func (r *Registry) Types() []string {
	ts := make([]string, 0, len(r.types))
	for t := range r.types {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// Open builds the target name of type typ: decode fills the fresh config
// (the loader's strict decoder), then it is validated and opened.
func (r *Registry) Open(typ, name string, decode func(Config) error, deps Deps) (Target, error) {
	c, err := r.New(typ)
	if err != nil {
		return nil, err
	}
	if decode != nil {
		if err := decode(c); err != nil {
			return nil, fmt.Errorf("target %q: %w", name, err)
		}
	}
	t, err := c.Open(name, deps)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", name, err)
	}
	return t, nil
}
