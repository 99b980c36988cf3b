package metrics

// The status page's charts: inline SVG that page.html draws from these
// values, computed here, so that the page needs no script and no other
// request, and the template escapes every word of it.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corral-run/corral/launcher/limits"
)

// MemoryLimits are the limits the memory chart draws the processes'
// memory against, from the machine the launcher found.
type MemoryLimits struct {
	// Limit is the memory the app's processes may use together (a
	// cgroup's limit, or --memory-limit); 0: none but the host's RAM.
	Limit int64
	// Source says where Limit comes from: "cgroup v2 memory.max",
	// "--memory-limit".
	Source string
	// Guard is where the memory guard recycles a web instance; 0: off.
	Guard int64
	// PerInstance is --max-memory-per-instance; 0: none.
	PerInstance int64
}

// A chart's geometry, in the SVG's own units: the plot is plotW × plotH,
// with room on the left for the values and below for the times. plotW
// divides HistorySpan evenly: a sample every SampleEvery is 2 units on.
const (
	chartW, chartH = 424, 160
	plotX, plotY   = 44, 18
	plotW, plotH   = 360, 120
)

// chart is one chart of the status page, every value formatted.
type chart struct {
	ID      string // the element's id; the <title>'s is ID-title
	Heading string // above it, and the first words of its <title>
	Unit    string // of the values, at the top of their axis
	// Summary is the chart's <title>, which screen readers say and a
	// pointer over it shows: what it draws, with the numbers.
	Summary string
	Latest  string // the newest value, beside the heading
	Empty   string // drawn instead of lines while there is nothing to draw

	W, H, PlotX, PlotY, PlotRight, PlotBottom int
	YLabelX, XLabelY, MidX, MidY              int // where the values, the times and Empty go
	XTicks, YTicks                            []tick
	Refs                                      []refLine
	Series                                    []series
	Legend                                    []legendItem // empty for a chart of one series
}

// tick is a gridline and its label; Pos is its x (XTicks) or y (YTicks).
type tick struct{ Pos, Label string }

// refLine is a horizontal line at a limit, and its label.
type refLine struct {
	Y, LabelY, Label, Class string
}

// series is one line of a chart: a polyline per run of samples that
// have a value (a gap where there was none: no request, or the process
// was not running).
type series struct {
	Name, Class string
	Runs        []string // each a polyline's points: "x,y x,y …"
}

// legendItem names a series under its chart, with its newest value.
type legendItem struct{ Name, Class, Latest string }

// colours is how many colour classes page.html defines (c0 …): series
// beyond take them again, and the legend tells them apart.
const colours = 8

// point is a value at a moment, before it is placed on a chart.
type point struct {
	t time.Time
	v float64
}

// window is the span a chart covers, ending now.
type window struct{ from, to time.Time }

// x places t on the plot's horizontal axis.
func (w window) x(t time.Time) float64 {
	return plotX + plotW*t.Sub(w.from).Seconds()/w.to.Sub(w.from).Seconds()
}

// newChart makes a chart of w, with the time axis labelled every 5
// minutes and the value axis from 0 to top, labelled by label.
func newChart(id, heading, unit string, w window, top float64, label func(float64) string) chart {
	c := chart{
		ID: id, Heading: heading, Unit: unit,
		W: chartW, H: chartH, PlotX: plotX, PlotY: plotY, PlotRight: plotX + plotW, PlotBottom: plotY + plotH,
		YLabelX: plotX - 5, XLabelY: plotY + plotH + 15, MidX: plotX + plotW/2, MidY: plotY + plotH/2,
	}
	const every = 5 * time.Minute
	for t := w.from.Truncate(every); !t.After(w.to); t = t.Add(every) {
		if t.Before(w.from) {
			continue
		}
		c.XTicks = append(c.XTicks, tick{coord(w.x(t)), t.In(w.to.Location()).Format("15:04")})
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{coord(y(f*top, top)), label(f * top)})
	}
	return c
}

// y places v on a value axis from 0 to top.
func y(v, top float64) float64 {
	return plotY + plotH*(1-v/top)
}

