package ollama

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSchemaValidate(t *testing.T) {
	task := tasksSchema(testConv)
	tests := []struct {
		name    string
		schema  *Schema
		doc     string
		wantErr string // "" for valid
	}{
		{name: "summary ok", schema: summarySchema, doc: `{"summary":"Card blocked.","keywords":["card","blocked"]}`},
		{name: "summary whitespace", schema: summarySchema, doc: "{\n  \"summary\" : \"x\" ,\"keywords\":[ ] }\n"},
		{name: "escapes count as one character", schema: &Schema{Type: "string", MaxLength: ints(2)}, doc: `"\u00e9\n"`},
		{name: "code points not bytes", schema: &Schema{Type: "string", MaxLength: ints(3)}, doc: `"ééé"`},
		{name: "too long", schema: &Schema{Type: "string", MaxLength: ints(3)}, doc: `"abcd"`, wantErr: "$: longer than 3 characters"},
		{name: "too short", schema: summarySchema, doc: `{"summary":"","keywords":[]}`, wantErr: "$.summary: shorter than 1 characters"},
		{name: "missing property", schema: summarySchema, doc: `{"summary":"x"}`, wantErr: `$: missing required property "keywords"`},
		{name: "extra property", schema: summarySchema, doc: `{"summary":"x","keywords":[],"secret":"no"}`, wantErr: "$: unexpected property"},
		{name: "too many items", schema: summarySchema, doc: `{"summary":"x","keywords":["a","b","c","d","e","f","g","h","i"]}`, wantErr: "$.keywords: more than 8 items"},
		{name: "wrong item type", schema: summarySchema, doc: `{"summary":"x","keywords":["a",2]}`, wantErr: "$.keywords[1]: not of type string"},
		{name: "not json", schema: summarySchema, doc: `{"summary":`, wantErr: "reply is not JSON: truncated"},
		{name: "syntax", schema: summarySchema, doc: `{"summary" "x"}`, wantErr: "reply is not JSON: syntax error at byte"},
		{name: "trailing data", schema: summarySchema, doc: `{"summary":"x","keywords":[]} {}`, wantErr: "data after the JSON value"},
		{name: "enum ok", schema: task, doc: `{"tasks":[{"text":"call back","owner":"agent","due":"friday","utterance":2}]}`},
		{name: "enum miss", schema: task, doc: `{"tasks":[{"text":"call back","owner":"boss","due":"none","utterance":2}]}`, wantErr: "$.tasks[0].owner: not one of the 2 allowed values"},
		{name: "integer above", schema: task, doc: `{"tasks":[{"text":"x","owner":"agent","due":"none","utterance":4}]}`, wantErr: "$.tasks[0].utterance: above the maximum 3"},
		{name: "integer below", schema: task, doc: `{"tasks":[{"text":"x","owner":"agent","due":"none","utterance":-1}]}`, wantErr: "below the minimum 0"},
		{name: "integer fraction", schema: task, doc: `{"tasks":[{"text":"x","owner":"agent","due":"none","utterance":1.5}]}`, wantErr: "not of type integer"},
		{name: "integer exponent", schema: task, doc: `{"tasks":[{"text":"x","owner":"agent","due":"none","utterance":1e0}]}`, wantErr: "not of type integer"},
		{name: "integer too big", schema: &Schema{Type: "integer"}, doc: `99999999999999999999`, wantErr: "not of type integer"},
		{name: "number enum", schema: &Schema{Type: "number", Enum: []any{1, 2.5}}, doc: `2.50`},
		{name: "number huge", schema: &Schema{Type: "number"}, doc: `1e999`, wantErr: "not of type number"},
		{name: "boolean", schema: &Schema{Type: "boolean"}, doc: `true`},
		{name: "null is no string", schema: &Schema{Type: "string", MaxLength: ints(1)}, doc: `null`, wantErr: "not of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Validate([]byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate(%s) = %v, want nil", tt.doc, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate(%s) = %v, want an error containing %q", tt.doc, err, tt.wantErr)
			case err != nil && !errors.Is(err, ErrSchema):
				t.Fatalf("Validate(%s) = %v, want it to wrap ErrSchema", tt.doc, err)
			}
		})
	}
}

