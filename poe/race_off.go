//go:build !race

package poe

const raceEnabled = false
