//go:build !race

package hostile

const raceEnabled = false

const raceMemFactor = 1
