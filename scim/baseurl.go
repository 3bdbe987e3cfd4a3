package scim

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// splitBaseURL splits Options.BaseURL into its root (scheme://host[:port])
// and its path prefix ("" or "/a/b", no trailing slash). Empty is allowed:
// the root then comes from each request (see root).
func splitBaseURL(base string) (root, prefix string, err error) {
	base = strings.TrimRight(base, "/")
	if base == "" {
		return "", "", nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.RawPath != "" {
		return "", "", fmt.Errorf("scim: Options.BaseURL %q must be http(s)://host[:port][/path] without query or fragment", base)
	}
	return u.Scheme + "://" + u.Host, u.Path, nil
}

// base returns the tenant's SCIM base URL for Location, meta.location, $ref
// and discovery: the root, baseURL's path prefix, and the tenant's path.
func (s *server) base(r *http.Request) string {
	root := s.root(r)
	t := tenantOf(r)
	if t == DefaultTenant {
		return root + s.prefix + "/scim/v2"
	}
	return root + s.prefix + "/tenants/" + t + "/scim/v2"
}

// root is baseURL's scheme://host[:port] or, without baseURL, the request's:
// its Host header and whether it came over TLS, or X-Forwarded-Host and
// X-Forwarded-Proto when the request comes from a trusted proxy. Anyone else
// could choose the URLs in responses with those headers, so they are ignored
// from other addresses.
func (s *server) root(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if s.fromTrustedProxy(r) {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host
}

// fromTrustedProxy reports whether the request's peer address is in one of
// the trusted proxy ranges.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	if len(s.proxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// firstValue returns the first element of a comma-separated header value:
// the one the first proxy (the one facing the client) set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// validHost accepts host or host:port made of the characters a DNS name, an
// IPv4 address or a bracketed IPv6 address uses.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	switch {
	case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
		return strings.Count(h, "[") == 1 && strings.Count(h, "]") == 1
	case strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1:
		host, port, err := net.SplitHostPort(h)
		return err == nil && host != "" && port != ""
	}
	return !strings.ContainsAny(h, ":[]")
}
