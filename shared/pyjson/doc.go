// Package pyjson reproduces, byte for byte, what CPython's
// json.dumps(json.loads(body)) makes of a request body, and builds ordered
// JSON values in Go that serialise the way json.dumps serialises a dict.
//
// The original bbb-chat signs sha512(call + json.dumps(params) + secret + ts),
// so verifying its checksums needs Python's serialiser, not encoding/json.
// The rules below were checked against CPython 3.11 (testdata/gen_vectors.py).
//
// API in brief: Parse (and ParseDocument, which also remembers where each
// top-level member was written) returns a Value; Dumps/AppendDumps write one;
// Canonical does both for an object body, dropping keys. Values made in Go
// come from Object/Member, Array, String, Int, Float, Bool and Null; values
// are read with Kind, Lookup, Members, Len, Index, Str, RawStr, Boolean,
// Int64, Float64 and Literal. Errors match ErrSyntax (a *SyntaxError with the
// byte offset), ErrTooDeep or ErrNotObject.
//
// What it owns:
//   - Parse: a strict recursive-descent parser that accepts exactly what
//     json.loads(bytes) accepts for UTF-8 input and builds an ordered tree
//     (objects keep members in document order; a duplicate key keeps its first
//     position and takes its last value, like a dict).
//   - Dumps: json.dumps with default arguments: separators ", " and ": ",
//     ensure_ascii=True (every code unit outside 0x20–0x7E, DEL included, as
//     \uXXXX with lowercase hex; non-BMP characters as surrogate pairs; "/",
//     "<", ">", "&" and "'" left alone), allow_nan=True, no key sorting.
//   - FloatRepr: Python's float.__repr__.
//   - Canonical and Document.Cut: the two texts a checksum can be computed
//     over (see package checksum).
//
// Strings are sequences of code points as Python holds them, lone surrogates
// included. They are stored in Go strings as generalised UTF-8: valid UTF-8,
// except that a surrogate code point U+D800–U+DFFF is written as its 3-byte
// form (ED A0 80 … ED BF BF), as WTF-8 does. An escaped surrogate pair
// ("\ud83d\ude00") becomes one code point, exactly as in CPython, so two keys
// are equal in Go (==) exactly when they are equal in Python.
//
// Deliberate differences from json.loads, all of them rejections of input
// Python would accept:
//   - Nesting deeper than MaxDepth (512) is rejected with an error matching
//     ErrTooDeep and ErrSyntax. CPython fails at a depth a little under its
//     recursion limit (1000 by default) with RecursionError.
//   - Only UTF-8 is accepted (with or without one leading UTF-8 BOM, which
//     json.loads(bytes) also strips). json.loads(bytes) would also guess
//     UTF-16 and UTF-32 from NUL bytes at the start; every such body is
//     invalid as UTF-8 JSON, so it is rejected here.
//
// What it must not do: know about HTTP, checksums, secrets or the BBB
// protocol; keep package-level mutable state.
package pyjson
