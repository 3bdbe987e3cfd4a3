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
	// A bare 0 is 0 in every unit: the "0 keeps everything" works
	// as written, while other bare numbers are still refused, on the line
	// where they are.
	for _, body := range []string{"journal:\n  retention: 0\n", "journal: {retention: 0, trimInterval: 30s}\n", "journal:\n  retention: 00 # off\n"} {
		c, err = Load(writeConfig(t, body), envMap(nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if c.Journal.Retention != 0 {
			t.Fatalf("%q: retention %s, want 0", body, c.Journal.Retention)
		}
	}
	if _, err := Load(writeConfig(t, "listen: 127.0.0.1:1\njournal:\n  retention: 0\n  trimInterval: 5\n"), envMap(nil)); err == nil ||
		!strings.Contains(err.Error(), "line 4: journal.trimInterval: expected a duration") {
		t.Fatalf("a bare 5 next to a bare 0: %v", err)
	}
	if _, err := Load(writeConfig(t, "maxResults: 0\njournal:\n  retention: 0\n"), envMap(nil)); err == nil ||
		!strings.Contains(err.Error(), "maxResults: 0 must be between") {
		t.Fatalf("a 0 for a number must stay a number: %v", err)
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
