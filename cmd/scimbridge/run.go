package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
)

// usage is the top-level help text.
const usage = `scimbridge is a SCIM 2.0 provisioning bridge: SCIM clients such as Microsoft
Entra ID push users and groups to it, and it keeps them in its store.

Usage:
  scimbridge serve [--config FILE] [--listen ADDR] [--data-dir DIR] [--mongo-uri URI]
  scimbridge token create [--tenant T] [--name N] [--config FILE] [--data-dir DIR]
  scimbridge token list [--tenant T] [--output text|json] [--config FILE] [--data-dir DIR]
  scimbridge token revoke --tenant T (--id ID | --name N) [--config FILE] [--data-dir DIR]
  scimbridge token revoke-oauth [--tenant T] [--client ID] [--config FILE] [--data-dir DIR]
  scimbridge token hash < SECRET
  scimbridge export [--config FILE] [--data-dir DIR] [--tenant T | --all-tenants] [--out FILE|-]
  scimbridge import [--config FILE] [--data-dir DIR] [--in FILE|-] [--tenant-map OLD=NEW] [--skip-existing]
  scimbridge pull [--config FILE] [--data-dir DIR] [--tenant T] [--dry-run] [--full] [--wait]
  scimbridge pull status [--tenant T] [--limit N] [--output text|json] [--config FILE] [--data-dir DIR]
  scimbridge changes [--tenant T] [--since SEQ|DURATION] [--id ID] [--source S] [--follow] [--output text|json] [--config FILE] [--data-dir DIR]
  scimbridge healthcheck [--config FILE | --url URL]
  scimbridge version
  scimbridge help [COMMAND]

Settings come from flags, then SCIMBRIDGE_* environment variables, then the
config file (--config or SCIMBRIDGE_CONFIG), then defaults. SCIMBRIDGE_TOKEN is
a bearer token accepted for the default tenant. See README.md for the full
configuration reference.
`

// envConfig names the environment variable that gives the config file when
// --config is not used.
const envConfig = "SCIMBRIDGE_CONFIG"

// run executes the command line args (without the program name), writing
// its output to stdout and its logs and diagnostics to stderr. It returns
// when the command is done or, for serve, when ctx is cancelled and the
// server has shut down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &cli{getenv: os.Getenv, stdin: os.Stdin, stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

// cli is one invocation: the environment and streams the commands use
// (tests substitute them).
type cli struct {
	getenv func(string) string
	stdin  io.Reader // nil: empty
	stdout io.Writer
	stderr io.Writer
	// changesPoll is how often `changes --follow` polls (0: every second).
	changesPoll time.Duration
}

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "token":
		return c.token(ctx, rest)
	case "export":
		return c.export(ctx, rest)
	case "import":
		return c.importCmd(ctx, rest)
	case "changes":
		return c.changes(ctx, rest)
	case "pull":
		return c.pullCmd(ctx, rest)
	case "healthcheck":
		return c.healthcheck(ctx, rest)
	case "version":
		return c.version(rest)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return c.run(ctx, []string{rest[0], "-h"})
		}
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return usageErrorf("unknown command %q", cmd)
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode reports err on stderr and returns the process exit status: 0 for
// success or help, 2 for usage errors, an *exitError's own status (pull: 3
// when another process is pulling the tenant), 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "scimbridge: %v\nRun 'scimbridge help' for usage.\n", err)
		return 2
	case errors.As(err, &ee):
		fmt.Fprintf(stderr, "scimbridge: %v\n", err)
		return ee.code
	}
	fmt.Fprintf(stderr, "scimbridge: %v\n", err)
	return 1
}

// newFlagSet returns a flag set for the subcommand name whose usage line
// shows synopsis.
func (c *cli) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: scimbridge %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs. -h prints the usage to stdout and returns
// flag.ErrHelp; a bad flag or a stray argument is a usage error.
func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(c.stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return usageErrorf("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// configFlags are the flags every command that loads the configuration has.
type configFlags struct {
	config   string
	listen   string
	dataDir  string
	mongoURI string
}

// register adds --config and --data-dir to fs, and --listen if withListen.
func (f *configFlags) register(fs *flag.FlagSet, withListen bool) {
	fs.StringVar(&f.config, "config", "", "YAML config file (default $"+envConfig+"; none: defaults)")
	if withListen {
		fs.StringVar(&f.listen, "listen", "", "listen address host:port, port 0 for any (overrides $"+config.EnvListen+")")
	}
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (overrides $"+config.EnvDataDir+")")
	fs.StringVar(&f.mongoURI, "mongo-uri", "", "use the MongoDB store at this URI (overrides $"+config.EnvMongoURI+")")
}

// load loads the configuration with the flags that were set overriding the
// environment, which overrides the file.
func (c *cli) load(fs *flag.FlagSet, f *configFlags) (*config.Config, error) {
	overrides := map[string]string{}
	var empty string
	fs.Visit(func(fl *flag.Flag) {
		v := fl.Value.String()
		switch fl.Name {
		case "listen":
			overrides[config.EnvListen] = v
		case "data-dir":
			overrides[config.EnvDataDir] = v
		case "mongo-uri":
			overrides[config.EnvMongoURI] = v
		default:
			return
		}
		if strings.TrimSpace(v) == "" {
			empty = fl.Name
		}
	})
	if empty != "" {
		return nil, usageErrorf("%s: --%s must not be empty", fs.Name(), empty)
	}
	env := func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return c.getenv(k)
	}
	path := f.config
	if path == "" {
		path = c.getenv(envConfig)
	}
	return config.Load(path, env)
}
