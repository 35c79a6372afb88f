package tlog

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Seconds equals the milliseconds' text read back, for every time up to
// 100 s (Duration.Seconds differs for 396 of them) and a few long ones.
func TestSeconds(t *testing.T) {
	check := func(ms int64) {
		want, err := strconv.ParseFloat(fmt.Sprintf("%d.%03d", ms/1000, ms%1000), 64)
		if got := Seconds(time.Duration(ms) * time.Millisecond); err != nil || got != want {
			t.Fatalf("Seconds(%d ms) = %v, want %v (%v)", ms, got, want, err)
		}
	}
	for ms := int64(0); ms <= 100000; ms++ {
		check(ms)
	}
	for _, ms := range []int64{86400000 + 3736, 30*86400000 + 1118, MaxDelayMs} {
		check(ms)
	}
}
