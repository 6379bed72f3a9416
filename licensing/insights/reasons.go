package insights

import (
	"strconv"
	"strings"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// A reason's Text is English, built when it is scored and stored with the
// score (logs, the API, events and old rows read it). Key and Args say the
// same sentence as a catalog message ("insights.reason.*") and its named
// values, so a page writes it in its reader's language (In) from the
// stored row, with no need to score again.

// Arg is one named value of a reason's message: a number (Num, written
// with Digits decimals in the reader's format), a count of a unit (Msg, a
// plural catalog message such as "insights.unit.seats", said for Num), or
// words said as they are (Word: a hostname, a machine id).
type Arg struct {
	Name   string   `json:"name"`
	Num    *float64 `json:"num,omitempty"`
	Digits int      `json:"digits,omitempty"`
	Msg    string   `json:"msg,omitempty"`
	Word   string   `json:"word,omitempty"`
}

func numArg(name string, v float64, digits int) Arg {
	return Arg{Name: name, Num: &v, Digits: digits}
}

func intArg(name string, n int) Arg { return numArg(name, float64(n), 0) }

func wordArg(name, w string) Arg { return Arg{Name: name, Word: w} }

// unitArg is n of a unit, its words from the plural message key.
func unitArg(name, key string, n int) Arg {
	v := float64(n)
	return Arg{Name: name, Num: &v, Msg: key}
}

// msgArg is a part of a sentence that is a message of its own, without a
// count ("a payment is unpaid").
func msgArg(name, key string) Arg { return Arg{Name: name, Msg: key} }

// reason is a Reason with its message; text is the English sentence.
func reason(text, feature string, value float64, key string, args ...Arg) Reason {
	return Reason{Text: text, Feature: feature, Value: value, Key: key, Args: args}
}

// In is the reason in p's language: its message with its values in p's
// number format, or its Text when it has no message (rows stored before
// reasons had one). A message with an arg "n" is plural on it.
func (r Reason) In(p *i18n.Printer) string {
	if r.Key == "" {
		return r.Text
	}
	n, hasN := 0, false
	args := make([]any, 0, 2*len(r.Args))
	for _, a := range r.Args {
		if a.Name == "n" && a.Num != nil && a.Msg == "" {
			n, hasN = int(*a.Num), true
			continue
		}
		args = append(args, a.Name, a.in(p))
	}
	if hasN {
		return p.N(r.Key, n, args...)
	}
	return p.T(r.Key, args...)
}

func (a Arg) in(p *i18n.Printer) string {
	switch {
	case a.Msg != "" && a.Num != nil:
		return p.N(a.Msg, int(*a.Num))
	case a.Msg != "":
		return p.T(a.Msg)
	case a.Num != nil:
		return decimalIn(p, *a.Num, a.Digits)
	}
	return a.Word
}

// decimalIn writes v with digits decimals as fmt's %.*f rounds it (the
// English Text's figures), in p's separators.
func decimalIn(p *i18n.Printer, v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	neg := strings.HasPrefix(s, "-")
	minor, err := strconv.ParseInt(strings.Replace(strings.TrimPrefix(s, "-"), ".", "", 1), 10, 64)
	if err != nil {
		return s
	}
	if neg && minor != 0 {
		minor = -minor
	}
	out := p.Decimal(minor, digits)
	if neg && minor == 0 {
		out = "-" + out
	}
	return out
}
