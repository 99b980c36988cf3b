package metrics

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The exposition is written here rather than by Prometheus's client
// library: importing client_golang runs its packages' init functions
// (its default registry's Go and process collectors, procfs's regexps,
// protobuf's descriptors: 25 packages) at every corral start, before the
// edge binds the port, whether --admin is on or not; and their code and
// tables stay mapped in corral's resident memory. The formats are
// Prometheus's text format 0.0.4 and OpenMetrics 1.0.0, as client_golang
// writes them; the tests parse them with Prometheus's own parser.

// Metric types, as the TYPE lines name them.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
	typeSummary   = "summary"
)

// family is one metric of the exposition: a name (a counter's ends in
// _total), its help, its type and its series; unit, if not empty, is
// OpenMetrics's UNIT (the name ends with it).
type family struct {
	name, help, typ string
	metrics         []metric
	unit            string
}

// metric is one labelled series of a family: its lines share the labels.
type metric struct {
	labels []label // sorted by name when written
	lines  []sampleLine
}

// label is a label's name and value.
type label struct{ name, value string }

// sampleLine is one sample: the family's name with suffix (_bucket, _sum,
// _count; "" for the value itself), a number as a last label (a bucket's
// le, a summary's quantile: boundName ""  for none) and the value. count
// says the value is a whole count, written as an integer in both formats.
type sampleLine struct {
	suffix    string
	boundName string
	bound     float64
	value     float64
	count     bool
}

// single is a series of one sample, the family's value.
func single(v float64, labels ...label) metric {
	return metric{labels: labels, lines: []sampleLine{{value: v}}}
}

// singleFamily is a family of one series without labels.
func singleFamily(name, help, typ string, v float64) family {
	return family{name: name, help: help, typ: typ, metrics: []metric{single(v)}}
}

// histogramSeries is a histogram's metric: cumulative counts of the
// buckets with upper bounds bounds (counts has one more, for +Inf), the
// sum, the count.
func histogramSeries(bounds []float64, counts []uint64, sum float64, labels ...label) metric {
	s := metric{labels: labels, lines: make([]sampleLine, 0, len(counts)+2)}
	var cum uint64
	for i, n := range counts {
		cum += n
		le := math.Inf(1)
		if i < len(bounds) {
			le = bounds[i]
		}
		s.lines = append(s.lines, sampleLine{suffix: "_bucket", boundName: "le", bound: le, value: float64(cum), count: true})
	}
	return appendSumCount(s, sum, cum)
}

// appendSumCount adds a histogram's or summary's _sum and _count lines.
func appendSumCount(s metric, sum float64, count uint64) metric {
	return metric{labels: s.labels, lines: append(s.lines,
		sampleLine{suffix: "_sum", value: sum},
		sampleLine{suffix: "_count", value: float64(count), count: true})}
}

// format is an exposition format: its Content-Type and whether it is
// OpenMetrics.
type format struct {
	contentType string
	openMetrics bool
}

// negotiate picks the format the Accept header prefers, as client_golang's
// promhttp does with OpenMetrics enabled: OpenMetrics 1.0.0 or 0.0.1 when
// asked for, else the text format 0.0.4.
func negotiate(h http.Header) format {
	escaping := "underscores" // every name here is a legacy one: no escaping changes it
	type choice struct {
		f format
		q float64
	}
	var best *choice
	for part := range strings.SplitSeq(h.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		if e := params["escaping"]; e == "allow-utf-8" || e == "underscores" || e == "dots" || e == "values" {
			escaping = e
		}
		var f format
		switch v := params["version"]; {
		case mt == "application/openmetrics-text" && (v == "" || v == "1.0.0" || v == "0.0.1"):
			f = format{"application/openmetrics-text; version=" + cmp.Or(v, "1.0.0") + "; charset=utf-8", true}
		case mt == "text/plain" && (v == "" || v == "0.0.4"):
			f = format{"text/plain; version=0.0.4; charset=utf-8", false}
		default:
			continue
		}
		if q > 0 && (best == nil || q > best.q) {
			best = &choice{f, q}
		}
	}
	f := format{"text/plain; version=0.0.4; charset=utf-8", false}
	if best != nil {
		f = best.f
	}
	f.contentType += "; escaping=" + escaping
	return f
}

