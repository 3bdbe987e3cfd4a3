package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// failingStore breaks Get with an internal error that must not leak, and
// Query with ErrUnavailable.
type failingStore struct{ store.Store }

func (failingStore) Get(context.Context, store.Ref) (store.Resource, error) {
	return store.Resource{}, errors.New("disk I/O error at /var/secret/path.db")
}

func (failingStore) Query(context.Context, string, store.Kind, store.Query) (store.Page, error) {
	return store.Page{}, fmt.Errorf("dial: %w", store.ErrUnavailable)
}

func TestInternalErrorsRevealNothing(t *testing.T) {
	h := newHarness(t, func(o *scimOptions) { o.Store = failingStore{o.Store} })
	r := h.do("GET", "/Users/some-id", nil)
	h.scimError(r, http.StatusInternalServerError, "")
	if strings.Contains(string(r.raw), "secret") || strings.Contains(string(r.raw), "disk") {
		t.Fatalf("500 leaks internals: %s", r.raw)
	}
	h.scimError(h.do("GET", "/Users", nil), http.StatusServiceUnavailable, "")
	// The server keeps serving.
	h.createUser("still-works", nil)
}
