package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// ErrSchema marks a reply that does not satisfy its JSON Schema, and a
// schema that uses more of JSON Schema than this package supports.
var ErrSchema = errors.New("ollama: schema")

// Schema is the subset of JSON Schema that the Provider sends as Ollama's
// structured-output format and checks replies against. Every schema must be
// bounded (see check): strings carry maxLength or an enum, arrays maxItems,
// objects additionalProperties false. Ollama turns the schema into a grammar
// that constrains sampling, so a bounded schema also bounds the reply of a
// model that never stops on its own.
//
// Properties keep their order, which is the order the model writes them in.
type Schema struct {
	Type       string     // "object", "array", "string", "integer", "number", "boolean"
	Properties []Property // object
	// Required lists the properties that must be present (object).
	Required []string
	// AdditionalProperties must be false for objects; it is a pointer only
	// so that a parsed schema can tell "absent" from "false".
	AdditionalProperties *bool
	Items                *Schema // array
	MinItems, MaxItems   *int    // array
	MinLength, MaxLength *int    // string, in Unicode code points
	// Enum lists the allowed values (strings, numbers, booleans).
	Enum []any
	// Minimum and Maximum bound numbers and integers, inclusive.
	Minimum, Maximum *float64
	// Description is an annotation; it does not constrain anything.
	Description string
}

// Property is one named property of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// Maximum string length, array length and enum size accepted by check: a
// reply must stay small enough to read, store and validate.
const (
	maxSchemaLength = 8192
	maxSchemaItems  = 256
	maxSchemaDepth  = 8
)

// MarshalJSON writes s as JSON Schema, with properties in order.
func (s *Schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	field := func(name string, v any) error {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(j)
		return nil
	}
	var err error
	add := func(name string, v any) {
		if err == nil {
			err = field(name, v)
		}
	}
	if s.Type != "" {
		add("type", s.Type)
	}
	if s.Description != "" {
		add("description", s.Description)
	}
	if s.Properties != nil {
		var p bytes.Buffer
		p.WriteByte('{')
		for i, prop := range s.Properties {
			if i > 0 {
				p.WriteByte(',')
			}
			k, _ := json.Marshal(prop.Name)
			p.Write(k)
			p.WriteByte(':')
			v, perr := prop.Schema.MarshalJSON()
			if perr != nil {
				return nil, perr
			}
			p.Write(v)
		}
		p.WriteByte('}')
		add("properties", json.RawMessage(p.Bytes()))
	}
	if s.Required != nil {
		add("required", s.Required)
	}
	if s.AdditionalProperties != nil {
		add("additionalProperties", *s.AdditionalProperties)
	}
	if s.Items != nil {
		add("items", s.Items)
	}
	for _, kv := range []struct {
		name string
		v    *int
	}{{"minItems", s.MinItems}, {"maxItems", s.MaxItems}, {"minLength", s.MinLength}, {"maxLength", s.MaxLength}} {
		if kv.v != nil {
			add(kv.name, *kv.v)
		}
	}
	if s.Enum != nil {
		add("enum", s.Enum)
	}
	if s.Minimum != nil {
		add("minimum", jsonNumber(*s.Minimum))
	}
	if s.Maximum != nil {
		add("maximum", jsonNumber(*s.Maximum))
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonNumber writes integral bounds without a fraction, which the grammar
// converter needs for integer ranges.
func jsonNumber(f float64) json.Number {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return json.Number(strconv.FormatInt(int64(f), 10))
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// ParseSchema parses a JSON Schema in the supported subset and checks that
// it is bounded. Unknown keywords are errors, so that a schema never means
// more than this package validates.
func ParseSchema(b []byte) (*Schema, error) {
	s, err := parseSchema(b, "$", 0)
	if err != nil {
		return nil, err
	}
	if err := s.check("$", 0); err != nil {
		return nil, err
	}
	return s, nil
}

func parseSchema(b []byte, path string, depth int) (*Schema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: %s: nested deeper than %d levels", ErrSchema, path, maxSchemaDepth)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: not a JSON object: %w", ErrSchema, path, err)
	}
	s := &Schema{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		var err error
		switch k {
		case "type":
			err = json.Unmarshal(v, &s.Type)
		case "description":
			err = json.Unmarshal(v, &s.Description)
		case "title", "$schema":
			// annotations
		case "properties":
			s.Properties, err = parseProperties(v, path, depth)
		case "required":
			err = json.Unmarshal(v, &s.Required)
		case "additionalProperties":
			var ap bool
			err = json.Unmarshal(v, &ap)
			s.AdditionalProperties = &ap
		case "items":
			s.Items, err = parseSchema(v, path+"[]", depth+1)
		case "minItems":
			err = json.Unmarshal(v, &s.MinItems)
		case "maxItems":
			err = json.Unmarshal(v, &s.MaxItems)
		case "minLength":
			err = json.Unmarshal(v, &s.MinLength)
		case "maxLength":
			err = json.Unmarshal(v, &s.MaxLength)
		case "enum":
			d := json.NewDecoder(bytes.NewReader(v))
			d.UseNumber()
			err = d.Decode(&s.Enum)
			if err == nil && s.Enum == nil {
				err = errors.New("must be an array")
			}
		case "minimum":
			err = json.Unmarshal(v, &s.Minimum)
		case "maximum":
			err = json.Unmarshal(v, &s.Maximum)
		default:
			return nil, fmt.Errorf("%w: %s: keyword %q is not supported", ErrSchema, path, k)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s.%s: %w", ErrSchema, path, k, err)
		}
	}
	return s, nil
}

// parseProperties decodes a "properties" object, keeping the key order.
func parseProperties(b []byte, path string, depth int) ([]Property, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("must be an object")
	}
	props := []Property{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		name := t.(string) // object keys are strings
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(props, func(p Property) bool { return p.Name == name }) {
			return nil, fmt.Errorf("property %q appears twice", name)
		}
		ps, err := parseSchema(v, path+"."+name, depth+1)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Name: name, Schema: ps})
	}
	return props, nil
}

