// Package selfcmd recognises corral in the commands it is asked to run, and
// turns the command given after "corral start --" into the web type's.
//
// A Procfile's web line is often corral's own start command: on Heroku the
// Procfile is the only start command there is (web: corral start), and on
// the other platforms the start command is corral start too. corral must
// see itself there and not run the line again, and it must refuse a line
// that would start it inside itself any other way (worker: corral start).
// To see it, selfcmd reads a command the way sh reads one, as far as a
// command can be read without running anything: words, quotes, the
// operators between simple commands, and which parts of a word the shell
// would expand when it runs (Split). Find then looks for corral in each
// simple command, through the programs that run another (exec, env, npx…),
// and inside sh -c scripts; Render quotes the words corral got after
// "--" for the shell that runs each web instance.
package selfcmd

import "strings"

// Word is one word of a shell command: the text as written, and the parts
// the shell makes its value of.
type Word struct {
	Src   string // as written, quotes and all
	Parts []Part
}

// Part is a piece of a word: text the shell takes as it is (plain
// characters, quoted or escaped ones), or an expansion it makes only when
// it runs the command ($VAR, ${VAR:-x}, $(…), `…`, a glob, a tilde),
// kept as written.
type Part struct {
	Text   string
	Expand bool
}

// Literal returns the word's value and true when the shell takes every
// part of it as it is: nothing in it depends on the environment.
func (w Word) Literal() (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		if p.Expand {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// Expand returns the word's value, with the simple parameter expansions
// made ($NAME, ${NAME}, bare or in double quotes) from env, as the shell
// would make them; false when the word holds any other (a default, a
// command substitution, a glob), whose value corral will not guess.
func (w Word) Expand(env func(name string) string) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		text := p.Text
		if !p.Expand {
			b.WriteString(text)
			continue
		}
		quoted := len(text) >= 2 && text[0] == '"' && text[len(text)-1] == '"'
		if quoted {
			text = text[1 : len(text)-1]
		} else if text[0] != '$' {
			return "", false
		}
		for text != "" {
			switch c := text[0]; {
			case c == '\\' && quoted && len(text) > 1 && strings.IndexByte("$`\"\\", text[1]) >= 0:
				b.WriteByte(text[1])
				text = text[2:]
			case c == '`':
				return "", false
			case c == '$' && expansionLen(text) >= 2:
				n := expansionLen(text)
				name := text[1:n]
				if strings.HasPrefix(name, "{") {
					if !strings.HasSuffix(name, "}") {
						return "", false
					}
					name = name[1 : len(name)-1]
				}
				if name == "" || !isNameStart(name[0]) || strings.IndexFunc(name, func(r rune) bool { return r > 0x7f || !isNameChar(byte(r)) }) >= 0 {
					return "", false
				}
				b.WriteString(env(name))
				text = text[n:]
			default:
				b.WriteByte(c)
				text = text[1:]
			}
		}
	}
	return b.String(), true
}

// Simple is one simple command of a shell command line: its words, with
// the redirections left out, and how it ends.
type Simple struct {
	Words []Word
	// Op is the control operator that ends it: ";", "&&", "||", "|",
	// "&", "(", ")", or "" at the end of the line.
	Op string
	// Redirected says the command had a redirection (2>&1, > log).
	Redirected bool
}

// Split reads line as sh would, into its simple commands, without running
// or expanding anything. It never fails: an unterminated quote runs to the
// end of the line (sh would refuse to run it; corral's syntax check says
// so), and a comment ends the line.
func Split(line string) []Simple {
	s := &splitter{line: line}
	s.run()
	return s.cmds
}

// splitter is Split's state: the line, where it is in it, and the word
// and command being read.
type splitter struct {
	line string
	i    int
	cmds []Simple
	cur  Simple
	word *Word
	// redirect says the next word is a redirection's target, not one of
	// the command's words.
	redirect bool
}

func (s *splitter) run() {
	for s.i < len(s.line) {
		c := s.line[s.i]
		switch {
		case c == ' ' || c == '\t':
			s.endWord()
			s.i++
		case c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			if c == '&' && s.i+1 < len(s.line) && s.line[s.i+1] == '>' { // bash's &> file
				s.endWord()
				s.readRedirect()
				continue
			}
			s.endWord()
			s.readOp()
		case c == '<' || c == '>':
			s.fdNumber()
			s.readRedirect()
		case c == '#' && s.word == nil:
			s.i = len(s.line) // a comment, to the end of the line
		default:
			s.readWordPart()
		}
	}
	s.endWord()
	s.endCommand("")
}

// readOp reads a control operator and ends the command before it.
func (s *splitter) readOp() {
	op := s.line[s.i : s.i+1]
	if s.i+1 < len(s.line) {
		if two := s.line[s.i : s.i+2]; two == "&&" || two == "||" || two == ";;" {
			op = two
		}
	}
	s.i += len(op)
	if op == "\n" {
		op = ";"
	}
	s.endCommand(op)
}

// fdNumber drops the word just read if it is the file descriptor of the
// redirection that follows it with no space (2>&1).
func (s *splitter) fdNumber() {
	if s.word == nil {
		return
	}
	if v, ok := s.word.Literal(); ok && v != "" && strings.Trim(v, "0123456789") == "" && s.word.Src == v {
		s.word = nil
	}
	s.endWord()
}

// readRedirect reads a redirection operator (>, >>, 2>&1's >&, <<, &>…);
// its target is the next word, which is not the command's.
func (s *splitter) readRedirect() {
	s.cur.Redirected = true
	for s.i < len(s.line) && strings.IndexByte("<>&|-", s.line[s.i]) >= 0 {
		s.i++
	}
	s.redirect = true
}