// TestValidateErrorsHideValues checks that errors never quote the reply,
// which may carry customer content.
func TestValidateErrorsHideValues(t *testing.T) {
	const secret = "4929123412341234"
	docs := []string{
		`{"summary":"` + secret + `","keywords":[` + strings.Repeat(`"`+secret+`",`, 9) + `"x"]}`,
		`{"summary":"x","keywords":[],"` + secret + `":1}`,
		`{"summary":"` + secret + strings.Repeat("x", 600) + `","keywords":[]}`,
		`{"summary":` + secret + `}`,
		`{"summary":"` + secret,
		secret + `x`,
	}
	for _, d := range docs {
		err := summarySchema.Validate([]byte(d))
		if err == nil {
			t.Fatalf("Validate(%.40s…) = nil, want an error", d)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Validate error %q quotes the reply", err)
		}
	}
}

func TestParseSchemaRoundTrip(t *testing.T) {
	codes := object(Property{"code", enum("A1", "B2")}, Property{"confidence", intRange(0, 100)})
	for _, s := range []*Schema{summarySchema, notesSchema, tasksSchema(testConv), codes} {
		b, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("MarshalJSON wrote invalid JSON: %s", b)
		}
		got, err := ParseSchema(b)
		if err != nil {
			t.Fatalf("ParseSchema(%s): %v", b, err)
		}
		// Enum values come back as json.Number; compare their text.
		opt := cmp.Transformer("enum", func(v []any) string { b, _ := json.Marshal(v); return string(b) })
		if diff := cmp.Diff(s, got, opt); diff != "" {
			t.Errorf("ParseSchema(MarshalJSON(s)) (-want +got):\n%s", diff)
		}
	}
	// Properties keep their order on the wire: the model writes them in it.
	b, _ := notesSchema.MarshalJSON()
	if i, j := strings.Index(string(b), `"reason"`), strings.Index(string(b), `"follow_ups"`); i < 0 || j < i {
		t.Errorf("notes schema properties out of order: %s", b)
	}
}

func TestParseSchemaRejects(t *testing.T) {
	tests := []struct{ schema, wantErr string }{
		{`[]`, "not a JSON object"},
		{`{"type":"string"}`, "$: strings need maxLength or enum"},
		{`{"type":"array","items":{"type":"boolean"}}`, "$: arrays need maxItems"},
		{`{"type":"array","maxItems":3}`, "$: arrays need items"},
		{`{"type":"object","properties":{}}`, "objects must set additionalProperties to false"},
		{`{"type":"object","properties":{},"additionalProperties":true}`, "additionalProperties to false"},
		{`{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`, "$.a: strings need maxLength"},
		{`{"type":"object","properties":{"a":{"type":"boolean"}},"required":["b"],"additionalProperties":false}`, `required property "b" is not in properties`},
		{`{"type":"object","properties":{"a":{"type":"boolean"},"a":{"type":"boolean"}},"additionalProperties":false}`, `property "a" appears twice`},
		{`{"type":"string","pattern":"^a$","maxLength":3}`, `keyword "pattern" is not supported`},
		{`{"type":"string","maxLength":100000}`, "maxLength must be within 1..8192"},
		{`{"type":"string","maxLength":2,"minLength":3}`, "minLength exceeds maxLength"},
		{`{"type":"integer","minimum":1.5}`, "integer bounds must be integers"},
		{`{"type":"integer","minimum":3,"maximum":2}`, "minimum exceeds maximum"},
		{`{"type":"null"}`, `type "null" is not supported`},
		{`{"type":["string","null"]}`, "$.type"},
		{`{"type":"string","enum":[]}`, "enum must have 1 to 256 values"},
		{`{"type":"string","enum":["a",1]}`, "enum value 1: not of type string"},
		{`{"type":"boolean","maxLength":3}`, "minLength and maxLength need type string"},
		{`{"type":"string","maxLength":3,"items":{"type":"boolean"}}`, "items, minItems and maxItems need type array"},
		{`{"type":"array","maxItems":1,"items":` + strings.Repeat(`{"type":"array","maxItems":1,"items":`, 9) + `{"type":"boolean"}` + strings.Repeat("}", 10), "nested deeper than 8 levels"},
	}
	for _, tt := range tests {
		_, err := ParseSchema([]byte(tt.schema))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSchema) {
			t.Errorf("ParseSchema(%s) = %v, want an ErrSchema containing %q", tt.schema, err, tt.wantErr)
		}
	}
}

