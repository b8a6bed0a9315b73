//go:build !race

package store

// raceDetector is true when the tests run under the race detector.
const raceDetector = false
