// Package testmongo gives tests a MongoDB wire-protocol server: the one
// named by SCIMBRIDGE_TEST_MONGO_URI, or else one in-process FerretDB
// (SQLite handler in a temporary directory, loopback, no auth) started once
// per test binary.
package testmongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURI names the variable that points the tests at a real MongoDB.
const EnvURI = "SCIMBRIDGE_TEST_MONGO_URI"

var (
	once   sync.Once
	uri    string
	errURI error
)

// URI returns the MongoDB URI tests should use: $SCIMBRIDGE_TEST_MONGO_URI
// if set, else the URI of an in-process FerretDB started on first use.
func URI(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURI); u != "" {
		return u
	}
	once.Do(func() { uri, errURI = start() })
	if errURI != nil {
		t.Fatalf("testmongo: start FerretDB: %v", errURI)
	}
	return uri
}

// DB returns the URI and a fresh database name for t; the database is
// dropped when t ends.
func DB(t testing.TB) (uri, dbName string) {
	t.Helper()
	uri = URI(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	dbName = "t_" + name + "_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
		if err != nil {
			return
		}
		defer c.Disconnect(ctx)
		_ = c.Database(dbName).Drop(ctx)
	})
	return uri, dbName
}

// start runs FerretDB in the background for the rest of the test binary.
func start() (string, error) {
	dir, err := os.MkdirTemp("", "scimbridge-ferretdb-")
	if err != nil {
		return "", err
	}
	// Find a free loopback port: FerretDB's MongoDBURI needs the listener
	// to be running, so the address is chosen up front.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return "", err
	}
	go func() { _ = f.Run(context.Background()) }()
	u := "mongodb://" + addr + "/"
	// Wait until it answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return u, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("FerretDB did not listen on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
