package graphpull

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func odataErr(status int, code, msg string) error {
	e := odataerrors.NewODataError()
	m := odataerrors.NewMainError()
	m.SetCode(&code)
	m.SetMessage(&msg)
	e.SetErrorEscaped(m)
	e.SetStatusCode(status)
	return e
}

func TestDescribeNamesThePermission(t *testing.T) {
	for what, perm := range map[string]string{"users": "User.Read.All", "groups": "GroupMember.Read.All"} {
		err := describe(odataErr(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."), what, "GET /"+what+"/delta", "t")
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), perm) || !strings.Contains(err.Error(), "Insufficient privileges") {
			t.Errorf("%s: %v", what, err)
		}
	}
	if err := describe(odataErr(401, "InvalidAuthenticationToken", "Access token has expired."), "users", "GET /users/delta", "t"); !errors.Is(err, ErrAuthentication) {
		t.Errorf("401: %v", err)
	}
}

func TestAsResync(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{odataErr(400, "syncStateNotFound", "x"), true},
		{odataErr(400, "resyncRequired", "x"), true},
		{odataErr(410, "whatever", "x"), true},
		{odataErr(400, "BadRequest", "x"), false},
		{errors.New("plain"), false},
	} {
		if _, ok := asResync(tc.err, "users"); ok != tc.want {
			t.Errorf("%v: %v", tc.err, ok)
		}
	}
}

func TestShouldRetryIsBounded(t *testing.T) {
	resp := func(h string) *http.Response {
		r := &http.Response{Header: http.Header{}}
		if h != "" {
			r.Header.Set("Retry-After", h)
		}
		return r
	}
	if !shouldRetry(0, 1, nil, resp("")) || !shouldRetry(0, 1, nil, resp("30")) {
		t.Fatal("ordinary Retry-After refused")
	}
	if shouldRetry(0, 1, nil, resp("3600")) {
		t.Fatal("an hour's Retry-After accepted: the round would hang")
	}
	if shouldRetry(maxRetryTotal-time.Second, 3, nil, resp("30")) {
		t.Fatal("retrying beyond the total bound")
	}
	if d := retryAfter(resp(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))); d < 50*time.Second || d > time.Minute {
		t.Fatalf("HTTP-date Retry-After: %v", d)
	}
}
