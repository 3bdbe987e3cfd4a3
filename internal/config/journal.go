package config

import (
	"fmt"
	"time"
)

// Journal retention defaults and bounds (see Journal).
const (
	DefaultJournalRetention    = 30 * 24 * time.Hour
	MinJournalRetention        = time.Hour
	DefaultJournalTrimInterval = 5 * time.Minute
	MinJournalTrimInterval     = time.Second
)

// Journal configures the change journal's retention: serve trims the
// entries older than Retention every TrimInterval (store.Journal.Trim),
// but never an entry a live consumer has not consumed yet.
type Journal struct {
	// Retention is how long entries are kept (0s: forever). A consumer
	// whose cursor has not moved and whose lease has not been held for
	// longer than this no longer holds trimming back. At least an hour:
	// shorter would trim entries before a consumer had a chance to read
	// them, and MongoDB's write protocol relies on an entry never being
	// trimmed within its writer's lease.
	Retention time.Duration `yaml:"retention"`
	// TrimInterval is how often serve trims (one replica at a time).
	TrimInterval time.Duration `yaml:"trimInterval"`
}

func (j *Journal) problems() []string {
	var p []string
	if j.Retention != 0 && j.Retention < MinJournalRetention {
		p = append(p, fmt.Sprintf("journal.retention: %s must be 0s (keep everything) or at least %s",
			fmtDuration(j.Retention), fmtDuration(MinJournalRetention)))
	}
	if j.TrimInterval < MinJournalTrimInterval {
		p = append(p, fmt.Sprintf("journal.trimInterval: %s must be at least %s",
			fmtDuration(j.TrimInterval), fmtDuration(MinJournalTrimInterval)))
	}
	return p
}
