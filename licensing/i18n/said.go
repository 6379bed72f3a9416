package i18n

import "slices"

// Said is an error whose words are a catalog message, so that whoever
// shows it to a person writes it in that person's language (In), while
// Error stays English for logs. The packages below the command line
// (wiring's configuration, the CLI) return it; cli.Words writes it.
type Said struct {
	Key string
	// Args are the placeholders' values as name, value pairs; a value that
	// is a Phrase (another Said, a list of alternatives) is written in the
	// reader's language too.
	Args []any
}

// Say is the error of catalog message key with its placeholders' values
// as name, value pairs (as Printer.T). An error among the values is its
// cause too (errors.Is and errors.As find it, as with %w).
func Say(key string, args ...any) error { return &Said{Key: key, Args: args} }

// Phrase is a value written in a reader's language.
type Phrase interface {
	In(p *Printer) string
}

// Error is s in English.
func (s *Said) Error() string { return s.In(For(English, "")) }

// In is s in p's language.
func (s *Said) In(p *Printer) string {
	args := slices.Clone(s.Args)
	for i, a := range args {
		if ph, ok := a.(Phrase); ok {
			args[i] = ph.In(p)
		}
	}
	return p.T(s.Key, args...)
}

// Unwrap is the errors among s's values.
func (s *Said) Unwrap() []error {
	var errs []error
	for i := 1; i < len(s.Args); i += 2 {
		if err, ok := s.Args[i].(error); ok {
			errs = append(errs, err)
		}
	}
	return errs
}

// Or is a value of alternatives: "-a or -b", "-a ou -b".
type Or []string

// In joins the alternatives with the language's "or" (catalog key cli.or).
func (o Or) In(p *Printer) string {
	out := ""
	for i, s := range o {
		switch {
		case i == 0:
		case i == len(o)-1:
			out += " " + p.T("cli.or") + " "
		default:
			out += ", "
		}
		out += s
	}
	return out
}
