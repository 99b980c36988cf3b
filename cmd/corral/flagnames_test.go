package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestQuickNames: a wrapped flag answers Names as its flag does and keeps
// the interfaces urfave/cli looks for (help, env variables, flag actions,
// required flags), so that corral start reads, shows and checks its flags
// as before.
func TestQuickNames(t *testing.T) {
	plain := slices.Concat(appFlags(), runFlags(), machineFlags(), edgeFlags(), []cli.Flag{
		&cli.BoolFlag{Name: "hidden", Hidden: true},
		&cli.BoolFlag{Name: "no-default", Aliases: []string{"n"}, DisableDefaultText: true},
	})
	quick := quickNames(plain)
	if len(quick) != len(plain) {
		t.Fatalf("%d flags, want %d", len(quick), len(plain))
	}
	for i, f := range plain {
		q := quick[i]
		name := f.Names()[0]
		if !slices.Equal(q.Names(), f.Names()) {
			t.Errorf("%s: Names %q, want %q", name, q.Names(), f.Names())
		}
		if q.String() != f.String() {
			t.Errorf("%s: help line %q, want %q", name, q.String(), f.String())
		}
		for iface, has := range map[string]func(cli.Flag) bool{
			"DocGenerationFlag": func(f cli.Flag) bool { _, ok := f.(cli.DocGenerationFlag); return ok },
			"ActionableFlag":    func(f cli.Flag) bool { _, ok := f.(cli.ActionableFlag); return ok },
			"RequiredFlag":      func(f cli.Flag) bool { _, ok := f.(cli.RequiredFlag); return ok },
			"VisibleFlag":       func(f cli.Flag) bool { _, ok := f.(cli.VisibleFlag); return ok },
			"CategorizableFlag": func(f cli.Flag) bool { _, ok := f.(cli.CategorizableFlag); return ok },
		} {
			if has(q) != has(f) {
				t.Errorf("%s: %s %v, want %v", name, iface, has(q), has(f))
			}
		}
		if b, ok := f.(*cli.BoolFlag); ok && (b.Hidden || b.DisableDefaultText) && q != f {
			t.Errorf("%s: wrapped, but urfave/cli reads its Hidden or DisableDefaultText through *cli.BoolFlag", name)
		}
	}

	// Parsed through a command, the wrapped flags are set, read and
	// reported unset as the plain ones are.
	for _, flags := range [][]cli.Flag{plain, quick} {
		var got []string
		app := &cli.App{Name: "corral", Commands: []*cli.Command{{
			Name: "start", Flags: flags,
			Action: func(c *cli.Context) error {
				got = []string{c.String("dir"), strings.Join(c.StringSlice("env"), ","), c.String("port")}
				for _, n := range []string{"d", "timeout", "restart", "memory-guard"} {
					if c.IsSet(n) {
						got = append(got, n)
					}
				}
				return nil
			},
		}}}
		if err := app.Run([]string{"corral", "start", "-d", "app", "-e", "a", "-e", "b", "--restart", "-p", "7000"}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"app", "a,b", "7000", "d", "restart"}; !slices.Equal(got, want) {
			t.Errorf("read %q, want %q", got, want)
		}
	}
}
