package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// openStore creates the data directory and opens the configured store, with
// the tenants configured with uniqueness: strict strict (the open fails,
// listing them, when such a tenant holds duplicates).
func openStore(ctx context.Context, cfg *config.Config, reg *schemas.Registry) (store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w (check the permissions and owner of the directories on its path)", err)
	}
	switch cfg.Store.Type {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w (check the permissions and owner of the directories on its path)", err)
		}
		st, err := sqlite.Open(ctx, cfg.Store.Path, sqlite.WithSchemas(reg),
			sqlite.WithStrictUniqueness(cfg.StrictTenants()...))
		if err != nil {
			return nil, err
		}
		return st, nil
	case "mongo":
		return openMongo(ctx, cfg, reg)
	}
	return nil, fmt.Errorf("store type %q is not supported", cfg.Store.Type)
}

// openMongo connects to MongoDB. With store.connectRetry set it retries an
// unreachable server with exponential backoff (1 s doubling to 30 s) until
// that much time has passed; otherwise the first failure is final. Errors
// never include the URI, which may carry credentials.
func openMongo(ctx context.Context, cfg *config.Config, reg *schemas.Registry) (store.Store, error) {
	deadline := time.Now().Add(cfg.Store.ConnectRetry)
	wait := time.Second
	for {
		st, err := mongo.Open(ctx, cfg.Store.URI, cfg.Store.Database, mongo.WithSchemas(reg),
			mongo.WithStrictUniqueness(cfg.StrictTenants()...))
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("cannot use the MongoDB store: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
