package main

import (
	"os/exec"
	"runtime"
	"testing"
)

func TestBuildInfoString(t *testing.T) {
	platform := runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	for _, tt := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{version: "v1.2.3", commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-05-01T12:00:00Z"},
			"corral v1.2.3 (commit 0123456789ab, 2026-05-01T12:00:00Z; " + platform},
		{buildInfo{version: "v1.2.3"}, "corral v1.2.3 (" + platform},                          // go install …@v1.2.3: no VCS
		{buildInfo{version: "devel", commit: "abc"}, "corral devel (commit abc, " + platform}, // a short hash, no date
		{buildInfo{version: "devel", date: "yesterday"}, "corral devel (" + platform},
	} {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	cmd, _ := exec.Command(corralBin, "version").Output()
	flag, err := exec.Command(corralBin, "--version").Output()
	if err != nil || string(flag) != string(cmd) {
		t.Errorf("corral --version: %q, %v; corral version: %q", flag, err, cmd)
	}
}
