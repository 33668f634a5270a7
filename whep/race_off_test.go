//go:build !race

package whep

// raceEnabled says the race detector is on: it enlarges every allocation
// and goroutine, so memory measurements mean nothing.
const raceEnabled = false