// serveExposition answers a scrape with fams in the format the client
// asks for, gzipped when it accepts gzip.
func serveExposition(w http.ResponseWriter, r *http.Request, fams []family) {
	f := negotiate(r.Header)
	w.Header().Set("Content-Type", f.contentType)
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
	}
	bw := bufio.NewWriter(out)
	writeFamilies(bw, fams, f.openMetrics)
	bw.Flush()
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip (with
// a q above 0).
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			return !ok || q != "0" && q != "0.0" && q != "0.00" && q != "0.000"
		}
	}
	return false
}

// writeFamilies writes fams sorted by name, each family's metric sorted
// by their label values (labels sorted by name), as client_golang's
// registry gathers them.
func writeFamilies(w *bufio.Writer, fams []family, openMetrics bool) {
	fams = slices.Clone(fams)
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	for _, fam := range fams {
		if len(fam.metrics) == 0 {
			continue
		}
		for i := range fam.metrics {
			fam.metrics[i].labels = slices.Clone(fam.metrics[i].labels)
			slices.SortFunc(fam.metrics[i].labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
		}
		slices.SortStableFunc(fam.metrics, func(a, b metric) int {
			for i := range min(len(a.labels), len(b.labels)) {
				if c := strings.Compare(a.labels[i].value, b.labels[i].value); c != 0 {
					return c
				}
			}
			return cmp.Compare(len(a.labels), len(b.labels))
		})
		name := fam.name
		if openMetrics && fam.typ == typeCounter {
			name = strings.TrimSuffix(name, "_total") // OpenMetrics names the family without it
		}
		w.WriteString("# HELP ")
		w.WriteString(name)
		w.WriteByte(' ')
		writeEscaped(w, fam.help, openMetrics)
		w.WriteString("\n# TYPE ")
		w.WriteString(name)
		w.WriteByte(' ')
		w.WriteString(fam.typ)
		w.WriteByte('\n')
		if openMetrics && fam.unit != "" {
			w.WriteString("# UNIT ")
			w.WriteString(name)
			w.WriteByte(' ')
			w.WriteString(fam.unit)
			w.WriteByte('\n')
		}
		for _, s := range fam.metrics {
			for _, l := range s.lines {
				w.WriteString(fam.name)
				w.WriteString(l.suffix)
				if len(s.labels) > 0 || l.boundName != "" {
					w.WriteByte('{')
					for i, lb := range s.labels {
						if i > 0 {
							w.WriteByte(',')
						}
						w.WriteString(lb.name)
						w.WriteString(`="`)
						writeEscaped(w, lb.value, true)
						w.WriteByte('"')
					}
					if l.boundName != "" {
						if len(s.labels) > 0 {
							w.WriteByte(',')
						}
						w.WriteString(l.boundName)
						w.WriteString(`="`)
						w.WriteString(formatFloat(l.bound, openMetrics))
						w.WriteByte('"')
					}
					w.WriteByte('}')
				}
				w.WriteByte(' ')
				if l.count {
					w.WriteString(strconv.FormatUint(uint64(l.value), 10))
				} else {
					w.WriteString(formatFloat(l.value, openMetrics))
				}
				w.WriteByte('\n')
			}
		}
	}
	if openMetrics {
		w.WriteString("# EOF\n")
	}
}

// writeEscaped writes s with backslashes and newlines escaped, and double
// quotes too when quotes is set (label values; OpenMetrics help).
func writeEscaped(w *bufio.Writer, s string, quotes bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			w.WriteString(`\\`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '"' && quotes:
			w.WriteString(`\"`)
		default:
			w.WriteByte(c)
		}
	}
}

// formatFloat writes a value as the formats do: the shortest form that
// reads back; OpenMetrics gives whole numbers a ".0" (1.0, 5.0).
func formatFloat(f float64, openMetrics bool) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if openMetrics && !strings.ContainsAny(s, "e.") {
		s += ".0"
	}
	return s
}
