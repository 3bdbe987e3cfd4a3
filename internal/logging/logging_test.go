package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
)

func TestNewJSONAtWarn(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, config.Log{Level: "warn", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if m["msg"] != "shown" || m["k"] != "v" || m["level"] != "WARN" {
		t.Errorf("unexpected record %v", m)
	}
}

func TestNewText(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, config.Log{Level: "debug", Format: "text"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello")
	if !strings.Contains(buf.String(), "level=DEBUG msg=hello") {
		t.Errorf("got %q", buf.String())
	}
}

func TestNewRejectsUnknown(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, config.Log{Level: "loud"}); err == nil {
		t.Error("level loud: no error")
	}
	if _, err := New(&bytes.Buffer{}, config.Log{Format: "xml"}); err == nil {
		t.Error("format xml: no error")
	}
}
