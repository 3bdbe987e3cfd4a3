package graphpull

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	khttp "github.com/microsoft/kiota-http-go"
)

// reauthHandler renews the access token once when Graph answers 401 to a
// request that carried one. azidentity renews a token ahead of its expiry,
// but a token Graph stops accepting earlier (clock skew, revocation, a
// tenant-side reset) would otherwise fail the round: asking with a claims
// challenge makes azidentity skip its cache and fetch a new token, and the
// request is sent again with it. Only bodiless requests are resent (the
// pull only GETs); a second 401 is the answer.
type reauthHandler struct {
	cred  *renewingCredential
	scope string
}

func (h reauthHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || req.Header.Get("Authorization") == "" || req.Body != nil && req.Body != http.NoBody {
		return resp, err
	}
	// A claims challenge (the form Entra's continuous access evaluation
	// uses) that any token issued from now on satisfies.
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
	tok, terr := h.cred.GetToken(req.Context(), policy.TokenRequestOptions{Scopes: []string{h.scope}, Claims: claims})
	if terr != nil || tok.Token == "" {
		return resp, nil // report Graph's 401, not the renewal's failure
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	again := req.Clone(req.Context())
	again.Header.Set("Authorization", "Bearer "+tok.Token)
	return p.Next(again, i)
}

// renewingCredential is the credential kiota's auth provider asks: the
// app's azidentity credential, except that a token fetched past
// azidentity's cache (reauthHandler's claims request) is used from then on
// until it nears its expiry. azidentity keeps the refused token in its cache
// and would hand it out again.
type renewingCredential struct {
	inner azcore.TokenCredential

	mu    sync.Mutex
	fresh azcore.AccessToken
}

// renewMargin is how long before its expiry a renewed token is left to
// azidentity's own refresh again.
const renewMargin = 5 * time.Minute

func (c *renewingCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if opts.Claims == "" {
		c.mu.Lock()
		f := c.fresh
		c.mu.Unlock()
		if f.Token != "" && time.Until(f.ExpiresOn) > renewMargin {
			return f, nil
		}
	}
	tok, err := c.inner.GetToken(ctx, opts)
	if err == nil && opts.Claims != "" {
		c.mu.Lock()
		c.fresh = tok
		c.mu.Unlock()
	}
	return tok, err
}
