package sizing

import (
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

func TestWebBudget(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want int
		why  string // part of the reason
	}{
		{"free tier 512 MB, 0.1 CPU", Machine{Memory: 512 * mib, CPU: 0.1}, 2, "512 MiB / 256 MiB per worker = 2"},
		{"free tier with a worker", Machine{Memory: 512 * mib, CPU: 0.1, Others: 1}, 1, "1 other process(es)"},
		{"1 GB, 1 CPU", Machine{Memory: 1024 * mib, CPU: 1}, 3, "2 × 1 CPU + 1 = 3"},
		{"1 GB, 2 CPU", Machine{Memory: 1024 * mib, CPU: 2}, 4, "1 GiB / 256 MiB per worker = 4"},
		{"laptop 16 GB, 8 CPU", Machine{Memory: 16 << 30, CPU: 8}, 17, "2 × 8 CPU + 1 = 17"},
		{"1.5 CPU counts as 2", Machine{Memory: 8 << 30, CPU: 1.5}, 5, "2 × 2 CPU (1.5 rounded up) + 1 = 5"},
		{"0.5 CPU counts as 1", Machine{Memory: 8 << 30, CPU: 0.5}, 3, "2 × 1 CPU (0.5 rounded up) + 1 = 3"},
		{"0.1 CPU counts as 1", Machine{Memory: 8 << 30, CPU: 0.1}, 3, "2 × 1 CPU (0.1 rounded up) + 1 = 3"},
		{"tiny memory still 1", Machine{Memory: 100 * mib, CPU: 4}, 1, "= 1"},
		{"others eat it all", Machine{Memory: 256 * mib, CPU: 1, Others: 3}, 1, "= 1"},
		{"CPU only", Machine{CPU: 2}, 5, "2 × 2 CPU + 1 = 5"},
		{"memory only", Machine{Memory: 768 * mib}, 3, "768 MiB / 256 MiB per worker = 3"},
		{"nothing known", Machine{}, 0, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := WebBudget(tt.m)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("WebBudget(%+v) = %d, %q; want %d, reason containing %q", tt.m, got, why, tt.want, tt.why)
			}
		})
	}
}

func TestShare(t *testing.T) {
	tests := []struct {
		budget, n, per int
		over           bool
	}{
		{2, 1, 2, false},
		{2, 2, 1, false},
		{2, 3, 1, true}, // each runs 1 all the same
		{5, 2, 2, false},
		{8, 2, 4, false},
		{1, 4, 1, true},
		{3, 0, 3, false}, // no web instance yet counts as one
	}
	for _, tt := range tests {
		if per, over := Share(tt.budget, tt.n); per != tt.per || over != tt.over {
			t.Errorf("Share(%d, %d) = %d, %v; want %d, %v", tt.budget, tt.n, per, over, tt.per, tt.over)
		}
	}
}

func TestGoMemLimit(t *testing.T) {
	tests := []struct {
		mem, want int64
	}{
		{0, 0},
		{128 * mib, 32 * mib},
		{512 * mib, 64 * mib},
		{2048 * mib, 256 * mib},
		{64 << 30, 512 * mib},
	}
	for _, tt := range tests {
		if got, why := GoMemLimit(tt.mem); got != tt.want || why == "" {
			t.Errorf("GoMemLimit(%d) = %d, %q; want %d", tt.mem, got, why, tt.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		grace, want time.Duration
	}{
		{0, DefaultTimeout},
		{5 * time.Second, 4 * time.Second},
		{10 * time.Second, 9 * time.Second},
		{30 * time.Second, 27 * time.Second},
		{300 * time.Second, 297 * time.Second},
		{600 * time.Millisecond, 300 * time.Millisecond}, // never less than half
	}
	for _, tt := range tests {
		got, why := Timeout(tt.grace, "fly")
		if got != tt.want || why == "" || got >= max(tt.grace, DefaultTimeout+1) {
			t.Errorf("Timeout(%v) = %v, %q; want %v", tt.grace, got, why, tt.want)
		}
	}
}

func TestCacheSize(t *testing.T) {
	tests := []struct {
		mem, want, object int64
	}{
		{0, 16 * mib, 1 * mib},
		{64 * mib, 4 * mib, 256 << 10},
		{512 * mib, 16 * mib, 1 * mib},
		{2048 * mib, 64 * mib, 4 * mib},
		{64 << 30, 256 * mib, 8 * mib},
	}
	for _, tt := range tests {
		got, why := CacheSize(tt.mem)
		if got != tt.want || why == "" {
			t.Errorf("CacheSize(%d) = %d, %q; want %d", tt.mem, got, why, tt.want)
		}
		if obj := CacheObject(got); obj != tt.object {
			t.Errorf("CacheObject(%d) = %d, want %d", got, obj, tt.object)
		}
	}
}
