package targets_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no runner goroutine (workers, lease renewal)
// outlives its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