// readWordPart reads the next part of a word: a quoted string, an
// expansion, an escaped character or a run of plain characters.
func (s *splitter) readWordPart() {
	if s.word == nil {
		s.word = &Word{}
	}
	start := s.i
	c := s.line[s.i]
	switch {
	case c == '\'':
		end := strings.IndexByte(s.line[s.i+1:], '\'')
		if end < 0 {
			end = len(s.line) - s.i - 1
		}
		s.add(s.line[s.i+1:s.i+1+end], false)
		s.i = min(s.i+end+2, len(s.line))
	case c == '"':
		s.readDouble()
	case c == '\\':
		if s.i+1 < len(s.line) {
			if s.line[s.i+1] != '\n' { // backslash-newline joins lines
				s.add(s.line[s.i+1:s.i+2], false)
			}
			s.i += 2
		} else {
			s.add("\\", false)
			s.i++
		}
	case c == '$':
		if n := expansionLen(s.line[s.i:]); n > 0 {
			s.add(s.line[s.i:s.i+n], true)
			s.i += n
		} else {
			s.add("$", false)
			s.i++
		}
	case c == '`':
		s.i += backquoteLen(s.line[s.i:])
		s.add(s.line[start:s.i], true)
	case c == '*' || c == '?' || c == '[' || c == '{' || c == '}' || (c == '~' && s.word.Src == ""):
		// Globs, bash's brace expansion, a tilde: the shell that runs
		// the command decides what they become.
		s.add(s.line[s.i:s.i+1], true)
		s.i++
	default:
		for s.i < len(s.line) && strings.IndexByte(" \t\n;&|()<>'\"\\$`*?[{}", s.line[s.i]) < 0 {
			s.i++
		}
		if s.i == start { // a character no case above takes: keep it, move on
			s.i++
		}
		s.add(s.line[start:s.i], false)
	}
	s.word.Src += s.line[start:s.i]
}

// readDouble reads a double-quoted string: literal text, unless it holds
// an expansion, when the whole string is kept as written, quotes and all,
// for the shell that runs it.
func (s *splitter) readDouble() {
	start := s.i
	var b strings.Builder
	expand := false
	s.i++
	for s.i < len(s.line) && s.line[s.i] != '"' {
		c := s.line[s.i]
		switch {
		case c == '\\' && s.i+1 < len(s.line) && strings.IndexByte("$`\"\\\n", s.line[s.i+1]) >= 0:
			if s.line[s.i+1] != '\n' {
				b.WriteByte(s.line[s.i+1])
			}
			s.i += 2
		case c == '$' && expansionLen(s.line[s.i:]) > 0:
			expand = true
			s.i += expansionLen(s.line[s.i:])
		case c == '`':
			expand = true
			s.i += backquoteLen(s.line[s.i:])
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	s.i = min(s.i+1, len(s.line))
	if expand {
		s.add(s.line[start:s.i], true)
	} else {
		s.add(b.String(), false)
	}
}

// add appends a part to the word being read, joining literal text to the
// literal part before it.
func (s *splitter) add(text string, expand bool) {
	w := s.word
	if n := len(w.Parts); n > 0 && !expand && !w.Parts[n-1].Expand {
		w.Parts[n-1].Text += text
		return
	}
	w.Parts = append(w.Parts, Part{Text: text, Expand: expand})
}

// endWord ends the word being read, if any: a redirection's target is
// dropped, anything else is the command's.
func (s *splitter) endWord() {
	if s.word == nil {
		return
	}
	if len(s.word.Parts) == 0 { // '' or "": an empty word
		s.word.Parts = []Part{{}}
	}
	if s.redirect {
		s.redirect = false
	} else {
		s.cur.Words = append(s.cur.Words, *s.word)
	}
	s.word = nil
}

// endCommand ends the simple command being read with op; an empty one
// (two operators in a row, the line's end after one) is not kept.
func (s *splitter) endCommand(op string) {
	s.redirect = false
	if len(s.cur.Words) > 0 {
		s.cur.Op = op
		s.cmds = append(s.cmds, s.cur)
	}
	s.cur = Simple{}
}

// expansionLen is the length of the expansion that starts s, which starts
// with '$': $NAME, $1, $?, ${…}, $(…), $((…)), $'…' or $"…"; 0 when
// the '$' is a plain character (before a space, a '/', the end).
func expansionLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch c := s[1]; {
	case c == '{':
		return 1 + closing(s[1:], '{', '}')
	case c == '(':
		return 1 + closing(s[1:], '(', ')')
	case c == '\'' || c == '"':
		end := strings.IndexByte(s[2:], c)
		if end < 0 {
			return len(s)
		}
		return end + 3
	case isNameStart(c):
		n := 2
		for n < len(s) && isNameChar(s[n]) {
			n++
		}
		return n
	case c >= '0' && c <= '9' || strings.IndexByte("@*#?$!-", c) >= 0:
		return 2
	}
	return 0
}

// closing is the length of s up to and including the close that matches
// its first byte, open; quotes inside are skipped, and an unmatched open
// runs to the end.
func closing(s string, open, close byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			if end := strings.IndexByte(s[i+1:], '\''); end >= 0 {
				i += end + 1
			} else {
				return len(s)
			}
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case open:
			depth++
		case close:
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// backquoteLen is the length of the `…` command substitution that starts
// s, up to the next backquote not escaped.
func backquoteLen(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '`':
			return i + 1
		}
	}
	return len(s)
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isNameChar(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }
