// Package apispec reads docs/openapi.yaml, the API's description, for the tests that keep it true: that it is
// valid OpenAPI, that it names exactly ingress's routes, and that ingress's real answers have the documented
// fields and no others. It is test code (kin-openapi does the OpenAPI part); it must not be used by the binaries.
package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Path is the description's path, from this package's source.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "openapi.yaml")
}

// Load reads and validates the description.
func Load(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(Path())
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml is not valid OpenAPI: %w", err)
	}
	return doc, nil
}

// Operation is one method and path of the description.
type Operation struct {
	Method, Path string // Path as written, e.g. /api/sendChatMessage/{meeting_id}
	Item         *openapi3.PathItem
	Op           *openapi3.Operation
}

// Operations lists the description's operations, sorted by path and method.
func Operations(doc *openapi3.T) []Operation {
	var out []Operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, Operation{Method: method, Path: path, Item: item, Op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Path+" "+out[i].Method < out[j].Path+" "+out[j].Method
	})
	return out
}

// Find is the operation of method and path template, or nil.
func Find(doc *openapi3.T, method, path string) *Operation {
	for _, o := range Operations(doc) {
		if o.Method == method && o.Path == path {
			return &o
		}
	}
	return nil
}

// Fields are the property names a schema documents, nested ones as parent.child (array items as parent.child
// too), walking allOf, oneOf and anyOf.
func Fields(s *openapi3.SchemaRef) []string {
	set := map[string]bool{}
	fields(s, "", set)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fields(s *openapi3.SchemaRef, prefix string, set map[string]bool) {
	if s == nil || s.Value == nil {
		return
	}
	v := s.Value
	for _, group := range [][]*openapi3.SchemaRef{v.AllOf, v.OneOf, v.AnyOf} {
		for _, sub := range group {
			fields(sub, prefix, set)
		}
	}
	for name, p := range v.Properties {
		set[prefix+name] = true
		fields(p, prefix+name+".", set)
	}
	if v.Items != nil {
		fields(v.Items, prefix, set)
	}
}

// Answered are the field names of a JSON answer, nested as Fields names them. A map whose keys are data (readyz's
// problems) is named by itself only when documentedMaps holds it.
func Answered(body []byte, documentedMaps ...string) ([]string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	answered(v, "", set, documentedMaps)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func answered(v any, prefix string, set map[string]bool, maps []string) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			set[prefix+k] = true
			if !slices.Contains(maps, prefix+k) {
				answered(sub, prefix+k+".", set, maps)
			}
		}
	case []any:
		for _, sub := range x {
			answered(sub, prefix, set, maps)
		}
	}
}

// CheckAnswer validates a real answer to method path (the URL path, e.g. /api/sendChatMessage/m1) against the
// operation at template: its status is documented, its body matches the schema (kin-openapi), and it has no
// field the schema does not document.
func CheckAnswer(ctx context.Context, doc *openapi3.T, method, template, path string, params map[string]string, status int, header http.Header, body []byte) error {
	o := Find(doc, method, template)
	if o == nil {
		return fmt.Errorf("%s %s is not in docs/openapi.yaml", method, template)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://ingress"+path, nil)
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      &routers.Route{Spec: doc, Path: template, PathItem: o.Item, Method: method, Operation: o.Op},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("%s %s answered %d %s: %w", method, path, status, strings.TrimSpace(string(body)), err)
	}
	resp := o.Op.Responses.Status(status)
	if resp == nil {
		resp = o.Op.Responses.Default()
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil {
		return fmt.Errorf("%s %s: %d has no JSON schema", method, template, status)
	}
	documented := Fields(mt.Schema)
	var maps []string
	for _, f := range documented {
		if p := schemaAt(mt.Schema, f); p != nil && p.Value.AdditionalProperties.Schema != nil {
			maps = append(maps, f)
		}
	}
	got, err := Answered(body, maps...)
	if err != nil {
		return err
	}
	var extra []string
	for _, f := range got {
		if !slices.Contains(documented, f) {
			extra = append(extra, f)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("%s %s answered fields docs/openapi.yaml does not document: %v (answer %s)", method, path, extra, strings.TrimSpace(string(body)))
	}
	return nil
}

// schemaAt is the schema of a field named as Fields names it, or nil.
func schemaAt(s *openapi3.SchemaRef, field string) *openapi3.SchemaRef {
	if s == nil || s.Value == nil {
		return nil
	}
	head, rest, nested := strings.Cut(field, ".")
	for _, group := range [][]*openapi3.SchemaRef{s.Value.AllOf, s.Value.OneOf, s.Value.AnyOf} {
		for _, sub := range group {
			if r := schemaAt(sub, field); r != nil {
				return r
			}
		}
	}
	if s.Value.Items != nil {
		if r := schemaAt(s.Value.Items, field); r != nil {
			return r
		}
	}
	p, ok := s.Value.Properties[head]
	if !ok {
		return nil
	}
	if !nested {
		return p
	}
	return schemaAt(p, rest)
}

// CheckRequest validates a request body for method path (the URL path) against the operation at template.
func CheckRequest(ctx context.Context, doc *openapi3.T, method, template, path string, params map[string]string, body []byte) error {
	o := Find(doc, method, template)
	if o == nil {
		return fmt.Errorf("%s %s is not in docs/openapi.yaml", method, template)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://ingress"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      &routers.Route{Spec: doc, Path: template, PathItem: o.Item, Method: method, Operation: o.Op},
		Options:    &openapi3filter.Options{MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("%s %s with %s: %w", method, path, body, err)
	}
	return nil
}
