package buildpack

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetectRuby(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		want  []string
		notes []string
	}{
		{"rails-app", []string{
			"kind rails", "title Ruby (Rails)",
			"evidence config.ru", "evidence config/application.rb",
			"release: bundle exec rails db:migrate (db/migrate)",
			"web: bundle exec puma -C config/puma.rb (config/puma.rb)",
			"worker: bundle exec sidekiq (Gemfile:10)",
			"build: bundle install ->  (Gemfile)",
			"build: bundle exec rails assets:precompile -> public/assets (app/assets)",
			"static: / public fallthrough=true index=false (public)",
		}, []string{`Gemfile:3: ruby "3.3.1"`}},
		{"rack-sinatra", []string{
			"kind rack", "title Ruby (Sinatra)",
			"evidence config.ru", "evidence Gemfile:3",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"build: bundle install ->  (Gemfile)",
		}, []string{"puma is not declared"}}, // only in the test group
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if got := planOutcome(p); !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkNotes(t, p.Notes, tc.notes)
		})
	}
}

func TestDetectRubyGemfileOnly(t *testing.T) {
	// A Gemfile alone is a gem's or a script's, not a web app.
	p, err := Detect(filepath.Join("testdata", "ruby-gemfile-only"))
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Detect = %v, %v; want a NotFoundError", p, err)
	}
	if !strings.Contains(err.Error(), "config.ru (Rails, Rack)") {
		t.Errorf("error does not say config.ru was looked for:\n%v", err)
	}
}

func TestDetectRubyCases(t *testing.T) {
	const ru = "run ->(env) { [200, {}, ['ok']] }\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
		notes []string
	}{
		{"config.ru alone", map[string]string{"config.ru": ru}, []string{
			"kind rack", "title Ruby (Rack)", "evidence config.ru",
			"web: rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
		}, []string{"there is no Gemfile", "puma is not declared"}},
		{"rails by its gem", map[string]string{"config.ru": ru, "Gemfile": "source 'https://rubygems.org'\ngem 'rails', '~> 8.0'\ngem 'puma'\ngem 'solid_queue'\n", "app/javascript/application.js": "", "public/404.html": "", "db/migrate/.keep": ""}, []string{
			"kind rails", "title Ruby (Rails)", "evidence config.ru", "evidence Gemfile:2",
			"release: bundle exec rails db:migrate (db/migrate)",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"worker: bundle exec rake solid_queue:start (Gemfile:4)",
			"build: bundle install ->  (Gemfile)",
			"build: bundle exec rails assets:precompile -> public/assets (app/javascript)",
			"static: / public fallthrough=true index=false (public)",
		}, nil},
		{"rails in the test group only is rack", map[string]string{"config.ru": ru, "Gemfile": "gem 'sinatra'\ngem 'puma'\ngroup :test do\n  gem 'rails'\nend\n", "public/x.css": ""}, []string{
			"kind rack", "title Ruby (Sinatra)", "evidence config.ru", "evidence Gemfile:1",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"build: bundle install ->  (Gemfile)",
		}, nil},
		{"sinatra inside rails is rails", map[string]string{"config.ru": ru, "config/application.rb": "", "Gemfile": "gem 'rails'\ngem 'sinatra'\ngem 'puma'\n"}, []string{
			"kind rails", "title Ruby (Rails)", "evidence config.ru", "evidence config/application.rb",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"build: bundle install ->  (Gemfile)",
		}, nil},
		{"two job backends", map[string]string{"config.ru": ru, "config/application.rb": "", "config/puma.rb": "", "Gemfile": "gem 'rails'\ngem 'good_job'\ngem 'sidekiq'\n"}, []string{
			"kind rails", "title Ruby (Rails)", "evidence config.ru", "evidence config/application.rb",
			"web: bundle exec puma -C config/puma.rb (config/puma.rb)",
			"worker: bundle exec sidekiq (Gemfile:3)",
			"build: bundle install ->  (Gemfile)",
		}, []string{"Gemfile:2: good_job is declared too, but the worker runs sidekiq only"}},
		{"sidekiq outside rails", map[string]string{"config.ru": ru, "Gemfile": "gem 'sinatra'\ngem 'puma'\ngem 'sidekiq'\n"}, []string{
			"kind rack", "title Ruby (Sinatra)", "evidence config.ru", "evidence Gemfile:1",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"build: bundle install ->  (Gemfile)",
		}, []string{"Gemfile:3: sidekiq is declared, but corral runs its worker only for a Rails app"}},
		{"config.ru a directory", map[string]string{"config.ru/x": ""}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := detectRuby(tempApp(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if p != nil {
					t.Errorf("plan %v, want none", planOutcome(p))
				}
				return
			}
			if got := planOutcome(p); !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkNotes(t, p.Notes, tc.notes)
		})
	}
}

