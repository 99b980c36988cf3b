package main

import "github.com/urfave/cli/v2"

// quickNames returns flags with each flag's names worked out once.
// urfave/cli v2 runs a command's flag actions by asking IsSet of every
// name of every flag, and IsSet finds a flag by calling Names() on the
// flags before it, each call a regexp replacement per name (cli.FlagNames):
// for corral start's flags, thousands of them between the exec and the
// bind. A wrapped flag keeps every method of its type but Names. Bool
// flags that are hidden or hide their default stay as they are: urfave/cli's
// help and completion look for *cli.BoolFlag to read those fields.
func quickNames(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			out[i] = stringFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringSliceFlag:
			out[i] = stringSliceFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.IntFlag:
			out[i] = intFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.BoolFlag:
			if f.Hidden || f.DisableDefaultText {
				out[i] = f
				continue
			}
			out[i] = boolFlag{f, flagNames(f.Name, f.Aliases)}
		default:
			out[i] = f
		}
	}
	return out
}

// flagNames is what cli.FlagNames returns for corral's flags, whose names
// hold no comma or space (the v1 form it strips with a regexp, which cost
// a tenth of a millisecond before the bind; TestQuickNames holds
// them equal).
func flagNames(name string, aliases []string) []string {
	return append([]string{name}, aliases...)
}

// unwrap returns the urfave/cli flag quickNames wrapped in f, or f: code
// that reads a flag by its type (export systemd passing flags on) sees
// the type urfave/cli declares.
func unwrap(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case stringFlag:
		return f.StringFlag
	case stringSliceFlag:
		return f.StringSliceFlag
	case intFlag:
		return f.IntFlag
	case boolFlag:
		return f.BoolFlag
	}
	return f
}

// stringFlag is a *cli.StringFlag whose Names are worked out once.
type stringFlag struct {
	*cli.StringFlag
	names []string
}

// Names returns the flag's name and aliases.
func (f stringFlag) Names() []string { return f.names }

// stringSliceFlag is a *cli.StringSliceFlag whose Names are worked out once.
type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

// Names returns the flag's name and aliases.
func (f stringSliceFlag) Names() []string { return f.names }

// intFlag is a *cli.IntFlag whose Names are worked out once.
type intFlag struct {
	*cli.IntFlag
	names []string
}

// Names returns the flag's name and aliases.
func (f intFlag) Names() []string { return f.names }

// boolFlag is a *cli.BoolFlag whose Names are worked out once.
type boolFlag struct {
	*cli.BoolFlag
	names []string
}

// Names returns the flag's name and aliases.
func (f boolFlag) Names() []string { return f.names }
