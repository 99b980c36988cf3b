package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestFlagsFirst: the flags after a command's arguments move before
// them, with their values; nothing after "--" moves, nor run's command.
func TestFlagsFirst(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard)
	for _, tt := range []struct{ in, want, err string }{
		{"restart web -d app", "restart -d app web", ""},
		{"restart web worker.1 --dir=app", "restart --dir=app web worker.1", ""},
		{"scale web=2 --dir .", "scale --dir . web=2", ""},
		{"ps --json -d x", "ps --json -d x", ""},
		{"ps -d x --json", "ps -d x --json", ""},
		{"restart -d app web --json", "restart -d app --json web", ""}, // restart has no --json: it says so
		{"restart web --bogus", "restart --bogus web", ""},
		{"restart web -d", "", "flag needs an argument: -d (see corral restart --help)"},
		{"restart web -d -x", "restart -d -x web", ""},                                      // a value may start with '-'
		{"restart web -d --", "", "flag needs an argument: -d (see corral restart --help)"}, // but is not "--"
		{"start -m web=2 web worker", "start -m web=2 web worker", ""},
		{"start web worker -m web=2 --restart -e a.env -e b.env", "start -m web=2 --restart -e a.env -e b.env web worker", ""},
		{"start web --timestamps=false", "start --timestamps=false web", ""},
		{"start web -- -m x", "start web -- -m x", ""},
		{"run -- python manage.py -d x", "run -- python manage.py -d x", ""},
		{"run python -v", "run python -v", ""},
		{"stop -", "stop -", ""},
		{"nope a -d b", "nope a -d b", ""}, // unknown command: as it is
		{"ps", "ps", ""},
		{"export systemd -d app --user u", "export systemd -d app --user u", ""},
		{"export systemd x -o unit -m web=2", "export systemd -o unit -m web=2 x", ""}, // a subcommand's flags
		{"export systemd --user", "", "flag needs an argument: -user (see corral export systemd --help)"},
		{"export upstart -d x", "export -d upstart x", ""}, // export has no flags: it says so
	} {
		args := append([]string{"corral"}, strings.Fields(tt.in)...)
		got, err := flagsFirst(app, args)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("%s: %q, %v; want the error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || !slices.Equal(got, append([]string{"corral"}, strings.Fields(tt.want)...))):
			t.Errorf("%s: %q, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// FuzzFlagsFirst: whatever the command line, flagsFirst only reorders
// it: the same words, the program and the command first, and everything
// from "--" on as it was, at the end.
func FuzzFlagsFirst(f *testing.F) {
	app := newApp(nil, io.Discard, io.Discard)
	for _, s := range []string{"restart web -d app", "start web -- -m x", "export systemd -o x web", "scale web=2 --dir=. -d", "ps --json -d x", "run -- a -d b", "stop - --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := append([]string{"corral"}, strings.Fields(line)...)
		got, err := flagsFirst(app, args)
		if err != nil {
			return
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(args))) || len(args) > 1 && got[1] != args[1] {
			t.Fatalf("%q became %q", args, got)
		}
		// What follows "--" is the same, and last.
		tail := func(a []string) []string {
			if i := slices.Index(a[min(2, len(a)):], "--"); i >= 0 {
				return a[2+i:]
			}
			return nil
		}
		if in, out := tail(args), tail(got); !slices.Equal(in, out) || !slices.Equal(got[len(got)-len(out):], out) {
			t.Fatalf("%q became %q: what follows -- changed", args, got)
		}
	})
}