func TestDetectRubyGemfileTooBig(t *testing.T) {
	a := tempApp(t, map[string]string{"config.ru": "run App\n", "Gemfile": strings.Repeat("# x\n", maxFileSize/4+1)})
	p, err := detectRuby(a)
	if err == nil || !strings.HasPrefix(err.Error(), "buildpack: Gemfile: ") {
		t.Errorf("detectRuby = %v, %v; want an error naming the Gemfile", p, err)
	}
}

// gemsOf renders a Gemfile's declarations as "name:line" with the groups
// after a slash, and the ruby version last.
func gemsOf(g gemfile) []string {
	var out []string
	for _, d := range g.gems {
		s := fmt.Sprintf("%s:%d", d.name, d.line)
		if len(d.groups) > 0 {
			s += "/" + strings.Join(d.groups, ",")
		}
		out = append(out, s)
	}
	if g.ruby != "" {
		out = append(out, fmt.Sprintf("ruby %s:%d", g.ruby, g.rubyLine))
	}
	return out
}

func TestParseGemfile(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"plain", "source \"https://rubygems.org\"\ngem \"rails\"\ngem 'pg', '~> 1.1'\n", []string{"rails:2", "pg:3"}},
		{"options", "gem 'bootsnap', require: false\ngem \"rails\", github: \"rails/rails\", branch: \"main\"", []string{"bootsnap:1", "rails:2"}},
		{"parentheses", "gem('puma', '>= 5')\ngem(\"x\")", []string{"puma:1", "x:2"}},
		{"ruby", "ruby '3.3.0'\nruby \"3.4\"\nruby file: '.ruby-version'", []string{"ruby 3.3.0:1"}},
		{"comments", "# gem 'commented'\ngem 'a' # gem 'b'\n  # gem 'c'\ngem 'd#e'", []string{"a:2"}},
		{"hash in a string", "gem 'x', git: \"https://example.com/#frag\"\ngem 'y'", []string{"x:1", "y:2"}},
		{"group block", "group :development, :test do\n  gem 'debug'\nend\ngem 'after'", []string{"debug:2/development,test", "after:4"}},
		{"group with parentheses", "group(:test) do\n  gem 'rspec'\nend", []string{"rspec:2/test"}},
		{"group block params", "group :test do |g|\n  gem 'rspec'\nend", []string{"rspec:2/test"}},
		{"group strings", "group 'development' do\ngem 'x'\nend", []string{"x:2/development"}},
		{"group option", "group :test, optional: true do\ngem 'x'\nend", []string{"x:2/test"}},
		{"nested blocks", "group :development do\n  platforms :mri do\n    gem 'byebug'\n  end\n  gem 'listen'\nend\ngem 'rails'", []string{"byebug:3/development", "listen:5/development", "rails:7"}},
		{"if block", "group :test do\n  if ENV['CI']\n    gem 'a'\n  end\n  gem 'b'\nend\ngem 'c'", []string{"a:3/test", "b:5/test", "c:7"}},
		{"modifier if", "group :test do\n  gem 'a' if ENV['CI']\n  gem 'b'\nend\ngem 'c'", []string{"a:2/test", "b:3/test", "c:5"}},
		{"source block", "source 'https://gems.example.com' do\n  gem 'private'\nend\ngem 'public'", []string{"private:2", "public:4"}},
		{"inline group", "gem 'rspec', group: :test\ngem 'x', groups: [:development, :test], require: false\ngem 'y', :group => :test\ngem 'z', group: %i[development test]", []string{"rspec:1/test", "x:2/development,test", "y:3/test", "z:4/development,test"}},
		{"inline group in a block", "group :development do\n  gem 'x', group: :production\nend", []string{"x:2/development,production"}},
		{"continued line", "gem 'rspec',\n  require: false,\n  group: :test\ngem 'next'", []string{"rspec:1/test", "next:4"}},
		{"continued after a parenthesis", "gem(\n  'x'\n)", []string{"x:1"}},
		{"semicolons", "gem 'a'; gem 'b'\nsource 'x',\n  'y'; gem 'c'", []string{"a:1", "b:1", "c:3"}},
		{"=begin", "=begin\ngem 'no'\n=end\ngem 'yes'", []string{"yes:4"}},
		{"CRLF", "gem 'a'\r\ngroup :test do\r\n  gem 'b'\r\nend\r\ngem 'c'\r\n", []string{"a:1", "b:3/test", "c:5"}},
		{"one-line if", "group :test do\n  if ENV['X'] then gem 'a' end\n  gem 'b'\nend\ngem 'c'", []string{"b:3/test", "c:5"}},
		{"each do", "%w[a b].each do |name|\n  gem name\nend\ngem 'c'", []string{"c:4"}},
		{"stray end", "end\nend\ngem 'a'", []string{"a:3"}},
		{"unclosed group", "group :test do\ngem 'a'", []string{"a:2/test"}},
		{"interpolated name", "gem \"rails-#{x}\"\ngem 'ok'", []string{"ok:2"}},
		{"not a gem call", "gemspec\ngems = 1\ngem\ngem :sym\ngem 'unclosed", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gemsOf(parseGemfile(tc.src)); !slices.Equal(got, tc.want) {
				t.Errorf("parseGemfile(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestParseGemfileBig(t *testing.T) {
	// One statement of a megabyte, continued over every line: lines are
	// still right, and the time is linear (a quadratic join takes minutes).
	n := maxFileSize / 10
	src := strings.Repeat("gem 'a'; \\\n", n) + "gem 'last'\n"
	gems := parseGemfile(src).gems
	if len(gems) != n+1 {
		t.Fatalf("%d gems, want %d", len(gems), n+1)
	}
	for i, g := range gems {
		if g.line != i+1 {
			t.Fatalf("gem %d %q on line %d", i, g.name, g.line)
		}
	}
	// Group blocks nested deeper than any Gemfile, each a new name.
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "group :g%d do\n", i)
	}
	b.WriteString("gem 'deep'\n")
	g := parseGemfile(b.String())
	if len(g.gems) != 1 || len(g.gems[0].groups) != maxGroups || !g.gems[0].runtimeGroup() {
		t.Errorf("got %+v", g.gems)
	}
}