// line turns runs of points into a series' polylines: a run is the
// points of consecutive samples that have a value. A run of one point is
// that point twice: with round caps, a dot.
func line(name, class string, w window, top float64, runs [][]point) series {
	s := series{Name: name, Class: class}
	for _, run := range runs {
		var xy []string
		for _, p := range run {
			xy = append(xy, coord(w.x(p.t))+","+coord(y(min(p.v, top), top)))
		}
		if len(xy) == 1 {
			xy = append(xy, xy[0])
		}
		if len(xy) > 0 {
			s.Runs = append(s.Runs, strings.Join(xy, " "))
		}
	}
	return s
}

// runs gathers the values of samples into runs of consecutive samples
// that have one (value's ok).
func runs(samples []sample, value func(sample) (float64, bool)) (rs [][]point) {
	var run []point
	for _, s := range samples {
		v, ok := value(s)
		if !ok {
			if len(run) > 0 {
				rs, run = append(rs, run), nil
			}
			continue
		}
		run = append(run, point{s.t, v})
	}
	if len(run) > 0 {
		rs = append(rs, run)
	}
	return rs
}

// all is every point of rs, in order.
func all(rs [][]point) []point {
	var pts []point
	for _, r := range rs {
		pts = append(pts, r...)
	}
	return pts
}

