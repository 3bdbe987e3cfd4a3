//go:build !race

package mongo

// raceDetector: see race_test.go.
const raceDetector = false