func TestGemRuntime(t *testing.T) {
	for _, tc := range []struct {
		groups  []string
		runtime bool
	}{
		{nil, true},
		{[]string{"default"}, true},
		{[]string{"production"}, true},
		{[]string{"development"}, false},
		{[]string{"test"}, false},
		{[]string{"development", "test"}, false},
		{[]string{"development", "production"}, true},
	} {
		if got := (gemDecl{name: "x", groups: tc.groups}).runtimeGroup(); got != tc.runtime {
			t.Errorf("groups %q: runtime = %v, want %v", tc.groups, got, tc.runtime)
		}
	}
}

func FuzzGemfile(f *testing.F) {
	for _, dir := range []string{"rails-app", "rack-sinatra", "ruby-gemfile-only", "rails-jsbundling"} {
		a, err := openAppFiles(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		src, err := a.read("Gemfile")
		a.Close()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"", "gem 'a'; gem \"b\"", "group :test do |g|\n gem 'x', group: %i[a b]\nend\nend",
		"gem(\n'x',\n:group => [:test])", "=begin\ngem 'x'\n=end\ngem 'y' # z", "if x then gem 'a' end\ngem 'b',\\\n  require: false",
		"gem 'a\\'b'\ngem \"#{x}\"", "source 'x' do\r\ngem 'y'\r\nend\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		g := parseGemfile(src)
		lines := strings.Split(src, "\n")
		for _, d := range g.gems {
			if d.line < 1 || d.line > len(lines) {
				t.Fatalf("gem %q on line %d of %d", d.name, d.line, len(lines))
			}
			if !strings.Contains(lines[d.line-1], "gem") {
				t.Fatalf("gem %q on line %d, which has no gem call: %q", d.name, d.line, lines[d.line-1])
			}
			if !validGemName(d.name) || !strings.Contains(strings.Join(lines[d.line-1:], "\n"), d.name) {
				t.Fatalf("gem %q is not in the source from line %d on", d.name, d.line)
			}
		}
		if g.ruby != "" && (g.rubyLine < 1 || g.rubyLine > len(lines) || !strings.Contains(lines[g.rubyLine-1], "ruby")) {
			t.Fatalf("ruby %q on line %d", g.ruby, g.rubyLine)
		}
		want := gemsOf(g)
		// A comment at the end changes nothing.
		if got := gemsOf(parseGemfile(src + "\n# gem 'x'")); !slices.Equal(got, want) {
			t.Fatalf("a trailing comment changed %q to %q", want, got)
		}
		// A source that is all comments declares nothing.
		commented := "#" + strings.ReplaceAll(src, "\n", "\n#")
		if got := gemsOf(parseGemfile(commented)); got != nil {
			t.Fatalf("all comments, yet %q", got)
		}
	})
}