// coord formats a coordinate to a tenth of a unit.
func coord(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// niceCeil is the smallest round number at least v: 1, 1.2, 1.5, 2,
// 2.5, 3, 4, 5, 6 or 8 times a power of ten, whose half (the axis's
// middle label) is round too. It is a value axis's top.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// plain formats an axis value: as few decimals as it needs.
func plain(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// peak is the point of pts with the highest value (the first of equals).
func peak(pts []point) point {
	var best point
	for i, p := range pts {
		if i == 0 || p.v > best.v {
			best = p
		}
	}
	return best
}

// span says SampleEvery and HistorySpan in words.
func span() string {
	return fmt.Sprintf("a point every %d s over the last %d minutes", SampleEvery/time.Second, HistorySpan/time.Minute)
}

// rateChart draws the requests per second of each interval.
func rateChart(w window, samples []sample) chart {
	rs := runs(samples, func(s sample) (float64, bool) { return s.rate, s.interval })
	top := niceCeil(peak(all(rs)).v)
	c := newChart("rate", "Requests per second", "req/s", w, top, plain)
	c.drawOne("requests/s", "c0", "Requests per second", w, top, rs, perSecond,
		fmt.Sprintf("measuring: a point every %d s", SampleEvery/time.Second))
	return c
}

// latencyChart draws the 99th percentile of the response time of each
// interval with requests.
func latencyChart(w window, samples []sample) chart {
	rs := runs(samples, func(s sample) (float64, bool) { return s.p99, s.answered })
	top := niceCeil(max(peak(all(rs)).v, 0.01))
	unit, scale := "ms", 1000.0
	if top >= 1 {
		unit, scale = "s", 1
	}
	c := newChart("latency", "p99 response time", "p99, "+unit, w, top, func(v float64) string { return plain(v * scale) })
	c.drawOne("p99", "c1", "99th percentile of the time to answer a request", w, top, rs, seconds,
		fmt.Sprintf("no request answered in the last %d minutes", HistorySpan/time.Minute))
	return c
}

// drawOne draws rs as c's only series, and says in c's summary what it
// shows, with the latest and the highest value as format writes them; or
// with no point, says empty.
func (c *chart) drawOne(name, class, what string, w window, top float64, rs [][]point, format func(float64) string, empty string) {
	pts := all(rs)
	if len(pts) == 0 {
		c.Empty, c.Summary = empty, what+": "+empty+"."
		return
	}
	c.Series = []series{line(name, class, w, top, rs)}
	last, hi := pts[len(pts)-1], peak(pts)
	c.Latest = format(last.v)
	c.Summary = fmt.Sprintf("%s, %s: %s at %s, the latest; peak %s at %s.",
		what, span(), format(last.v), timeOfDay(last.t), format(hi.v), timeOfDay(hi.t))
}

// memoryChart draws each process's resident memory, and the processes'
// together, against the memory limit and the guard's thresholds.
func memoryChart(w window, samples []sample, lim MemoryLimits) chart {
	// The processes of the newest sample, in corral ps's order, then
	// those gone since.
	var names, now []string
	for _, s := range slices.Backward(samples) {
		if s.procs != nil {
			for _, p := range s.procs {
				if !slices.Contains(now, p.name) { // two during a reload: old and new
					now = append(now, p.name)
				}
			}
			break
		}
	}
	names = append(names, now...)
	for _, s := range samples {
		for _, p := range s.procs {
			if !slices.Contains(names, p.name) {
				names = append(names, p.name)
			}
		}
	}
	byName := make([][][]point, len(names))
	var hi float64
	for i, name := range names {
		byName[i] = runs(samples, func(s sample) (float64, bool) {
			var rss int64
			found := false
			for _, p := range s.procs {
				if p.name == name {
					rss, found = rss+p.rss, true
				}
			}
			return float64(rss), found
		})
		hi = max(hi, peak(all(byName[i])).v)
	}
	var total [][]point // when there is more than one process to add up
	if len(names) > 1 {
		total = runs(samples, func(s sample) (float64, bool) {
			var sum int64
			for _, p := range s.procs {
				sum += p.rss
			}
			return float64(sum), s.procs != nil
		})
		hi = max(hi, peak(all(total)).v)
	}

	const mib = 1 << 20
	top := float64(lim.Limit)
	if lim.Limit <= 0 || hi > top {
		top = niceCeil(hi/mib) * mib
	}
	c := newChart("memory", "Memory", "MiB", w, top, func(v float64) string { return plain(v / mib) })
	for _, r := range []struct {
		v            int64
		label, class string
	}{
		{lim.Limit, "limit " + limits.MiB(lim.Limit), "ref-limit"},
		{lim.Guard, "guard " + limits.MiB(lim.Guard), "ref-guard"},
		{lim.PerInstance, "per instance " + limits.MiB(lim.PerInstance), "ref-cap"},
	} {
		if r.v > 0 && float64(r.v) <= top {
			ry := y(float64(r.v), top)
			// Labels above their line, the guard's below, as it is
			// often just under the limit's.
			ly := ry - 3
			if r.class == "ref-guard" {
				ly = ry + 10
			}
			c.Refs = append(c.Refs, refLine{coord(ry), coord(ly), r.label, r.class})
		}
	}

	against := "with no memory limit but the host's (--memory-limit sets one)"
	if lim.Limit > 0 {
		against = "against the " + limits.MiB(lim.Limit) + " limit (" + lim.Source + ")"
	}
	if len(names) == 0 {
		c.Empty = "no process memory sampled yet"
		if slices.ContainsFunc(samples, func(s sample) bool { return s.procs != nil }) {
			c.Empty = "no process running"
		}
		c.Summary = "Resident memory of each process " + against + ": none sampled yet."
		return c
	}
	var latest []string
	for i, name := range names {
		class := "c" + strconv.Itoa(i%colours)
		c.Series = append(c.Series, line(name, class, w, top, byName[i]))
		item := legendItem{name, class, "(gone)"}
		if i < len(now) {
			pts := byName[i][len(byName[i])-1]
			item.Latest = limits.MiB(int64(pts[len(pts)-1].v))
			latest = append(latest, name+" "+item.Latest)
		}
		c.Legend = append(c.Legend, item)
	}
	if len(total) > 0 {
		c.Series = append(c.Series, line("all", "total", w, top, total))
		last := total[len(total)-1]
		sum := last[len(last)-1].v
		c.Legend = append(c.Legend, legendItem{"all", "total", limits.MiB(int64(sum))})
		share := ""
		if lim.Limit > 0 {
			share = fmt.Sprintf(", %.0f%% of the limit", 100*sum/float64(lim.Limit))
		}
		latest = append(latest, "all together "+limits.MiB(int64(sum))+share)
	}
	c.Summary = fmt.Sprintf("Resident memory of each process (its whole process group) %s, %s; the latest: %s.",
		against, span(), strings.Join(latest, ", "))
	return c
}

// perSecond formats a request rate.
func perSecond(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// seconds formats a response time: milliseconds below a second.
func seconds(v float64) string {
	if v < 1 {
		return plain(math.Round(v*1e4)/10) + " ms"
	}
	return plain(math.Round(v*100)/100) + " s"
}

// timeOfDay formats a sample's time as the charts' axis does.
func timeOfDay(t time.Time) string { return t.Format("15:04:05") }
