package buildpack

import (
	"fmt"
	"slices"
	"strings"
)

// detectRuby finds a Rack app: a config.ru at the root, which every Rack
// server (puma, rackup) loads. Rails is one, told apart by its
// config/application.rb or the rails gem; a Gemfile alone is no web app
// (a gem's own Gemfile, a script's).
func detectRuby(a *appFiles) (*Plan, error) {
	if !a.isFile("config.ru") {
		return nil, nil
	}
	src, err := a.readOptional("Gemfile")
	if err != nil {
		return nil, err
	}
	hasGemfile := src != nil
	gems := parseGemfile(string(src))

	p := &Plan{Kind: Rack, Title: "Ruby (Rack)", Evidence: []Evidence{{File: "config.ru", Says: "a Rack app's entry point"}}}
	if a.isFile("config/application.rb") {
		p.Kind, p.Title = Rails, "Ruby (Rails)"
		p.Evidence = append(p.Evidence, Evidence{File: "config/application.rb", Says: "configures a Rails application"})
	} else if g, ok := gems.runtimeAny("rails", "railties"); ok {
		p.Kind, p.Title = Rails, "Ruby (Rails)"
		p.Evidence = append(p.Evidence, g.evidence())
	} else if g, ok := gems.runtime("sinatra"); ok {
		// Only when not Rails: a Rails app may mount a Sinatra one.
		p.Title = "Ruby (Sinatra)"
		p.Evidence = append(p.Evidence, g.evidence())
	}
	rails := p.Kind == Rails

	// bundle exec runs the Gemfile's versions; with no Gemfile there is no
	// bundle, and the gems must be installed on the machine.
	bundle := "bundle exec "
	if !hasGemfile {
		bundle = ""
		p.Notes = append(p.Notes, "there is no Gemfile, so the gems the app needs must already be installed where it runs")
	}
	if a.isFile("config/puma.rb") {
		p.Processes = append(p.Processes, Process{Type: "web", Command: bundle + "puma -C config/puma.rb", Why: Evidence{File: "config/puma.rb", Says: "configures puma"}})
	} else {
		p.Processes = append(p.Processes, Process{Type: "web", Command: bundle + "rackup -o " + bindHost + " -p $PORT", Why: Evidence{File: "config.ru", Says: "no config/puma.rb, so rackup runs config.ru"}})
		if _, ok := gems.runtime("puma"); !ok {
			p.Notes = append(p.Notes, `puma is not declared in a Gemfile: rackup runs whichever Rack server it finds, which may be none or one not made for production (WEBrick); add gem "puma", and a config/puma.rb to configure it`)
		}
	}

	if hasGemfile {
		p.Build = append(p.Build, Step{Command: "bundle install", Why: Evidence{File: "Gemfile", Says: "declares the gems"}})
	}
	if rails {
		for _, dir := range []string{"app/assets", "app/javascript"} {
			if a.isDir(dir) {
				p.Build = append(p.Build, Step{Command: bundle + "rails assets:precompile", Creates: "public/assets", Why: Evidence{File: dir, Says: "holds assets the asset pipeline compiles"}})
				break
			}
		}
		if a.isDir("public") {
			p.Static = append(p.Static, Mount{Prefix: "/", Dir: "public", Fallthrough: true, Why: Evidence{File: "public", Says: "Rails' public files, served before the app's routes"}})
		}
		if a.isDir("db/migrate") {
			p.Release = &Process{Type: "release", Command: bundle + "rails db:migrate", Why: Evidence{File: "db/migrate", Says: "holds database migrations"}}
		}
	}

	workers := rubyWorkers()
	for i, w := range workers {
		g, ok := gems.runtime(w.gem)
		if !ok {
			continue
		}
		if !rails {
			// Outside Rails nothing tells the worker where the app's
			// jobs are: sidekiq needs -r, the others need Rails.
			p.Notes = append(p.Notes, fmt.Sprintf("Gemfile:%d: %s is declared, but corral runs its worker only for a Rails app; write a Procfile with a worker line that loads your jobs", g.line, w.gem))
			break
		}
		p.Processes = append(p.Processes, Process{Type: "worker", Command: bundle + w.command, Why: g.evidence()})
		for _, other := range workers[i+1:] {
			if g2, ok := gems.runtime(other.gem); ok {
				p.Notes = append(p.Notes, fmt.Sprintf("Gemfile:%d: %s is declared too, but the worker runs %s only; write a Procfile to run both", g2.line, other.gem, w.gem))
			}
		}
		break
	}
	if gems.ruby != "" {
		p.Notes = append(p.Notes, fmt.Sprintf("Gemfile:%d: ruby %q; corral does not install Ruby, so the platform's ruby must match", gems.rubyLine, gems.ruby))
	}
	return p, nil
}

