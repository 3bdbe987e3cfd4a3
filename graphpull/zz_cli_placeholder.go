// Package graphpull — TEMPORARY (i15/cli): the contract's API so cmd
// compiles before i15/graph lands. Deleted before the final commit.
package graphpull

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

type Config struct {
	TenantID, ClientID  string
	ClientSecret        string
	Certificate         []byte
	CertificatePassword string
	Cloud               string
	AuthorityHost       string
	GraphBaseURL        string
	RootCAs             *x509.CertPool
	Nested              bool
	HTTPClient          *http.Client
	Logger              *slog.Logger
}

func (c Config) Validate() error { return nil }

type Source struct{}

func New(cfg Config) (*Source, error) { return &Source{}, nil }

func (s *Source) Kind() store.Source { return store.SourcePullGraph }
func (s *Source) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	return pull.Result{}, errors.New("placeholder")
}
func (s *Source) Users(ctx context.Context, ids []string, obs pull.Observer) error {
	return errors.New("placeholder")
}
