package checksum

import (
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// The messages are the API's error texts, as the original server sent them.
var (
	//lint:ignore ST1005 the text is part of the API
	ErrMissing = errors.New("No checksum was given.")
	//lint:ignore ST1005 the text is part of the API
	ErrIncorrect = errors.New("Checksum was incorrect.")
)

// Key is the name of the body member that carries the checksum.
const Key = "checksum"

// Sign returns the original checksum, sha512_hex(call + canonicalParams +
// secret + str(unix)), in lowercase hex.
func Sign(call string, canonicalParams []byte, secret string, unix int64) string {
	msg := make([]byte, 0, len(call)+len(canonicalParams)+len(secret)+20)
	msg = append(msg, call...)
	msg = append(msg, canonicalParams...)
	msg = append(msg, secret...)
	msg = strconv.AppendInt(msg, unix, 10)
	sum := sha512.Sum512(msg)
	return hex.EncodeToString(sum[:])
}

// SignCallback returns the checksum for params built in Go:
// Sign(call, pyjson.Dumps(params), secret, unix).
func SignCallback(call string, params pyjson.Value, secret string, unix int64) string {
	return Sign(call, pyjson.Dumps(params), secret, unix)
}

// SignedBody returns the body a client of the original API sends (the
// README's Python snippet): json.dumps of params with "checksum" added as
// the last member, signed with SignCallback. params must be an object; any
// "checksum" member it has is replaced.
func SignedBody(call string, params pyjson.Value, secret string, unix int64) []byte {
	params = params.Without(Key)
	sum := SignCallback(call, params, secret, unix)
	ms := make([]pyjson.Member, 0, params.Len()+1)
	ms = append(ms, params.Members()...)
	ms = append(ms, pyjson.Member{Key: Key, Value: pyjson.String(sum)})
	return pyjson.Dumps(pyjson.Object(ms...))
}

// Verifier checks checksums of incoming requests.
type Verifier struct {
	// Secrets are the accepted shared secrets; during a rotation, the old
	// and the new one. Empty strings are ignored, and a Verifier without a
	// non-empty secret accepts nothing.
	Secrets []string
	// Delta is the accepted clock skew in whole seconds: timestamps from
	// now-Delta to now+Delta (inclusive) are tried, 2*Delta+1 in all, for
	// each secret and text. Negative means 0. A verification costs about
	// (2*Delta+1) × secrets × texts SHA-512 blocks, so keep it small (the
	// original used 5).
	Delta int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Retired are secrets accepted before a reload replaced them. Verify never accepts them; Explain names them
	// as the reason a checksum fails, so a client still on an old secret learns it.
	Retired []string
}

// Verify checks the checksum of body, the raw bytes of a request for call.
// It returns the parsed params (the body's object without "checksum"), so
// that the handler does not parse twice, and the checksum as sent, for
// replay detection.
//
// Errors: a body that is not JSON matches pyjson.ErrSyntax, one that is not
// an object pyjson.ErrNotObject; a missing checksum is ErrMissing; a
// checksum that is not a string, or matches no secret, text and second, is
// ErrIncorrect.
func (v Verifier) Verify(call string, body []byte) (params pyjson.Value, sum string, err error) {
	doc, err := pyjson.ParseDocument(body)
	if err != nil {
		return pyjson.Value{}, "", fmt.Errorf("checksum: %w", err)
	}
	if k := doc.Value.Kind(); k != pyjson.KindObject {
		return pyjson.Value{}, "", fmt.Errorf("checksum: body is a JSON %s: %w", k, pyjson.ErrNotObject)
	}
	cv, ok := doc.Value.Lookup(Key)
	if !ok {
		return pyjson.Value{}, "", ErrMissing
	}
	sum, ok = cv.Str()
	if !ok {
		return pyjson.Value{}, "", ErrIncorrect
	}
	var want [sha512.Size]byte
	if !decodeLowerHex(want[:], sum) {
		// Python compared hexdigest() == checksum: nothing else can match.
		return pyjson.Value{}, "", ErrIncorrect
	}
	params = doc.Value.Without(Key)

	form1 := pyjson.Dumps(params)
	form2, ok := doc.Cut(Key)
	if ok && string(form2) == string(form1) {
		form2 = nil // a Python client: one text to try, not two
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().Unix()
	delta := max(v.Delta, 0)

	// One buffer holds call + text + secret + timestamp for every candidate.
	maxSecret := 0
	for _, s := range v.Secrets {
		maxSecret = max(maxSecret, len(s))
	}
	sc := newScratch(len(call) + max(len(form1), len(form2)) + maxSecret)
	match := 0
	for _, secret := range v.Secrets {
		if secret == "" {
			continue
		}
		match |= sc.try(call, form1, secret, t-delta, t+delta, &want)
		if form2 != nil {
			match |= sc.try(call, form2, secret, t-delta, t+delta, &want)
		}
	}
	if match != 1 {
		return pyjson.Value{}, "", ErrIncorrect
	}
	return params, sum, nil
}

// try hashes call+text+secret+ts for ts in [lo, hi] and returns 1 if one of
// them equals want. It always hashes every candidate.
func (sc *scratch) try(call string, text []byte, secret string, lo, hi int64, want *[sha512.Size]byte) int {
	if _, found := sc.find(call, text, secret, lo, hi, want); found {
		return 1
	}
	return 0
}

// find hashes call+text+secret+ts for ts in [lo, hi] and returns the second
// whose hash equals want, if one does. It always hashes every candidate and
// does not branch on a comparison.
//
// The state after call+text+secret is saved once and restored for each
// second, so each candidate costs one SHA-512 block plus the restore.
// BenchmarkCandidates measured this at about the same cost as rehashing the
// whole message for a 150-byte body, and 7-9 times cheaper for a 10 kB one.
func (sc *scratch) find(call string, text []byte, secret string, lo, hi int64, want *[sha512.Size]byte) (int64, bool) {
	sc.buf = append(sc.buf[:0], call...)
	sc.buf = append(sc.buf, text...)
	sc.buf = append(sc.buf, secret...)
	h := sc.h
	h.Reset()
	h.Write(sc.buf)
	// The errors cannot happen: sha512 state (un)marshals in full.
	state, _ := h.(encoding.BinaryAppender).AppendBinary(sc.state[:0])
	var at int64
	match := 0
	for ts := lo; ts <= hi; ts++ {
		_ = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
		h.Write(strconv.AppendInt(sc.ts[:0], ts, 10))
		sc.n++
		eq := subtle.ConstantTimeCompare(h.Sum(sc.sum[:0]), want[:])
		match |= eq
		at |= ts & -int64(eq) // distinct seconds hash differently, so at most one matches
	}
	return at, match == 1
}

// scratch holds the buffers of one verification, allocated together
// (buffers passed to a hash.Hash escape).
type scratch struct {
	h     hash.Hash
	buf   []byte
	state [256]byte // a marshalled SHA-512 state is 204 bytes
	ts    [20]byte
	sum   [sha512.Size]byte
	n     int // candidates hashed
}

func newScratch(size int) *scratch {
	return &scratch{h: sha512.New(), buf: make([]byte, 0, size)}
}

// decodeLowerHex decodes s, which must be exactly 2*len(dst) lowercase hex
// digits, into dst.
func decodeLowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHexDigit(s[2*i])
		lo, ok2 := lowerHexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
