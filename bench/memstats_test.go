package bench

import "runtime"

func memStats() (mallocs uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