// check reports whether s is well formed and bounded.
func (s *Schema) check(path string, depth int) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrSchema, path, fmt.Sprintf(format, a...))
	}
	if depth > maxSchemaDepth {
		return fail("nested deeper than %d levels", maxSchemaDepth)
	}
	if s.Enum != nil {
		if len(s.Enum) == 0 || len(s.Enum) > maxSchemaItems {
			return fail("enum must have 1 to %d values", maxSchemaItems)
		}
		for i, v := range s.Enum {
			if err := s.checkType(v); err != nil {
				return fail("enum value %d: %v", i, err)
			}
		}
	}
	bad := func(name string, v *int, lo int) error {
		if v != nil && (*v < lo || *v > maxSchemaLength) {
			return fail("%s must be within %d..%d", name, lo, maxSchemaLength)
		}
		return nil
	}
	if err := errors.Join(bad("minItems", s.MinItems, 0), bad("maxItems", s.MaxItems, 1),
		bad("minLength", s.MinLength, 0), bad("maxLength", s.MaxLength, 1)); err != nil {
		return err
	}
	if s.Type != "object" && (s.Properties != nil || s.Required != nil || s.AdditionalProperties != nil) {
		return fail("properties, required and additionalProperties need type object")
	}
	if s.Type != "array" && (s.Items != nil || s.MinItems != nil || s.MaxItems != nil) {
		return fail("items, minItems and maxItems need type array")
	}
	if s.Type != "string" && (s.MinLength != nil || s.MaxLength != nil) {
		return fail("minLength and maxLength need type string")
	}
	if s.Type != "integer" && s.Type != "number" && (s.Minimum != nil || s.Maximum != nil) {
		return fail("minimum and maximum need type integer or number")
	}
	switch s.Type {
	case "object":
		if s.AdditionalProperties == nil || *s.AdditionalProperties {
			return fail("objects must set additionalProperties to false")
		}
		for _, r := range s.Required {
			if !slices.ContainsFunc(s.Properties, func(p Property) bool { return p.Name == r }) {
				return fail("required property %q is not in properties", r)
			}
		}
		for _, p := range s.Properties {
			if p.Schema == nil {
				return fail("property %q has no schema", p.Name)
			}
			if err := p.Schema.check(path+"."+p.Name, depth+1); err != nil {
				return err
			}
		}
	case "array":
		if s.Items == nil {
			return fail("arrays need items")
		}
		if s.MaxItems == nil {
			return fail("arrays need maxItems")
		}
		if s.MinItems != nil && *s.MinItems > *s.MaxItems {
			return fail("minItems exceeds maxItems")
		}
		return s.Items.check(path+"[]", depth+1)
	case "string":
		if s.MaxLength == nil && s.Enum == nil {
			return fail("strings need maxLength or enum")
		}
		if s.MinLength != nil && s.MaxLength != nil && *s.MinLength > *s.MaxLength {
			return fail("minLength exceeds maxLength")
		}
	case "integer", "number":
		for _, b := range []*float64{s.Minimum, s.Maximum} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0) || math.Abs(*b) > 1e15) {
				return fail("minimum and maximum must be finite and within ±1e15")
			}
			if b != nil && s.Type == "integer" && *b != math.Trunc(*b) {
				return fail("integer bounds must be integers")
			}
		}
		if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
			return fail("minimum exceeds maximum")
		}
	case "boolean":
	default:
		return fail("type %q is not supported (object, array, string, integer, number, boolean)", s.Type)
	}
	return nil
}

