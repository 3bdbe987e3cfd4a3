package fakegraph

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The client assertion type of RFC 7523.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// serveLogin answers the Entra endpoints: the tenant's OpenID metadata
// (MSAL reads it before the first token) and the token endpoint.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	tenant := parts[0]
	rest := strings.Join(parts[1:], "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration", ".well-known/openid-configuration":
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !strings.EqualFold(tenant, s.opts.TenantID) {
			s.loginError(w, http.StatusBadRequest, "invalid_tenant", 90002, s.unknownTenantText(tenant))
			return
		}
		base := s.ts.URL + "/" + tenant
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"issuer":                                base + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"tenant_region_scope":                   "EU",
		})
	case "oauth2/v2.0/token":
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.serveToken(w, r, tenant)
	default:
		writeGraphError(w, http.StatusNotFound, "NotFound", "fakegraph: no such endpoint "+path)
	}
}

func (s *Server) unknownTenantText(tenant string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		s.loginError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if !strings.EqualFold(tenant, s.opts.TenantID) {
		s.loginError(w, http.StatusBadRequest, "invalid_request", 90002, s.unknownTenantText(tenant))
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		s.loginError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		return
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		s.loginError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if clientID != s.opts.ClientID {
		s.loginError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
		return
	}
	scope := f.Get("scope")
	if !slices.ContainsFunc(strings.Fields(scope), func(sc string) bool { return strings.HasSuffix(sc, "/.default") }) {
		s.loginError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if f.Get("client_secret") != s.opts.ClientSecret {
			s.loginError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != assertionType {
			s.loginError(w, http.StatusBadRequest, "invalid_request", 7000219, "'client_assertion_type' is required and must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.")
			return
		}
		if code, text := s.checkAssertion(f.Get("client_assertion"), clientID, tenant); code != 0 {
			s.loginError(w, http.StatusUnauthorized, "invalid_client", code, text)
			return
		}
	default:
		s.loginError(w, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	tok := "fakegraph." + randomHex(24)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.opts.TokenLifetime)
	s.tokensIssued++
	s.mu.Unlock()
	secs := int(s.opts.TokenLifetime.Round(time.Second) / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// checkAssertion verifies a client assertion against the configured
// certificates; it returns the AADSTS code and text of a failure, 0 when
// the assertion is good.
func (s *Server) checkAssertion(assertion, clientID, tenant string) (int, string) {
	var used string
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		cert := s.certFor(t.Header)
		if cert == nil {
			used, _ = t.Header["x5t"].(string)
			return nil, errKeyNotFound
		}
		return cert.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, errKeyNotFound):
		return 700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s']", used)
	case errors.Is(err, jwt.ErrTokenExpired):
		return 700024, "Client assertion is not within its valid time range."
	case err != nil:
		return 700027, "Client assertion failed signature validation. [Reason - " + err.Error() + "]"
	}
	if iss, _ := claims["iss"].(string); iss != clientID {
		return 700023, fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials . (iss %q)", iss)
	}
	if sub, _ := claims["sub"].(string); sub != clientID {
		return 700021, fmt.Sprintf("Client assertion application identifier doesn't match 'client_id' parameter. (sub %q)", sub)
	}
	aud, _ := claims.GetAudience()
	want := "/" + strings.ToLower(tenant) + "/oauth2/v2.0/token"
	okAud := false
	for _, a := range aud {
		if strings.HasSuffix(strings.ToLower(a), want) {
			okAud = true
		}
	}
	if !okAud {
		return 700021, fmt.Sprintf("Client assertion audience claim does not match the token endpoint %s.", s.TokenEndpoint())
	}
	return 0, ""
}

var errKeyNotFound = errors.New("the key was not found")

// certFor finds the configured certificate named by a JWT header's x5t
// (SHA-1 thumbprint) or x5t#S256.
func (s *Server) certFor(h map[string]any) *x509.Certificate {
	x5t, _ := h["x5t"].(string)
	x5tS256, _ := h["x5t#S256"].(string)
	for _, c := range s.opts.ClientCertificates {
		s1 := sha1.Sum(c.Raw)
		s2 := sha256.Sum256(c.Raw)
		if x5t != "" && thumbprintMatches(x5t, s1[:]) {
			return c
		}
		if x5tS256 != "" && thumbprintMatches(x5tS256, s2[:]) {
			return c
		}
	}
	return nil
}

// thumbprintMatches accepts base64url (padded or not) and hex thumbprints.
func thumbprintMatches(got string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(got); err == nil && bytes.Equal(b, sum) {
			return true
		}
	}
	b, err := hex.DecodeString(got)
	return err == nil && bytes.Equal(b, sum)
}

// loginError writes an Entra-shaped token endpoint error.
func (s *Server) loginError(w http.ResponseWriter, status int, errCode string, aadsts int, text string) {
	trace, corr := guid(), guid()
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error":             errCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, text, trace, corr, now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         s.ts.URL + "/error?code=" + fmt.Sprint(aadsts),
	})
}

// checkBearer validates the request's access token; it writes the 401 and
// returns false when it is missing, unknown or expired.
func (s *Server) checkBearer(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	msg := ""
	if !ok || tok == "" {
		msg = "Access token is empty."
	} else {
		s.mu.Lock()
		exp, known := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !known:
			msg = "Invalid JWT token. The token is malformed or not issued by this server."
		case time.Now().After(exp):
			msg = "Lifetime validation failed, the token is expired."
		}
	}
	if msg == "" {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.ts.URL+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func guid() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeGraphError writes a Graph (OData) error body.
func writeGraphError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        guid(),
				"client-request-id": guid(),
			},
		},
	})
}

// ParseCertificates reads the PEM certificates of a file (an app's public
// certificate, or a PEM cert+key bundle whose key is ignored).
func ParseCertificates(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", file)
	}
	return certs, nil
}