// TestMaxReplyBytes checks that the worst-case reply of each schema, with
// every string at its longest in the longest escaped form and every array
// full, fits the bound that becomes num_predict.
func TestMaxReplyBytes(t *testing.T) {
	var worst func(s *Schema) string
	worst = func(s *Schema) string {
		switch {
		case s.Enum != nil:
			b, _ := json.Marshal(s.Enum[len(s.Enum)-1])
			return string(b)
		case s.Type == "object":
			var parts []string
			for _, p := range s.Properties {
				parts = append(parts, `"`+p.Name+`" : `+worst(p.Schema))
			}
			return "{ " + strings.Join(parts, " , ") + " }"
		case s.Type == "array":
			items := make([]string, *s.MaxItems)
			for i := range items {
				items[i] = worst(s.Items)
			}
			return "[ " + strings.Join(items, " , ") + " ]"
		case s.Type == "string":
			return `"` + strings.Repeat(`\u00e9`, *s.MaxLength) + `"`
		case s.Type == "integer" && s.Maximum != nil:
			return fmt.Sprint(*s.Maximum)
		case s.Type == "integer":
			return "-1000000000000000"
		}
		return "true"
	}
	for _, s := range []*Schema{summarySchema, notesSchema, tasksSchema(testConv)} {
		doc := worst(s)
		if err := s.Validate([]byte(doc)); err != nil {
			t.Fatalf("worst-case document is invalid: %v", err)
		}
		if n := s.maxReplyBytes(); len(doc) > n {
			t.Errorf("worst-case reply has %d bytes, bound is %d", len(doc), n)
		}
	}
}

func FuzzSchemaValidate(f *testing.F) {
	for _, d := range []string{
		`{"tasks":[{"text":"call back","owner":"agent","due":"friday","utterance":2}]}`,
		`{"tasks":[]}`, `{"tasks":[{"text":"\ud800","owner":"agent","due":"none","utterance":1e0}]}`,
		`{"summary":"x","keywords":["a"]}`, `[1,2]`, `"x"`, `{`,
	} {
		f.Add([]byte(d))
	}
	schema := tasksSchema(testConv)
	f.Fuzz(func(t *testing.T, doc []byte) {
		if err := schema.Validate(doc); err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("Validate error %v does not wrap ErrSchema", err)
			}
			return
		}
		// A valid document must decode into what ExtractTasks reads, with
		// the utterance index in range.
		var r struct {
			Tasks []struct {
				Utterance int `json:"utterance"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(doc, &r); err != nil {
			t.Fatalf("valid document does not decode: %v", err)
		}
		for _, task := range r.Tasks {
			if task.Utterance < 0 || task.Utterance >= len(testConv) {
				t.Fatalf("valid document has utterance %d out of range", task.Utterance)
			}
		}
	})
}

func FuzzParseSchema(f *testing.F) {
	for _, s := range []*Schema{summarySchema, notesSchema, tasksSchema(testConv)} {
		b, _ := s.MarshalJSON()
		f.Add(b)
	}
	f.Add([]byte(`{"type":"string","enum":["a"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSchema(b)
		if err != nil {
			return
		}
		// An accepted schema is bounded and survives a round trip.
		if s.maxReplyBytes() <= 0 {
			t.Fatalf("accepted schema has bound %d", s.maxReplyBytes())
		}
		out, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of accepted schema: %v", err)
		}
		if _, err := ParseSchema(out); err != nil {
			t.Fatalf("ParseSchema(MarshalJSON(%s)) = %v", b, err)
		}
	})
}
