package query

import (
	"sync"

	"github.com/scimbridge/scimbridge/schemas"
)

const (
	// cacheSize bounds each parse cache; when it is full a random entry makes
	// room for the new one.
	cacheSize = 4096
	// maxCachedLen keeps unusually long filters and paths out of the caches so
	// that they hold at most cacheSize*maxCachedLen bytes of keys.
	maxCachedLen = 1024
)

// cacheKey identifies a parse: the resource type by identity rather than by
// name, so two registries (tenants with different custom extensions, tests)
// never share resolutions, and the string as given.
type cacheKey struct {
	rt *schemas.ResourceType
	s  string
}

// cache is a bounded, concurrency-safe map of parse results. Cached values
// are shared between goroutines and must never be modified.
type cache[V any] struct {
	mu sync.RWMutex
	m  map[cacheKey]V
}

func (c *cache[V]) get(k cacheKey) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *cache[V]) put(k cacheKey, v V) {
	if len(k.s) > maxCachedLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[cacheKey]V, 64)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= cacheSize {
		for old := range c.m { // map iteration starts at a random entry
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

func (c *cache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

var (
	filterCache cache[Filter]
	pathCache   cache[PathExpr]
)
