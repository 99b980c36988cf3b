package launcher

import (
	"fmt"
	"io"

	"github.com/corral-run/corral/launcher/sendfile"
)

// setInternal reads the --internal directories (specs), resolved against
// the app directory. A prefix a static mount has too is refused: the
// files there would be both public and internal.
func (p *Plan) setInternal(specs []string) error {
	for _, spec := range specs {
		m, err := sendfile.ParseMount(spec)
		if err != nil {
			return fmt.Errorf("--internal: %w", err)
		}
		m.Dir = resolve(p.Dir, m.Dir)
		for _, s := range p.Static {
			if s.Prefix == m.Prefix {
				return fmt.Errorf("--internal %s: %s is also where the edge serves the static files of %s to anyone: give the internal directory a prefix of its own, like /protected/", spec, m.Prefix, s.Dir)
			}
		}
		for _, o := range p.Internal {
			if o.Prefix == m.Prefix {
				return fmt.Errorf("--internal %s: prefix %s is already the internal directory %s", spec, m.Prefix, o.Dir)
			}
		}
		p.Internal = append(p.Internal, m)
	}
	return nil
}

// describeInternal is corral check's lines about the internal directories.
func (p *Plan) describeInternal(w io.Writer) {
	for _, m := range p.Internal {
		fmt.Fprintf(w, "internal: %s from %s (sent when the app answers X-Accel-Redirect: %s… or X-Sendfile: %s/…; a client's own request there gets 404)\n",
			m.Prefix, m.Dir, m.Prefix, m.Dir)
	}
}

// openInternal opens the internal directories for the edge. With none it
// still answers the app's X-Accel-Redirect and X-Sendfile, with a 500
// whose log names --internal, rather than pass the app's empty answer on.
func openInternal(plan *Plan) (*sendfile.Files, error) {
	files, err := sendfile.New(plan.Internal)
	if err != nil {
		return nil, fmt.Errorf("--internal: %w", err)
	}
	return files, nil
}
