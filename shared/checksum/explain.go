package checksum

import (
	"crypto/sha512"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// Reason says why a checksum was refused, where Explain could tell. Its values are the reason label of
// ingress's checksum failure metric, so the set is fixed.
type Reason string

// The reasons Explain finds. ReasonIncorrect is the answer when none of the others was found.
const (
	ReasonIncorrect     Reason = "incorrect"      // nothing explains it: wrong secret, or altered parameters
	ReasonClock         Reason = "clock_skew"     // right secret and text, a time outside the window
	ReasonRetiredSecret Reason = "retired_secret" // a secret this process accepted before a reload
	ReasonOtherCall     Reason = "other_call"     // right secret and text, another call's name
	ReasonSerialisation Reason = "serialisation"  // the parameters signed in another JSON text than the body's
	ReasonHexCase       Reason = "hex_case"       // right checksum, in uppercase hex
)

// Reasons lists every Reason, for a metric's label values.
func Reasons() []Reason {
	return []Reason{ReasonIncorrect, ReasonClock, ReasonRetiredSecret, ReasonOtherCall, ReasonSerialisation, ReasonHexCase}
}

// Limits of Explain's search, so that a refused request costs a bounded number of hashes (ExplainCost).
const (
	// ClockRange is how far from the server's clock Explain looks for the time a checksum was made at, in
	// seconds. A clock further off is not told apart from a wrong secret.
	ClockRange = 300
	// MaxCalls is how many other call names Explain tries; more are ignored.
	MaxCalls = 16
	// MaxRetired is how many retired secrets Explain tries; more are ignored.
	MaxRetired = 2
)

// Mismatch is a refused checksum whose cause Explain found. It matches ErrIncorrect (errors.Is), so that what
// maps ErrIncorrect maps it too; Hint is the advice for the client.
type Mismatch struct {
	Reason Reason
	// Skew is the client's clock minus the server's, in seconds (ReasonClock); Delta the window, ± seconds.
	Skew, Delta int64
	// Call is the call name the checksum was made for (ReasonOtherCall) and Want the one the server checked.
	Call, Want string
	// Form names the JSON text the checksum was made over (ReasonSerialisation).
	Form string
}

func (m *Mismatch) Error() string        { return "checksum was incorrect: " + m.Hint() }
func (m *Mismatch) Is(target error) bool { return target == ErrIncorrect }

// Hint says, in a sentence or two for the client, what was wrong and what to do.
func (m *Mismatch) Hint() string {
	switch m.Reason {
	case ReasonClock:
		dir := "ahead of"
		if m.Skew < 0 {
			dir = "behind"
		}
		return fmt.Sprintf("It is right for a time %d s %s the server's clock; the window is ±%d s: synchronise your clock (NTP).",
			abs(m.Skew), dir, m.Delta)
	case ReasonRetiredSecret:
		return "It was made with a shared secret this server no longer accepts: use the current one."
	case ReasonOtherCall:
		return fmt.Sprintf("It is right for the call name %q, not %q: sign the call's name (sendChatMessage, without the meeting id of the path).",
			m.Call, m.Want)
	case ReasonSerialisation:
		return fmt.Sprintf("It is right for the parameters written as %s, but the body is written otherwise: sign the exact text you send (without its checksum member), or Python's json.dumps(params).",
			m.Form)
	case ReasonHexCase:
		return "It is right but in uppercase hex: send the SHA-512 as lowercase hex."
	}
	return ""
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ExplainCost is the most SHA-512 candidates one Explain hashes for a window of ±delta seconds, with up to two
// accepted secrets: other call names and retired secrets within the window, each other serialisation within the
// window, the uppercase-hex reading, and the clock within ±ClockRange (current secret only).
func ExplainCost(delta int64) int {
	w := int(2*max(delta, 0) + 1)
	forms := 2
	return MaxCalls*forms*w + MaxRetired*forms*w + len(serialisations)*w + 2*forms*w + forms*max(0, 2*ClockRange+1-w)
}

// Explain says why Verify refused body's checksum for call, where it can tell: it returns a *Mismatch, or
// ErrIncorrect when nothing it tries matches (or anything else Verify would return).
//
// Every check it makes needs the secret to pass: a checksum made without it matches nothing here, so Explain tells
// a caller nothing about the secret. Its work is bounded by ExplainCost: it tries calls (other call names, at most
// MaxCalls) and the Verifier's Retired secrets (at most MaxRetired) within the window, a few other JSON
// serialisations of the parameters (compact, unescaped, sorted, PHP's) with the current secret, the checksum read
// as uppercase hex, and times within ±ClockRange seconds with the current secret. It is meant for refused requests
// only, and its caller should bound how often it runs.
func (v Verifier) Explain(call string, body []byte, calls []string) error {
	return v.explain(&scratch{h: sha512.New()}, call, body, calls)
}

func (v Verifier) explain(sc *scratch, call string, body []byte, calls []string) error {
	doc, err := pyjson.ParseDocument(body)
	if err != nil || doc.Value.Kind() != pyjson.KindObject {
		return ErrIncorrect
	}
	cv, ok := doc.Value.Lookup(Key)
	if !ok {
		return ErrMissing
	}
	sum, ok := cv.Str()
	if !ok {
		return ErrIncorrect
	}
	var want [sha512.Size]byte
	upper := false
	if !decodeLowerHex(want[:], sum) {
		if !decodeAnyHex(want[:], sum) {
			return ErrIncorrect
		}
		upper = true
	}
	params := doc.Value.Without(Key)
	forms := [][]byte{pyjson.Dumps(params)}
	if cut, ok := doc.Cut(Key); ok && string(cut) != string(forms[0]) {
		forms = append(forms, cut)
	}
	var secrets []string
	for _, s := range v.Secrets {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) == 0 {
		return ErrIncorrect
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().Unix()
	delta := max(v.Delta, 0)
	lo, hi := t-delta, t+delta
	mismatch := func(r Reason) *Mismatch { return &Mismatch{Reason: r, Delta: delta, Want: call} }

	if upper {
		for _, s := range secrets[:min(len(secrets), 2)] {
			for _, f := range forms {
				if sc.try(call, f, s, lo, hi, &want) == 1 {
					return mismatch(ReasonHexCase)
				}
			}
		}
		return ErrIncorrect
	}
	n := 0
	for _, c := range calls {
		if c == call || n == MaxCalls {
			continue
		}
		n++
		for _, f := range forms {
			if sc.try(c, f, secrets[0], lo, hi, &want) == 1 {
				m := mismatch(ReasonOtherCall)
				m.Call = c
				return m
			}
		}
	}
	for _, s := range v.Retired[:min(len(v.Retired), MaxRetired)] {
		if s == "" || slices.Contains(secrets, s) {
			continue
		}
		for _, f := range forms {
			if sc.try(call, f, s, lo, hi, &want) == 1 {
				return mismatch(ReasonRetiredSecret)
			}
		}
	}
	for _, form := range serialisations {
		text := form.write(nil, params)
		if slices.ContainsFunc(forms, func(f []byte) bool { return string(f) == string(text) }) {
			continue
		}
		if sc.try(call, text, secrets[0], lo, hi, &want) == 1 {
			m := mismatch(ReasonSerialisation)
			m.Form = form.name
			return m
		}
	}
	for _, f := range forms {
		ts, found := sc.find(call, f, secrets[0], t-ClockRange, lo-1, &want)
		if !found {
			ts, found = sc.find(call, f, secrets[0], hi+1, t+ClockRange, &want)
		}
		if found {
			m := mismatch(ReasonClock)
			m.Skew = ts - t
			return m
		}
	}
	return ErrIncorrect
}

// decodeAnyHex decodes s, exactly 2*len(dst) hex digits of either case, into dst.
func decodeAnyHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	lower := make([]byte, len(s))
	for i := range len(s) {
		c := s[i]
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return decodeLowerHex(dst, string(lower))
}

// serialisation is a JSON text a client library makes of the parameters, other than Python's json.dumps.
type serialisation struct {
	name string
	// compact: "," and ":" without spaces; ascii: non-ASCII as \uXXXX; slash: "/" as "\/" (PHP); html: <, > and &
	// as \u003c… (Go's encoding/json); sorted: object keys sorted (Go's maps, Python's sort_keys).
	compact, ascii, slash, html, sorted bool
}

// serialisations are the texts Explain tries: what JavaScript's JSON.stringify, PHP's json_encode, Python with
// separators=(",", ":") or sort_keys=True, and Go's encoding/json of a map write.
var serialisations = []serialisation{
	{name: "compact JSON with non-ASCII as \\u escapes (Python's separators=(\",\", \":\"))", compact: true, ascii: true},
	{name: "compact JSON with non-ASCII as is (JavaScript's JSON.stringify)", compact: true},
	{name: "PHP's json_encode (compact, \"/\" as \"\\/\")", compact: true, ascii: true, slash: true},
	{name: "JSON with sorted keys (Python's sort_keys=True)", ascii: true, sorted: true},
	{name: "Go's encoding/json of a map (compact, sorted keys, <>& escaped)", compact: true, html: true, sorted: true},
}

// write appends v in s's style.
func (s serialisation) write(dst []byte, v pyjson.Value) []byte {
	switch v.Kind() {
	case pyjson.KindObject:
		ms := v.Members()
		if s.sorted {
			ms = slices.Clone(ms)
			slices.SortStableFunc(ms, func(a, b pyjson.Member) int { return compareStrings(a.Key, b.Key) })
		}
		dst = append(dst, '{')
		for i, m := range ms {
			if i > 0 {
				dst = s.sep(dst, ',')
			}
			dst = s.str(dst, m.Key)
			dst = s.sep(dst, ':')
			dst = s.write(dst, m.Value)
		}
		return append(dst, '}')
	case pyjson.KindArray:
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = s.sep(dst, ',')
			}
			e, _ := v.Index(i)
			dst = s.write(dst, e)
		}
		return append(dst, ']')
	case pyjson.KindString:
		str, _ := v.RawStr()
		return s.str(dst, str)
	}
	return pyjson.AppendDumps(dst, v)
}

func (s serialisation) sep(dst []byte, c byte) []byte {
	dst = append(dst, c)
	if !s.compact {
		dst = append(dst, ' ')
	}
	return dst
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// str writes a string: pyjson's escapes for ASCII, then s's choices for "/", <>& and non-ASCII.
func (s serialisation) str(dst []byte, str string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(str); {
		c := str[i]
		switch {
		case c == '/' && s.slash:
			dst = append(dst, '\\', '/')
		case (c == '<' || c == '>' || c == '&') && s.html:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(str[i:])
			switch {
			case r == utf8.RuneError && n <= 1:
				// A lone surrogate (generalised UTF-8) or a byte pyjson would not make: let pyjson escape the rest.
				q := pyjson.Dumps(pyjson.String(str[i:]))
				dst = append(dst, q[1:len(q)-1]...)
				return append(dst, '"')
			case s.html && (r == '\u2028' || r == '\u2029'):
				dst = fmt.Appendf(dst, `\u%04x`, r)
			case !s.ascii:
				dst = append(dst, str[i:i+n]...)
			case r > 0xffff:
				r -= 0x10000
				dst = fmt.Appendf(dst, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			default:
				dst = fmt.Appendf(dst, `\u%04x`, r)
			}
			i += n
			continue
		default:
			q := pyjson.Dumps(pyjson.String(str[i : i+1]))
			dst = append(dst, q[1:len(q)-1]...)
		}
		i++
	}
	return append(dst, '"')
}
