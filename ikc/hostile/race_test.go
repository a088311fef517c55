//go:build race

package hostile

// raceEnabled: the child is built with the race detector, which takes
// several times the memory.
const raceEnabled = true

const raceMemFactor = 4