// rubyWorker is a job backend's gem and the command of its worker process.
type rubyWorker struct{ gem, command string }

// rubyWorkers are the job backends corral knows, in the order it picks one.
func rubyWorkers() []rubyWorker {
	return []rubyWorker{
		{"sidekiq", "sidekiq"},
		{"good_job", "good_job start"},
		{"solid_queue", "rake solid_queue:start"},
	}
}

// gemDecl is one gem a Gemfile declares.
type gemDecl struct {
	name string
	line int // where its gem statement starts
	// groups are the Bundler groups it is in, from enclosing group blocks
	// and its own group: option; none means the default group.
	groups []string
}

// runtimeGroup reports whether the gem is installed and loaded in
// production: in no group, or in one other than development and test.
func (g gemDecl) runtimeGroup() bool {
	if len(g.groups) == 0 {
		return true
	}
	for _, name := range g.groups {
		if name != "development" && name != "test" {
			return true
		}
	}
	return false
}

// evidence points at the gem's line.
func (g gemDecl) evidence() Evidence {
	return Evidence{File: "Gemfile", Line: g.line, Says: fmt.Sprintf("declares gem %q", g.name)}
}

// gemfile is what detection needs of a Gemfile.
type gemfile struct {
	gems     []gemDecl
	ruby     string // the ruby statement's version, "" when none
	rubyLine int
}

// runtime returns the first runtime declaration of the gem.
func (g gemfile) runtime(name string) (gemDecl, bool) {
	for _, d := range g.gems {
		if d.name == name && d.runtimeGroup() {
			return d, true
		}
	}
	return gemDecl{}, false
}

// runtimeAny returns the first runtime declaration of any of the gems.
func (g gemfile) runtimeAny(names ...string) (gemDecl, bool) {
	for _, d := range g.gems {
		if slices.Contains(names, d.name) && d.runtimeGroup() {
			return d, true
		}
	}
	return gemDecl{}, false
}

