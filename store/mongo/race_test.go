//go:build race

package mongo

// raceDetector is true when the tests run under the race detector: the
// concurrency tests then look for data races rather than load, at a
// smaller size (the race detector slows FerretDB's SQLite several times).
const raceDetector = true
