package bbbsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// kind is the JSON form a Scala field type takes under akka-apps' Jackson mapper.
type kind uint8

const (
	kString kind = iota + 1 // String
	kBool                   // Boolean
	kLong                   // Int or Long: a JSON integer
	kObject                 // a case class: exactly its fields, all required
	kStrMap                 // Map[String,String]: an object whose values are strings
	kAnyMap                 // Map[String,Any]: any object
	kArray                  // Vector[T]: an array of elem
)

// shape is the simulator's own description of one field type of one akka-apps case class. It is deliberately
// independent of the product's codec: the simulator exists to check that codec.
type shape struct {
	kind   kind
	fields []field // kObject, in case-class order
	elem   *shape  // kArray
}

type field struct {
	name  string
	shape *shape
}

var (
	tString = &shape{kind: kString}
	tBool   = &shape{kind: kBool}
	tLong   = &shape{kind: kLong}
	tStrMap = &shape{kind: kStrMap}
	tAnyMap = &shape{kind: kAnyMap}
)

// object builds a case-class shape from name/shape pairs.
func object(fs ...field) *shape { return &shape{kind: kObject, fields: fs} }

// f is a field of a case class.
func f(name string, s *shape) field { return field{name: name, shape: s} }

// strs is the shape of a case class whose fields are all Strings.
func strs(names ...string) *shape {
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = f(n, tString)
	}
	return object(fs...)
}

// checker walks a decoded JSON value (decoded with UseNumber) against a shape and collects what Jackson with
// FAIL_ON_UNKNOWN_PROPERTIES and FAIL_ON_MISSING_CREATOR_PROPERTIES would reject (probs) and what it would let
// through but is still worth a warning (warns: explicit nulls).
//
// It is stricter than Jackson in one respect, on purpose: Jackson's default scalar coercions (a number into a String
// field, "true" into a Boolean, 1.0 into a Long) are rejected here, because a producer that relies on them is wrong
// even where akka would forgive it.
type checker struct {
	probs []string
	warns []string
}

func (c *checker) prob(format string, args ...any) {
	c.probs = append(c.probs, fmt.Sprintf(format, args...))
}
func (c *checker) warn(format string, args ...any) {
	c.warns = append(c.warns, fmt.Sprintf(format, args...))
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// value checks v at path against s.
func (c *checker) value(path string, s *shape, v any) {
	if v == nil {
		if s.kind == kObject {
			// Jackson accepts the null, but every handler dereferences these objects (header.meetingId,
			// body.msg.sender.id …), so akka's actor fails with a NullPointerException and the message is lost.
			c.prob("%s: null where akka needs an object", path)
			return
		}
		c.warn("%s: null (Jackson accepts it; akka sees null, false or 0)", path)
		return
	}
	switch s.kind {
	case kString:
		if _, ok := v.(string); !ok {
			c.prob("%s: want string, got %s", path, jsonType(v))
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			c.prob("%s: want boolean, got %s", path, jsonType(v))
		}
	case kLong:
		n, ok := v.(json.Number)
		if !ok {
			c.prob("%s: want integer, got %s", path, jsonType(v))
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			c.prob("%s: want integer, got number %s", path, n)
		}
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			c.prob("%s: want object, got %s", path, jsonType(v))
			return
		}
		c.object(path, s, m)
	case kStrMap:
		m, ok := v.(map[string]any)
		if !ok {
			c.prob("%s: want object, got %s", path, jsonType(v))
			return
		}
		for _, k := range sortedKeys(m) {
			c.value(join(path, k), tString, m[k])
		}
	case kAnyMap:
		if _, ok := v.(map[string]any); !ok {
			c.prob("%s: want object, got %s", path, jsonType(v))
		}
	case kArray:
		a, ok := v.([]any)
		if !ok {
			c.prob("%s: want array, got %s", path, jsonType(v))
			return
		}
		for i, e := range a {
			c.value(fmt.Sprintf("%s[%d]", path, i), s.elem, e)
		}
	}
}

// object checks that m has exactly the fields of s: unknown fields first (sorted), then missing ones and wrong types
// in case-class order.
func (c *checker) object(path string, s *shape, m map[string]any) {
	where := path
	if where == "" {
		where = "message"
	}
	for _, k := range sortedKeys(m) {
		if !slices.ContainsFunc(s.fields, func(f field) bool { return f.name == k }) {
			c.prob("%s: unknown field %q", where, k)
		}
	}
	for _, fd := range s.fields {
		v, ok := m[fd.name]
		if !ok {
			c.prob("%s: missing field %q", where, fd.name)
			continue
		}
		c.value(join(path, fd.name), fd.shape, v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "number"
		}
		return "integer"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return fmt.Sprintf("%T", v)
	}
}