// parseGemfile reads the gem and ruby statements of a Gemfile, and the
// group blocks around them. A Gemfile is Ruby, and this is no Ruby parser:
// it reads the statements Bundler's docs show, one to a line (or split
// after a comma), and skips any line it does not understand, so a
// Gemfile is never an error.
func parseGemfile(src string) gemfile {
	var g gemfile
	// blocks holds the groups of each open do…end (or if…end) block, so
	// an end closes the right one.
	var blocks [][]string
	lines := strings.Split(src, "\n")
	inDoc := false
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimSuffix(lines[i], "\r")
		if inDoc {
			inDoc = !strings.HasPrefix(raw, "=end")
			continue
		}
		if strings.HasPrefix(raw, "=begin") {
			inDoc = true
			continue
		}
		// A statement goes on past a line ending in a comma, a backslash
		// or an open bracket; starts records where each line begins in it.
		part := gemfileLine(raw)
		var b strings.Builder
		starts := []lineStart{{0, i + 1}}
		for continues(part) && i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "=begin") {
			b.WriteString(strings.TrimSuffix(part, `\`))
			b.WriteByte(' ')
			i++
			starts = append(starts, lineStart{b.Len(), i + 1})
			part = gemfileLine(strings.TrimSuffix(lines[i], "\r"))
		}
		b.WriteString(part)
		stmt := b.String()
		off := 0
		for {
			s, rest, more := cutUnquoted(stmt[off:], ';')
			line := lineOfOffset(starts, off+len(s)-len(strings.TrimLeft(s, " \t")))
			blocks = g.statement(strings.TrimSpace(s), line, blocks)
			if !more {
				break
			}
			off = len(stmt) - len(rest)
		}
	}
	return g
}

// lineStart is where a physical line begins in a joined statement.
type lineStart struct{ offset, line int }

// lineOfOffset gives the line of a byte of a joined statement.
func lineOfOffset(starts []lineStart, off int) int {
	// The first line starting after off is the one after off's.
	i, _ := slices.BinarySearchFunc(starts, off+1, func(s lineStart, off int) int { return s.offset - off })
	return starts[max(i-1, 0)].line
}

// gemfileLine is a line with its comment and surrounding spaces removed.
func gemfileLine(s string) string {
	code, _, _ := cutUnquoted(s, '#')
	return strings.TrimSpace(code)
}

// continues reports whether a statement goes on to the next line.
func continues(stmt string) bool {
	return stmt != "" && strings.ContainsRune(`,\([`, rune(stmt[len(stmt)-1]))
}

// statement reads one statement at line, given the open blocks, and
// returns the blocks open after it.
func (g *gemfile) statement(s string, line int, blocks [][]string) [][]string {
	var current []string
	if len(blocks) > 0 {
		current = blocks[len(blocks)-1]
	}
	word, rest := leadingWord(s)
	switch {
	case word == "end":
		if len(blocks) > 0 {
			blocks = blocks[:len(blocks)-1]
		}
	case word == "gem" && (rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '('):
		name, after, ok := firstString(rest)
		if ok && validGemName(name) {
			g.gems = append(g.gems, gemDecl{name: name, line: line, groups: addGroups(current, optionGroups(after))})
		}
	case word == "group" && endsWithDo(s):
		args := strings.TrimSpace(strings.TrimSuffix(withoutBlockParams(s)[len(word):], "do"))
		blocks = append(blocks, addGroups(current, groupNames(rubyTokens(args))))
	case word == "ruby":
		if v, _, ok := firstString(rest); ok && g.ruby == "" {
			g.ruby, g.rubyLine = v, line
		}
	case (opensBlock(word) && !strings.HasSuffix(s, " end")) || endsWithDo(s):
		// platforms, source, git, path and install_if blocks, and Ruby's
		// own: their gems keep the enclosing groups.
		blocks = append(blocks, current)
	}
	return blocks
}

// maxGroups bounds the groups a gem is recorded in. A real gem is in two
// or three; without a bound, a thousand nested group blocks of different
// names would copy a growing list at each.
const maxGroups = 16

// addGroups returns groups with the names it does not hold yet added, in
// a new slice: a block's list is shared by the gems inside it.
func addGroups(groups, names []string) []string {
	out := slices.Clone(groups)
	for _, name := range names {
		if len(out) < maxGroups && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// opensBlock reports whether a statement starting with word needs an end.
func opensBlock(word string) bool {
	switch word {
	case "if", "unless", "case", "begin", "while", "until", "for", "def", "class", "module":
		return true
	}
	return false
}

// leadingWord splits an identifier off the front of s.
func leadingWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && isIdentByte(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// isIdentByte reports whether c can be part of a Ruby identifier (ASCII
// only: a Gemfile's keywords and gem names are).
func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// withoutBlockParams drops a block's |params| from the end of a statement.
func withoutBlockParams(s string) string {
	if strings.HasSuffix(s, "|") {
		if i := strings.LastIndexByte(s[:len(s)-1], '|'); i >= 0 {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// endsWithDo reports whether a statement opens a do…end block.
func endsWithDo(s string) bool {
	s = withoutBlockParams(s)
	return strings.HasSuffix(s, "do") && (len(s) == 2 || !isIdentByte(s[len(s)-3]))
}

// firstString reads the string literal that is a call's first argument,
// with or without parentheses, and returns what follows it.
func firstString(s string) (value, after string, ok bool) {
	s = strings.TrimLeft(s, " \t(")
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", false
	}
	return s[1 : 1+end], s[2+end:], true
}

// validGemName reports whether s could name a gem, so nothing else (an
// interpolated "#{name}") is taken for one.
func validGemName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isIdentByte(s[i]) && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}

// optionGroups reads a gem statement's group: or groups: option (either
// hash syntax) from the arguments after its name.
func optionGroups(args string) []string {
	toks := rubyTokens(args)
	for i, t := range toks {
		switch {
		case t == "group:" || t == "groups:":
			return groupNames(toks[i+1:])
		case (t == ":group" || t == ":groups" || t == `"group"` || t == `"groups"`) && i+1 < len(toks) && toks[i+1] == "=>":
			return groupNames(toks[i+2:])
		}
	}
	return nil
}

// rubyTokens splits arguments at spaces, commas and parentheses.
func rubyTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" \t,()", r) })
}

// groupNames reads group names (:test, "test", [:development, :test],
// %i[development test]) from the front of toks, up to the next option.
func groupNames(toks []string) []string {
	var names []string
	bare := false // inside %i[…], where names have no colon
	for _, t := range toks {
		if t == "=>" || strings.HasSuffix(t, ":") {
			break // the next option
		}
		for _, p := range []string{"%i[", "%w[", "%I[", "%W["} {
			if rest, ok := strings.CutPrefix(t, p); ok {
				t, bare = rest, true
			}
		}
		closes := strings.HasSuffix(t, "]")
		t = strings.Trim(t, "[]")
		var name string
		switch {
		case strings.HasPrefix(t, ":"):
			name = t[1:]
		case len(t) >= 2 && (t[0] == '"' || t[0] == '\'') && t[len(t)-1] == t[0]:
			name = t[1 : len(t)-1]
		case bare:
			name = t
		}
		if name != "" && validGemName(name) {
			names = append(names, name)
		}
		if closes {
			bare = false
		}
	}
	return names
}

// cutUnquoted cuts s at the first sep outside a string literal.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