// Validate checks a JSON document against s. Errors name the path and the
// rule broken, never the offending value, which may be customer content.
func (s *Schema) Validate(doc []byte) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("%w: reply is not JSON: %s", ErrSchema, syntaxOnly(err))
	}
	if _, err := d.Token(); err == nil {
		return fmt.Errorf("%w: reply has data after the JSON value", ErrSchema)
	}
	return s.validate(v, "$")
}

// syntaxOnly describes a decoding error without quoting the input.
func syntaxOnly(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "truncated"
	}
	return "invalid"
}

func (s *Schema) validate(v any, path string) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrSchema, path, fmt.Sprintf(format, a...))
	}
	if err := s.checkType(v); err != nil {
		return fail("%v", err)
	}
	if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return jsonEqual(e, v) }) {
		return fail("not one of the %d allowed values", len(s.Enum))
	}
	switch s.Type {
	case "object":
		obj := v.(map[string]any)
		for _, r := range s.Required {
			if _, ok := obj[r]; !ok {
				return fail("missing required property %q", r)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			i := slices.IndexFunc(s.Properties, func(p Property) bool { return p.Name == k })
			if i < 0 {
				return fail("unexpected property")
			}
			if err := s.Properties[i].Schema.validate(obj[k], path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr := v.([]any)
		if s.MinItems != nil && len(arr) < *s.MinItems {
			return fail("fewer than %d items", *s.MinItems)
		}
		if s.MaxItems != nil && len(arr) > *s.MaxItems {
			return fail("more than %d items", *s.MaxItems)
		}
		for i, e := range arr {
			if err := s.Items.validate(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "string":
		n := utf8.RuneCountInString(v.(string))
		if s.MinLength != nil && n < *s.MinLength {
			return fail("shorter than %d characters", *s.MinLength)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			return fail("longer than %d characters", *s.MaxLength)
		}
	case "integer", "number":
		f, _ := v.(json.Number).Float64()
		if s.Minimum != nil && f < *s.Minimum {
			return fail("below the minimum %g", *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			return fail("above the maximum %g", *s.Maximum)
		}
	}
	return nil
}

// checkType reports whether v, as decoded with UseNumber, has s's type.
func (s *Schema) checkType(v any) error {
	ok := false
	switch s.Type {
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "number":
		if n, isNum := v.(json.Number); isNum {
			f, err := n.Float64()
			ok = err == nil && !math.IsInf(f, 0)
		}
	case "integer":
		// Written as an integer (no fraction or exponent, as the grammar
		// produces them) and within int64, so that it decodes into a Go int.
		if n, isNum := v.(json.Number); isNum {
			_, err := strconv.ParseInt(string(n), 10, 64)
			ok = err == nil
		}
	}
	if !ok {
		return fmt.Errorf("not of type %s", s.Type)
	}
	return nil
}

// jsonEqual compares two scalars decoded with UseNumber (or given as Go
// strings, bools and numbers in a schema built in code).
func jsonEqual(a, b any) bool {
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	if aNum || bNum {
		return aNum && bNum && fa == fb
	}
	return a == b
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// maxReplyBytes is an upper bound on the length in bytes of any reply the
// grammar derived from s can produce. Every sampled token adds at least one
// byte, so it is also a safe num_predict: a reply that follows the grammar
// is never cut short.
func (s *Schema) maxReplyBytes() int {
	const space = 22 // the grammar allows "" | " " | "\n" followed by up to 20 blanks
	if s.Enum != nil {
		m := 0
		for _, e := range s.Enum {
			b, _ := json.Marshal(e)
			m = max(m, len(b))
		}
		return m + space
	}
	switch s.Type {
	case "object":
		n := 2 + 2*space
		for _, p := range s.Properties {
			k, _ := json.Marshal(p.Name)
			n += len(k) + 1 + 3*space + 1 + p.Schema.maxReplyBytes()
		}
		return n
	case "array":
		return 2 + 2*space + *s.MaxItems*(s.Items.maxReplyBytes()+1+space)
	case "string":
		return 2 + 6*(*s.MaxLength) + space // \uXXXX is the longest form of one character
	case "integer":
		return 17 + space
	case "number":
		return 54 + space
	default: // boolean
		return 5 + space
	}
}
