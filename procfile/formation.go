package procfile

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxInstances bounds the instances of one process type. Instance ports are
// spaced 100 apart per type (see the launcher), so more would collide.
const MaxInstances = 100

// Formation is how many instances of each process type to run.
type Formation map[string]int

// ParseFormation parses a formation spec such as "web=2,worker=1" or
// "all=0,web=1". "all" sets the count of every type not named explicitly,
// whatever order it appears in. Types are checked against known; an unknown
// type, a repeated type or a count that is not a whole number from 0 to
// MaxInstances is an error naming the offending item.
//
// The result has an entry for every known type: 1 unless the spec says
// otherwise.
func ParseFormation(spec string, known []string) (Formation, error) {
	explicit, all, _, err := parseFormation(spec, known)
	if err != nil {
		return nil, err
	}
	f := make(Formation, len(known))
	for _, k := range known {
		f[k] = all
		if n, ok := explicit[k]; ok {
			f[k] = n
		}
	}
	return f, nil
}

// ParseChange parses a change to a running formation, in the same syntax
// (corral scale web=3,worker=0): the result holds only the types the spec
// names, every known type when it says "all".
func ParseChange(spec string, known []string) (Formation, error) {
	explicit, all, allSet, err := parseFormation(spec, known)
	if err != nil {
		return nil, err
	}
	if allSet {
		for _, k := range known {
			if _, ok := explicit[k]; !ok {
				explicit[k] = all
			}
		}
	}
	return explicit, nil
}

// parseFormation reads a formation spec's items: the counts given by name,
// and the count "all" gives (1 if not allSet).
func parseFormation(spec string, known []string) (explicit Formation, all int, allSet bool, err error) {
	isKnown := make(map[string]bool, len(known))
	for _, k := range known {
		isKnown[k] = true
	}
	explicit = make(Formation)
	all = 1
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, count, ok := strings.Cut(item, "=")
		if !ok {
			return nil, 0, false, fmt.Errorf("formation %q: item %q is not TYPE=COUNT", spec, item)
		}
		name, count = strings.TrimSpace(name), strings.TrimSpace(count)
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > MaxInstances {
			return nil, 0, false, fmt.Errorf("formation %q: count %q for %q must be a whole number from 0 to %d", spec, count, name, MaxInstances)
		}
		if name == "all" && !isKnown["all"] {
			if allSet {
				return nil, 0, false, fmt.Errorf("formation %q: \"all\" is given twice", spec)
			}
			all, allSet = n, true
			continue
		}
		if !isKnown[name] {
			return nil, 0, false, fmt.Errorf("formation %q: unknown process type %q (the Procfile defines %s)", spec, name, strings.Join(known, ", "))
		}
		if _, dup := explicit[name]; dup {
			return nil, 0, false, fmt.Errorf("formation %q: %q is given twice", spec, name)
		}
		explicit[name] = n
	}
	return explicit, all, allSet, nil
}
