package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// openStore creates the data directory and opens the configured store.
func openStore(ctx context.Context, cfg *config.Config, reg *schemas.Registry) (store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	switch cfg.Store.Type {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
		st, err := sqlite.Open(ctx, cfg.Store.Path, sqlite.WithSchemas(reg))
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("store type %q is not supported", cfg.Store.Type)
}
