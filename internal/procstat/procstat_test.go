package procstat

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Stat
		ok   bool
	}{
		{"42 (sleep) S 1 42 42 0 -1", Stat{'S', 1, 42}, true},
		{"7 (a) b) (c) Z 3 5 5 0", Stat{'Z', 3, 5}, true},
		{"9 (x\ny) R 2 9", Stat{'R', 2, 9}, true},
		{"9 (x) R 2", Stat{}, false},
		{"9 x R 2 3", Stat{}, false},
		{"9 (x) RR 2 3", Stat{}, false},
		{"9 (x) R two 3", Stat{}, false},
		{"9 (x) \x00 2 3", Stat{}, false},
	} {
		got, ok := Parse([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReadSelf(t *testing.T) {
	st, ok := Read(os.Getpid())
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if !ok || st.PPid != os.Getppid() || st.State == 'Z' {
		t.Errorf("Read(self) = %+v, %v", st, ok)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("42 (sleep) S 1 42 42"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, ok := Parse(b); ok && st.State == 0 {
			t.Fatal("ok with no state")
		}
	})
}
