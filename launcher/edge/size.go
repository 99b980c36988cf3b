package edge

import (
	"errors"
	"strconv"
	"strings"
)

// ParseSize parses a byte size as given to --max-body: a whole number of
// bytes with an optional unit, decimal (KB, MB, GB: powers of 1000, with k,
// m, g as nginx writes them meaning powers of 1024) or binary (KiB, MiB,
// GiB). "0" means no limit.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && '0' <= t[i] && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want a size such as 10MB, 512KiB or 1g")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, errors.New("number too large")
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(1)
	switch unit {
	case "", "b":
	case "k", "kib":
		mult = 1 << 10
	case "m", "mib":
		mult = 1 << 20
	case "g", "gib":
		mult = 1 << 30
	case "kb":
		mult = 1000
	case "mb":
		mult = 1000 * 1000
	case "gb":
		mult = 1000 * 1000 * 1000
	default:
		return 0, errors.New("unknown unit " + strconv.Quote(t[i:]) + " (use B, KB, MB, GB, KiB, MiB, GiB, k, m, g)")
	}
	if n > (1<<62)/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}
