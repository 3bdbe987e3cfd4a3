package scim

import (
	"errors"
	"net/http"
)

// NewHandler returns the HTTP handler serving every tenant's SCIM API plus
// /healthz and /readyz.
func NewHandler(opts Options) (http.Handler, error) {
	return nil, errors.New("TODO: not implemented")
}
