package config

import (
	"strings"
	"testing"
	"time"
)

func TestJournalConfig(t *testing.T) {
	c, err := Load(writeConfig(t, ""), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Journal.Retention != DefaultJournalRetention || c.Journal.TrimInterval != DefaultJournalTrimInterval {
		t.Fatalf("defaults: %+v", c.Journal)
	}
	c, err = Load(writeConfig(t, "journal:\n  retention: 0s\n  trimInterval: 30s\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Journal.Retention != 0 || c.Journal.TrimInterval != 30*time.Second {
		t.Fatalf("retention 0 (keep everything): %+v", c.Journal)
	}
	for body, want := range map[string]string{
		"journal:\n  retention: 10m\n":   "journal.retention: 10m must be 0s (keep everything) or at least 1h",
		"journal:\n  retention: -1h\n":   "journal.retention: -1h must be 0s",
		"journal:\n  trimInterval: 0s\n": "journal.trimInterval: 0s must be at least 1s",
		"journal:\n  retention: month\n": "month",
		"journal:\n  keep: 720h\n":       `unknown key "journal.keep"`,
	} {
		_, err := Load(writeConfig(t, body), envMap(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
		}
	}
}
