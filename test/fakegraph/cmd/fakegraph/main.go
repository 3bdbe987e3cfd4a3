// Command fakegraph serves the fake Microsoft Graph of test/fakegraph in its
// own process, for benchmarks and demos:
//
//	go run ./test/fakegraph/cmd/fakegraph -users 100000 -groups 2000 -memberships 300000 -ca-out /tmp/fakegraph-ca.pem
//
// It prints the server URL (the authority host and the Graph base URL are
// derived from it) and serves until interrupted. POST
// /_fakegraph/churn?n=N (bearer: the client secret) changes N users for an
// incremental round; GET /_fakegraph/stats counts requests.
package main

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scimbridge/scimbridge/test/fakegraph"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fakegraph:", err)
		}
		os.Exit(2)
	}
}

// run parses args, starts the server, reports where it is on stdout and
// serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakegraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen       = fs.String("listen", "127.0.0.1:0", "address to listen on")
		users        = fs.Int("users", 1000, "generated users (each but the first has a manager)")
		groups       = fs.Int("groups", 20, "generated groups")
		memberships  = fs.Int("memberships", 3000, "generated user memberships, spread over the groups")
		tenant       = fs.String("tenant", fakegraph.DefaultTenantID, "tenant id the token endpoint accepts")
		clientID     = fs.String("client-id", fakegraph.DefaultClientID, "application (client) id")
		clientSecret = fs.String("client-secret", fakegraph.DefaultClientSecret, "client secret")
		certFile     = fs.String("client-cert", "", "PEM file of app certificates whose client assertions are accepted")
		caOut        = fs.String("ca-out", "", "write the server's CA certificate (PEM) to this file")
		pageSize     = fs.Int("page-size", 200, "entries per delta page")
		memberSplit  = fs.Int("member-split", 500, "most members per group entry (bigger groups span entries); 0: no split")
		emptyEvery   = fs.Int("empty-page-every", 0, "an empty page after every N pages; 0: none")
		lifetime     = fs.Duration("token-lifetime", time.Hour, "access token lifetime")
		nonUser      = fs.Bool("non-user-members", false, "every tenth group also holds a device, a contact, a service principal and a nested group")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"-users", *users}, {"-groups", *groups}, {"-memberships", *memberships}, {"-member-split", *memberSplit}, {"-empty-page-every", *emptyEvery}} {
		if c.v < 0 {
			return fmt.Errorf("%s: must not be negative, got %d", c.name, c.v)
		}
	}
	if *pageSize < 1 {
		return fmt.Errorf("-page-size: must be at least 1, got %d", *pageSize)
	}
	if *lifetime < time.Second {
		return fmt.Errorf("-token-lifetime: must be at least 1s, got %s", *lifetime)
	}
	if *tenant == "" || *clientID == "" || *clientSecret == "" {
		return errors.New("-tenant, -client-id and -client-secret must not be empty")
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return fmt.Errorf("-listen: %v", err)
	}
	opts := fakegraph.Options{
		TenantID: *tenant, ClientID: *clientID, ClientSecret: *clientSecret,
		PageSize: *pageSize, MemberSplit: *memberSplit, EmptyPageEvery: *emptyEvery, TokenLifetime: *lifetime,
		Scale:  fakegraph.Scale{Users: *users, Groups: *groups, Memberships: *memberships, NonUserMembers: *nonUser},
		Listen: *listen,
	}
	if *certFile != "" {
		certs, err := fakegraph.ParseCertificates(*certFile)
		if err != nil {
			return fmt.Errorf("-client-cert: %w", err)
		}
		opts.ClientCertificates = certs
	}
	// Bind first so that a busy address is an error, not a panic.
	if *listen != "127.0.0.1:0" {
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("-listen: %w", err)
		}
		l.Close()
	}
	s := fakegraph.New(opts)
	defer s.Close()
	if *caOut != "" {
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
		if err := os.WriteFile(*caOut, ca, 0o644); err != nil {
			return fmt.Errorf("-ca-out: %w", err)
		}
	}
	fmt.Fprintln(stdout, s.URL())
	fmt.Fprintf(stderr, "fakegraph: authority host %s, Graph %s, tenant %s, client %s; %d users, %d groups, %d memberships\n",
		s.AuthorityHost(), s.GraphBaseURL(), *tenant, *clientID, *users, *groups, *memberships)
	<-ctx.Done()
	return nil
}
