package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/targets"
)

// Type is the adapter's type name in the configuration.
const Type = "webhook"

// Config is the webhook target's configuration:
//
//	targets:
//	  - name: hooks
//	    type: webhook
//	    webhook:
//	      url: https://app.example/scim-events
//	      secret: {env: HOOK_SECRET}               # resolved by the config loader
//	      previousSecret: {env: HOOK_SECRET_OLD}   # optional, while rotating
//	      timeout: 10s
//	      headers: {X-Tenant: acme}                # optional extra request headers
type Config struct {
	URL            string            `json:"url" yaml:"url"`
	Secret         string            `json:"secret" yaml:"secret"`
	PreviousSecret string            `json:"previousSecret,omitempty" yaml:"previousSecret"`
	Timeout        time.Duration     `json:"timeout,omitempty" yaml:"timeout"` // per request, default 10s
	Headers        map[string]string `json:"headers,omitempty" yaml:"headers"`
}

// DefaultTimeout bounds one POST when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Register adds the webhook type to r.
func Register(r *targets.Registry) {
	r.Register(Type, func() targets.Config { return &Config{} })
}

// reserved headers cannot be overridden by Config.Headers.
var reserved = []string{"Content-Type", "Content-Length", "Host", SignatureHeader, "Scimbridge-Event-Id", "Scimbridge-Event-Type"}

// Validate applies the defaults and reports every problem, naming the
// fields.
func (c *Config) Validate() error {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	var errs []error
	if u, err := url.Parse(c.URL); c.URL == "" {
		errs = append(errs, errors.New("webhook.url: required"))
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("webhook.url: %q is not an http or https URL", c.URL))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("webhook.secret: required (receivers verify every request with it)"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("webhook.timeout: %s is negative", c.Timeout))
	}
	for h := range c.Headers {
		for _, r := range reserved {
			if strings.EqualFold(h, r) {
				errs = append(errs, fmt.Errorf("webhook.headers: %s is set by the bridge", h))
			}
		}
	}
	return errors.Join(errs...)
}

// Open validates c and returns the target.
func (c *Config) Open(name string, deps targets.Deps) (targets.Target, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &target{name: name, cfg: *c, client: deps.HTTPClient, now: deps.Now, log: deps.Logger}
	if t.client == nil {
		// Redirects are not followed: a POST turned into a GET would
		// "succeed" without delivering anything.
		t.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t, nil
}

type target struct {
	name   string
	cfg    Config
	client *http.Client
	now    func() time.Time
	log    *slog.Logger
}

// Apply POSTs the change's events in order. The webhook has no id of its
// own for the account, so the bridge id stands for it: the id map then
// tells a first event (created) from later ones.
//
// A delete of a resource the receiver was never told about (no id in the
// map: created and deleted within one batch, or its creation is what was
// dead-lettered) sends nothing.
func (t *target) Apply(ctx context.Context, c targets.Change) (string, error) {
	if c.Action == targets.ActionDelete && c.TargetID == "" {
		return "", nil
	}
	for _, e := range events(c) {
		if err := t.post(ctx, e); err != nil {
			return "", fmt.Errorf("webhook %s: %s %s: %w", t.name, e.Type, e.ResourceID, err)
		}
	}
	if c.Action == targets.ActionDelete {
		return "", nil
	}
	return c.ID, nil
}

// maxMessage bounds how much of a receiver's error body is kept.
const maxMessage = 512

func (t *target) post(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return targets.Permanent(fmt.Errorf("encode the event: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return targets.Permanent(err)
	}
	for k, v := range t.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scimbridge-webhook")
	req.Header.Set("Scimbridge-Event-Id", e.ID)
	req.Header.Set("Scimbridge-Event-Type", e.Type)
	req.Header.Set(SignatureHeader, Sign(t.now(), body, t.cfg.Secret, t.cfg.PreviousSecret))
	resp, err := t.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("no answer within %s: %w", t.cfg.Timeout, err)
		}
		return err // network errors are retried
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	herr := &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			return targets.RetryAfter(d, herr)
		}
		return herr
	default:
		return targets.Permanent(herr)
	}
}

// StatusError is a receiver's non-2xx answer.
type StatusError struct {
	Code    int
	Message string // the start of the response body
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("receiver answered %d", e.Code)
	}
	return fmt.Sprintf("receiver answered %d: %s", e.Code, e.Message)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Interface guards.
var (
	_ targets.Target = (*target)(nil)
	_ targets.Config = (*Config)(nil)
)
