//go:build race

package storetest

// raceEnabled is true when the race detector is on; the slowest scale tests
// shrink then (the race run is about concurrency, the plain run about scale).
const raceEnabled = true
