package qvalue

import "testing"

// TestParse checks the qvalue grammar in thousandths.
func TestParse(t *testing.T) {
	for s, want := range map[string]int{
		"1": 1000, "1.": 1000, "1.0": 1000, "1.000": 1000, "0": 0, "0.5": 500,
		"0.05": 50, "0.123": 123, "0.999": 999,
		"": 0, "2": 0, "1.001": 0, "0.1234": 0, "01": 0, "0,5": 0, "0.5 ": 0, "+1": 0,
	} {
		if got := Parse(s); got != want {
			t.Errorf("Parse(%q) = %d, want %d", s, got, want)
		}
	}
}
