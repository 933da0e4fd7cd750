//go:build !race

package canon

// raceEnabled reports that the race detector is on.
const raceEnabled = false
