// Package testscale says whether tests run their large cases at full size.
//
// `go test ./...` runs them smaller, so that a developer's run stays short;
// CI sets SCIMBRIDGE_TEST_FULL=1 (.ci/run), so every case still runs at the
// size it was written for there. A test picks its size with Size.
package testscale

import "os"

// EnvFull is the variable that selects the full sizes when set to 1.
const EnvFull = "SCIMBRIDGE_TEST_FULL"

// Full reports whether SCIMBRIDGE_TEST_FULL=1.
func Full() bool { return os.Getenv(EnvFull) == "1" }

// Size returns full under SCIMBRIDGE_TEST_FULL=1, else def (the smaller
// default size).
func Size(def, full int) int {
	if Full() {
		return full
	}
	return def
}
