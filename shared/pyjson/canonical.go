package pyjson

import "fmt"

// Canonical parses body, which must hold an object, removes the top-level
// members named by drop and returns json.dumps of the rest: what the
// original bbb-chat hashed after json.loads(body) and del params["checksum"].
// Errors match ErrSyntax, or ErrNotObject for a valid non-object document.
func Canonical(body []byte, drop ...string) ([]byte, error) {
	v, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if v.kind != KindObject {
		return nil, fmt.Errorf("pyjson: top-level value is a %s: %w", v.kind, ErrNotObject)
	}
	return AppendDumps(make([]byte, 0, len(body)+len(body)/4+16), v.Without(drop...)), nil
}

// Document is a parsed body that also remembers where each member of a
// top-level object was written, so that a member can be cut out of the text
// (see Cut).
type Document struct {
	// Value is what Parse would have returned.
	Value Value
	text  string
	top   []rawMember
}

// ParseDocument parses body like Parse and records the positions of the
// members of a top-level object.
func ParseDocument(body []byte) (Document, error) {
	p := parser{s: string(body), stack: make([]Member, 0, 8), recordTop: true, top: make([]rawMember, 0, 8)}
	v, err := p.document()
	if err != nil {
		return Document{}, err
	}
	return Document{Value: v, text: p.s, top: p.top}, nil
}

// Cut returns the document's text with the top-level member named key cut
// out; everything else stays byte for byte, whitespace and escapes included.
// That is the text a client hashed if it serialised its params, signed them,
// and then added the checksum member with the same serialiser (the same
// spacing on both sides of the comma).
//
// With the member M as written and the members numbered as written:
//   - M is the only member: exactly M is cut, from the opening quote of its
//     key to the last byte of its value.
//   - M is not the first member: the comma before M, the whitespace after
//     that comma, and M are cut. `{"a": 1, "k": 2}` → `{"a": 1}`.
//   - M is the first of several: M, the whitespace after it, the comma and
//     the whitespace after the comma are cut, up to the next member's key.
//     `{"k": 2, "a": 1}` → `{"a": 1}`.
//
// ok is false when the document is not an object or key is not written
// exactly once at the top level (a repeated key leaves the intended text
// ambiguous). Keys are compared decoded, so "\u006b" is "k".
func (d Document) Cut(key string) (text []byte, ok bool) {
	idx := -1
	for i := range d.top {
		if d.top[i].key == key {
			if idx >= 0 {
				return nil, false
			}
			idx = i
		}
	}
	if idx < 0 {
		return nil, false
	}
	m := d.top[idx]
	from, to := m.start, m.end
	switch {
	case idx > 0:
		from = m.comma
	case len(d.top) > 1:
		to = d.top[1].start
	}
	out := make([]byte, 0, len(d.text)-(to-from))
	out = append(out, d.text[:from]...)
	return append(out, d.text[to:]...), true
}
