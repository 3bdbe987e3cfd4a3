package webhook_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no runner or HTTP goroutine
// outlives its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
