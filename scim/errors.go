package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// apiError is an error that becomes a SCIM error response (RFC 7644 §3.12).
type apiError struct {
	status   int
	scimType scimerrors.ScimType
	detail   string
	// retryAfter, if set, is sent as Retry-After (429).
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.detail }

func errBadRequest(t scimerrors.ScimType, detail string) *apiError {
	return &apiError{status: http.StatusBadRequest, scimType: t, detail: detail}
}

func errStatus(status int, detail string) *apiError {
	return &apiError{status: status, detail: detail}
}

var (
	errNotFound     = errStatus(http.StatusNotFound, "Resource not found.")
	errPrecondition = errStatus(http.StatusPreconditionFailed, "The resource has changed: its version does not match If-Match.")
	errTooLarge     = errStatus(http.StatusRequestEntityTooLarge, "The request body is larger than the server accepts.")
	errUnavailable  = errStatus(http.StatusServiceUnavailable, "The store is unavailable; try again later.")
	errInternal     = errStatus(http.StatusInternalServerError, "Internal error.")
	errSlowBody     = errStatus(http.StatusRequestTimeout, "The request body arrived too slowly.")
)

// toAPIError maps every error a handler can meet to the response it becomes.
// It is the one place where store, query and PATCH errors turn into SCIM
// errors; anything it does not know is a 500 whose detail reveals nothing (the
// cause is logged instead).
func (s *server) toAPIError(ctx context.Context, err error) *apiError {
	var ae *apiError
	var pe *patch.Error
	var ce *store.ConflictError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &pe):
		return errBadRequest(scimerrors.ScimType(pe.ScimType), pe.Detail)
	case errors.As(err, &ce):
		return &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
			detail: ce.Attribute + " is already in use."}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, scimType: scimerrors.ScimTypeUniqueness,
			detail: "One or more attribute values are already in use."}
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrPrecondition):
		return errPrecondition
	case errors.Is(err, query.ErrInvalidFilter):
		return errBadRequest(scimerrors.ScimTypeInvalidFilter, err.Error())
	case errors.Is(err, query.ErrInvalidPath):
		return errBadRequest(scimerrors.ScimTypeInvalidPath, err.Error())
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, store.ErrUnavailable):
		s.log.ErrorContext(ctx, "store unavailable", "error", err)
		return errUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errStatus(http.StatusServiceUnavailable, "The request was cancelled or timed out.")
	default:
		s.log.ErrorContext(ctx, "internal error", "error", err)
		return errInternal
	}
}

// writeError writes err as a SCIM error body.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeAPIError(w, s.toAPIError(r.Context(), err))
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	body := struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
	}{[]string{"urn:ietf:params:scim:api:messages:2.0:Error"}, strconv.Itoa(e.status), string(e.scimType), e.detail}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", contentType)
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="scimbridge"`)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(e.retryAfter))
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
