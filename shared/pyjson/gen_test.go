package pyjson

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// docGen writes random JSON documents that stress the places where Python
// and Go disagree: string escapes and code points, number forms, duplicate
// keys, whitespace, and (after mutation) invalid input.
type docGen struct {
	r *rand.Rand
	b []byte
}

// stringPieces are concatenated into strings; they are JSON source text.
var stringPieces = []string{
	"a", "Bob", "hi", " ", "/", "<", ">", "&", "'", `\"`, `\\`, `\/`, `\n`, `\t`, `\b`, `\f`, `\r`,
	`\u0000`, `\u001f`, `\u007f`, "\x7f", "é", `\u00e9`, "€", `\u20ac`, "\u2028", `\u2028`, "😀",
	`\ud83d\ude00`, `\uD83D\uDE00`, `\ud800`, `\udc00`, `\uDBFF`, `\udfff`, "\u00a0", "\ufeff", `\ufeff`,
	"\xed\xa0\x80", "\xed\xb8\x80", "\U0010ffff", `\u0041`, "checksum", "你好",
}

var keyPool = []string{"a", "b", "checksum", `\u0061`, "é", `\u00e9`, "", "😀", `\ud83d\ude00`, `\ud800`, "k"}

var nastyBytes = []byte{'"', '\\', ',', ':', '[', ']', '{', '}', '0', '-', '.', 'e', ' ', '\n', 0, 0x01, 0x7f, 0x80, 0xc3, 0xed, 0xff, 'u', 'N', 'I'}

func (g *docGen) doc() []byte {
	g.b = g.b[:0]
	if g.r.IntN(20) == 0 {
		g.b = append(g.b, "\xef\xbb\xbf"...)
	}
	g.ws()
	if g.r.IntN(4) == 0 {
		g.value(3)
	} else {
		g.object(3)
	}
	g.ws()
	if g.r.IntN(5) == 0 {
		g.mutate()
	}
	return g.b
}

func (g *docGen) ws() {
	for g.r.IntN(4) == 0 {
		g.b = append(g.b, " \t\n\r"[g.r.IntN(4)])
	}
}

func (g *docGen) mutate() {
	for range 1 + g.r.IntN(2) {
		if len(g.b) == 0 {
			return
		}
		i := g.r.IntN(len(g.b))
		switch g.r.IntN(4) {
		case 0: // delete
			g.b = append(g.b[:i], g.b[i+1:]...)
		case 1: // insert
			g.b = append(g.b[:i], append([]byte{nastyBytes[g.r.IntN(len(nastyBytes))]}, g.b[i:]...)...)
		case 2: // replace
			g.b[i] = nastyBytes[g.r.IntN(len(nastyBytes))]
		case 3: // truncate
			g.b = g.b[:i]
		}
	}
}

func (g *docGen) value(depth int) {
	n := 9
	if depth <= 0 {
		n = 7
	}
	switch g.r.IntN(n) {
	case 0:
		g.str()
	case 1, 2:
		g.number()
	case 3:
		g.b = append(g.b, []string{"true", "false", "null"}[g.r.IntN(3)]...)
	case 4:
		g.b = append(g.b, []string{"NaN", "Infinity", "-Infinity"}[g.r.IntN(3)]...)
	case 5, 6:
		g.str()
	case 7:
		g.array(depth - 1)
	case 8:
		g.object(depth - 1)
	}
}

func (g *docGen) str() {
	g.b = append(g.b, '"')
	for range g.r.IntN(6) {
		g.b = append(g.b, stringPieces[g.r.IntN(len(stringPieces))]...)
	}
	g.b = append(g.b, '"')
}

func (g *docGen) number() {
	r := g.r
	switch r.IntN(8) {
	case 0:
		g.b = strconv.AppendInt(g.b, r.Int64N(2000)-1000, 10)
	case 1:
		g.b = append(g.b, []string{"0", "-0", "-0.0", "0.0", "1E400", "-1e400", "1e-400", "-1e-400", "1e16", "1e-5", "0.1", "1e22", "5e-324"}[r.IntN(13)]...)
	case 2: // big int
		if r.IntN(2) == 0 {
			g.b = append(g.b, '-')
		}
		g.b = append(g.b, byte('1'+r.IntN(9)))
		for range r.IntN(60) {
			g.b = append(g.b, byte('0'+r.IntN(10)))
		}
	case 3, 4: // random float bits
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 1.5
		}
		fmtc := []byte{'g', 'e', 'E', 'f'}[r.IntN(4)]
		prec := -1
		if fmtc == 'f' && math.Abs(f) > 1e30 {
			fmtc = 'e'
		}
		if r.IntN(3) == 0 {
			prec = r.IntN(25)
		}
		s := strconv.FormatFloat(f, fmtc, prec, 64)
		s = strings.Replace(s, "e+0", "e+", 1) // also exercise short exponents
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		g.b = append(g.b, s...)
	case 5: // decimal with random digits and exponent
		if r.IntN(2) == 0 {
			g.b = append(g.b, '-')
		}
		g.b = strconv.AppendInt(g.b, r.Int64N(1000), 10)
		if r.IntN(2) == 0 {
			g.b = append(g.b, '.')
			for range 1 + r.IntN(20) {
				g.b = append(g.b, byte('0'+r.IntN(10)))
			}
		}
		g.b = append(g.b, "eE"[r.IntN(2)])
		g.b = append(g.b, []string{"", "+", "-"}[r.IntN(3)]...)
		g.b = strconv.AppendInt(g.b, r.Int64N(340), 10)
	default: // power-of-ten boundaries of the repr switch
		e := r.IntN(40) - 20
		g.b = append(g.b, []string{"1", "9.999", "1.5", "123456789"}[r.IntN(4)]...)
		g.b = append(g.b, 'e')
		g.b = strconv.AppendInt(g.b, int64(e), 10)
	}
}

func (g *docGen) array(depth int) {
	g.b = append(g.b, '[')
	g.ws()
	for i := range g.r.IntN(4) {
		if i > 0 {
			g.b = append(g.b, ',')
			g.ws()
		}
		g.value(depth)
		g.ws()
	}
	g.b = append(g.b, ']')
}

func (g *docGen) object(depth int) {
	g.b = append(g.b, '{')
	g.ws()
	for i := range g.r.IntN(6) {
		if i > 0 {
			g.b = append(g.b, ',')
			g.ws()
		}
		g.b = append(g.b, '"')
		g.b = append(g.b, keyPool[g.r.IntN(len(keyPool))]...)
		g.b = append(g.b, '"')
		g.ws()
		g.b = append(g.b, ':')
		g.ws()
		g.value(depth)
		g.ws()
	}
	g.b = append(g.b, '}')
}
