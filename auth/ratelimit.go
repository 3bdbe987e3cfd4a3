package auth

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed authentications are throttled with a token bucket per remote
// address and, at the token endpoint, per client id: each failure takes a
// token; while a bucket is empty, a request whose credential cannot be
// admitted from memory is answered 429 with Retry-After, without checking
// the credential (no secret comparison, store read or signature check).
// Successful authentications take nothing, and a credential already known
// (a static or stored token, or an OAuth token or JWT validated in the last
// 30 seconds) is admitted even from a throttled address, so a client that
// shares an address (a NAT, a reverse proxy) with an attacker keeps working
// with the tokens it has. A request without any credential is a plain 401
// and costs nothing.

const (
	// DefaultFailureBurst is how many failed authentications a remote
	// address or client may have at once.
	DefaultFailureBurst = 10
	// DefaultFailuresPerMinute is how fast the allowance refills.
	DefaultFailuresPerMinute = 10
	// maxLimiters bounds the number of tracked addresses and clients.
	maxLimiters = 10000
)

// RateLimit configures the throttling of failed authentications. Zero
// values mean the defaults.
type RateLimit struct {
	// Burst is how many failures a remote address or client may have
	// before it is throttled. Default DefaultFailureBurst.
	Burst int
	// PerMinute is how many more failures are allowed per minute once the
	// burst is spent. Default DefaultFailuresPerMinute.
	PerMinute int
}

// failureLimiter holds one token bucket per key (an address or a client).
type failureLimiter struct {
	burst int
	limit rate.Limit
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newFailureLimiter(c RateLimit, now func() time.Time) *failureLimiter {
	if c.Burst <= 0 {
		c.Burst = DefaultFailureBurst
	}
	if c.PerMinute <= 0 {
		c.PerMinute = DefaultFailuresPerMinute
	}
	return &failureLimiter{
		burst: c.Burst,
		limit: rate.Limit(float64(c.PerMinute) / 60),
		now:   now,
		m:     map[string]*rate.Limiter{},
	}
}

// wait returns how long until every key may fail once more: 0 if all may
// now.
func (l *failureLimiter) wait(keys ...string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, k := range keys {
		lim := l.m[k]
		if lim == nil {
			continue
		}
		if tokens := lim.TokensAt(now); tokens < 1 {
			d := time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
			if d < time.Second {
				d = time.Second
			}
			longest = max(longest, d)
		}
	}
	return longest
}

// fail records a failure for every key and reports whether one of them has
// now spent its allowance.
func (l *failureLimiter) fail(keys ...string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	spent := false
	for _, k := range keys {
		lim := l.m[k]
		if lim == nil {
			l.makeRoom(now)
			lim = rate.NewLimiter(l.limit, l.burst)
			l.m[k] = lim
		}
		lim.AllowN(now, 1)
		if lim.TokensAt(now) < 1 {
			spent = true
		}
	}
	return spent
}

// makeRoom keeps the map bounded: buckets that have refilled carry no state
// and go first; if that is not enough, every bucket goes (the limit is then
// briefly lifted rather than memory growing).
func (l *failureLimiter) makeRoom(now time.Time) {
	if len(l.m) < maxLimiters {
		return
	}
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxLimiters {
		clear(l.m)
	}
}

// addrKey is the limiter key of r's remote address: the IP, or for IPv6
// its /64 (one host usually has a whole /64).
func (a *Authenticator) addrKey(r *http.Request) string {
	ip := net.ParseIP(a.remoteIP(r))
	if ip == nil {
		return "addr:" + r.RemoteAddr
	}
	if ip.To4() == nil {
		ip = ip.Mask(net.CIDRMask(64, 128))
	}
	return "addr:" + ip.String()
}

// clientKey is the limiter key of an OAuth client id of a tenant.
func clientKey(tenant, client string) string {
	return "client:" + tenant + "\x00" + client
}

// FailureWait returns how long r's remote address must wait before another
// failed authentication is checked (0: it may try now). It lets another
// credential check (the admin API's tokens) share the throttling of the
// SCIM credentials: the same buckets, the same trusted proxies. Call it
// before checking the credential, and Failed after a wrong one.
func (a *Authenticator) FailureWait(r *http.Request) time.Duration {
	return a.failures.wait(a.addrKey(r))
}

// Failed counts a failed authentication of r against its remote address
// (see FailureWait) and logs it with what (e.g. "admin token").
func (a *Authenticator) Failed(r *http.Request, what string) {
	a.log.InfoContext(r.Context(), "authentication failed", "credential", what, "remote", a.remoteIP(r))
	if a.failures.fail(a.addrKey(r)) {
		a.log.WarnContext(r.Context(), "too many failed authentications; throttling the address", "credential", what, "remote", a.remoteIP(r))
	}
}
