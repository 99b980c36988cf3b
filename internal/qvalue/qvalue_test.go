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

func TestNext(t *testing.T) {
	type elem struct {
		coding string
		q      int
	}
	for in, want := range map[string][]elem{
		"gzip":                          {{"gzip", 1000}},
		" br ;q=0.5 , gzip; q=0":        {{"br", 500}, {"gzip", 0}},
		"GZIP;Q=0.8;level=1":            {{"GZIP", 800}},
		"gzip;q=0.2;q=0.9":              {{"gzip", 900}},
		"gzip;q=1e-3, *;q=nan":          {{"gzip", 0}, {"*", 0}},
		"gzip,,identity":                {{"gzip", 1000}, {"", 1000}, {"identity", 1000}},
		"x-gzip;foo":                    {{"x-gzip", 1000}},
		"deflate;q=0.001, compress;q=1": {{"deflate", 1}, {"compress", 1000}},
	} {
		var got []elem
		for v := in; v != ""; {
			var e elem
			e.coding, e.q, v = Next(v)
			got = append(got, e)
		}
		if len(got) != len(want) {
			t.Errorf("Next over %q: %v, want %v", in, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("Next over %q: %v, want %v", in, got, want)
				break
			}
		}
	}
}
