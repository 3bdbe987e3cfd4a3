package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/scimbridge
//
// They are package variables only because -X can set nothing else. Empty:
// taken from the build info.
var (
	version string
	commit  string
)

// buildVersion returns the version and commit, from the linker flags or else
// the module build info.
func buildVersion() (v, c string) {
	v, c = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

func (c *cli) version(args []string) error {
	fs := c.newFlagSet("version", "")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	v, commit := buildVersion()
	fmt.Fprintf(c.stdout, "scimbridge %s\ncommit: %s\ngo: %s %s/%s\n", v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
