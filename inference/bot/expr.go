package bot

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Conditions and Set steps use a small expression language over the
// conversation's variables:
//
//	literals     42, 1.5, "text", 'text', true, false, null
//	variables    last4, block_result.status (a field of a skill's result)
//	operators    == != < <= > >= && || ! (and, or, not), parentheses
//	functions    days_since(date), days_until(date), len(x), lower(x),
//	             contains(text, part), empty(x), number(x)
//
// Numbers compare as numbers, strings as text (ISO dates compare in time
// order), and a missing variable is null.

// Vars are a conversation's variables: slot values, Set results and skill
// results (JSON objects as map[string]any).
type Vars map[string]any

// Lookup resolves a dotted name.
func (v Vars) Lookup(name string) (any, bool) {
	head, rest, dotted := strings.Cut(name, ".")
	x, ok := v[head]
	for ok && dotted {
		m, isMap := x.(map[string]any)
		if !isMap {
			return nil, false
		}
		head, rest, dotted = strings.Cut(rest, ".")
		x, ok = m[head]
	}
	return x, ok
}

// expr is a parsed expression.
type expr interface {
	eval(v Vars, now time.Time) any
}

type (
	litExpr struct{ v any }
	varExpr struct{ name string }
	notExpr struct{ x expr }
	binExpr struct {
		op   string
		l, r expr
	}
	callExpr struct {
		fn   string
		args []expr
	}
)

var exprFuncs = map[string]int{"days_since": 1, "days_until": 1, "len": 1, "lower": 1, "contains": 2, "empty": 1, "number": 1}

// ErrExpr is wrapped by expression parse errors.
var ErrExpr = errors.New("bot: bad expression")

// parseExpr parses an expression; vars lists the variables it reads.
func parseExpr(src string) (e expr, vars []string, err error) {
	p := &exprParser{src: src}
	if err := p.lex(); err != nil {
		return nil, nil, err
	}
	e, err = p.or()
	if err != nil {
		return nil, nil, err
	}
	if p.pos < len(p.toks) {
		return nil, nil, fmt.Errorf("%w: unexpected %q", ErrExpr, p.toks[p.pos].text)
	}
	return e, p.vars, nil
}

type token struct {
	kind byte // 'i' ident, 'n' number, 's' string, 'o' operator, '(' ')' ','
	text string
}

type exprParser struct {
	src  string
	toks []token
	pos  int
	vars []string
}

func (p *exprParser) lex() error {
	s := p.src
	if len(s) > 2000 {
		return fmt.Errorf("%w: longer than 2000 characters", ErrExpr)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			p.toks = append(p.toks, token{c, string(c)})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return fmt.Errorf("%w: unterminated string", ErrExpr)
			}
			p.toks = append(p.toks, token{'s', b.String()})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			p.toks = append(p.toks, token{'n', s[i:j]})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || unicode.IsLetter(rune(s[j])) || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			p.toks = append(p.toks, token{'i', s[i:j]})
			i = j
		default:
			ops := []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!"}
			found := false
			for _, op := range ops {
				if strings.HasPrefix(s[i:], op) {
					p.toks = append(p.toks, token{'o', op})
					i += len(op)
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("%w: unexpected character %q", ErrExpr, c)
			}
		}
	}
	if len(p.toks) == 0 {
		return fmt.Errorf("%w: empty", ErrExpr)
	}
	return nil
}

func (p *exprParser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{}
}

func (p *exprParser) isOp(ops ...string) (string, bool) {
	t := p.peek()
	for _, op := range ops {
		if (t.kind == 'o' && t.text == op) || (t.kind == 'i' && strings.EqualFold(t.text, op)) {
			p.pos++
			return op, true
		}
	}
	return "", false
}

func (p *exprParser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		if _, ok := p.isOp("||", "or"); !ok {
			return l, nil
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = binExpr{"||", l, r}
	}
}

func (p *exprParser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for {
		if _, ok := p.isOp("&&", "and"); !ok {
			return l, nil
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = binExpr{"&&", l, r}
	}
}

func (p *exprParser) not() (expr, error) {
	if _, ok := p.isOp("!", "not"); ok {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.cmp()
}

func (p *exprParser) cmp() (expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	if op, ok := p.isOp("==", "!=", "<=", ">=", "<", ">"); ok {
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		return binExpr{op, l, r}, nil
	}
	return l, nil
}

func (p *exprParser) primary() (expr, error) {
	t := p.peek()
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected end", ErrExpr)
	}
	p.pos++
	switch t.kind {
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad number %q", ErrExpr, t.text)
		}
		return litExpr{f}, nil
	case 's':
		return litExpr{t.text}, nil
	case '(':
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != ')' {
			return nil, fmt.Errorf("%w: missing )", ErrExpr)
		}
		p.pos++
		return e, nil
	case 'i':
		switch strings.ToLower(t.text) {
		case "true":
			return litExpr{true}, nil
		case "false":
			return litExpr{false}, nil
		case "null", "nil":
			return litExpr{nil}, nil
		}
		if p.peek().kind == '(' {
			n, ok := exprFuncs[t.text]
			if !ok {
				return nil, fmt.Errorf("%w: unknown function %q", ErrExpr, t.text)
			}
			p.pos++
			var args []expr
			for p.peek().kind != ')' {
				a, err := p.or()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.peek().kind == ',' {
					p.pos++
				} else if p.peek().kind != ')' {
					return nil, fmt.Errorf("%w: expected , or ) in %s()", ErrExpr, t.text)
				}
			}
			p.pos++
			if len(args) != n {
				return nil, fmt.Errorf("%w: %s takes %d argument(s), got %d", ErrExpr, t.text, n, len(args))
			}
			return callExpr{t.text, args}, nil
		}
		p.vars = append(p.vars, t.text)
		return varExpr{t.text}, nil
	}
	return nil, fmt.Errorf("%w: unexpected %q", ErrExpr, t.text)
}

func (e litExpr) eval(Vars, time.Time) any { return e.v }

func (e varExpr) eval(v Vars, _ time.Time) any {
	x, _ := v.Lookup(e.name)
	return x
}

func (e notExpr) eval(v Vars, now time.Time) any { return !truthy(e.x.eval(v, now)) }

func (e binExpr) eval(v Vars, now time.Time) any {
	switch e.op {
	case "&&":
		return truthy(e.l.eval(v, now)) && truthy(e.r.eval(v, now))
	case "||":
		return truthy(e.l.eval(v, now)) || truthy(e.r.eval(v, now))
	}
	l, r := e.l.eval(v, now), e.r.eval(v, now)
	c, ok := compare(l, r)
	switch e.op {
	case "==":
		return ok && c == 0
	case "!=":
		return !ok || c != 0
	case "<":
		return ok && c < 0
	case "<=":
		return ok && c <= 0
	case ">":
		return ok && c > 0
	case ">=":
		return ok && c >= 0
	}
	return false
}

func (e callExpr) eval(v Vars, now time.Time) any {
	a := e.args[0].eval(v, now)
	switch e.fn {
	case "days_since", "days_until":
		s, ok := a.(string)
		if !ok {
			return nil
		}
		d, err := time.ParseInLocation("2006-01-02", s, now.Location())
		if err != nil {
			return nil
		}
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		days := math.Round(today.Sub(d).Hours() / 24)
		if e.fn == "days_until" {
			days = -days
		}
		return days
	case "len":
		switch x := a.(type) {
		case string:
			return float64(len([]rune(x)))
		case []any:
			return float64(len(x))
		case map[string]any:
			return float64(len(x))
		}
		return 0.0
	case "lower":
		return strings.ToLower(toString(a))
	case "contains":
		return strings.Contains(strings.ToLower(toString(a)), strings.ToLower(toString(e.args[1].eval(v, now))))
	case "empty":
		return a == nil || toString(a) == ""
	case "number":
		if f, ok := toNumber(a); ok {
			return f
		}
		return nil
	}
	return nil
}

func truthy(x any) bool {
	switch v := x.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

func toNumber(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case bool:
		return 0, false
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}

// toString renders a variable for a message.
func toString(x any) string {
	switch v := x.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(x)
}

// compare orders two values: numbers numerically (a string that is a
// number counts as one), strings as text, booleans for equality only.
func compare(l, r any) (int, bool) {
	if l == nil || r == nil {
		if l == nil && r == nil {
			return 0, true
		}
		return 0, false
	}
	if lb, ok := l.(bool); ok {
		if rb, ok := r.(bool); ok {
			if lb == rb {
				return 0, true
			}
			return 1, true
		}
		if rs, ok := r.(string); ok {
			return compare(toString(lb), strings.ToLower(rs))
		}
		return 0, false
	}
	if rb, ok := r.(bool); ok {
		c, ok := compare(rb, l)
		return -c, ok
	}
	ln, lok := toNumber(l)
	rn, rok := toNumber(r)
	if lok && rok {
		switch {
		case ln < rn:
			return -1, true
		case ln > rn:
			return 1, true
		}
		return 0, true
	}
	return strings.Compare(toString(l), toString(r)), true
}

var templateVarRE = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}`)

// templateVars lists the variables a template reads.
func templateVars(t string) []string {
	var out []string
	for _, m := range templateVarRE.FindAllStringSubmatch(t, -1) {
		out = append(out, m[1])
	}
	return out
}

// render fills a template's {{variables}}; a missing one renders empty.
func render(t string, v Vars) string {
	return templateVarRE.ReplaceAllStringFunc(t, func(m string) string {
		name := templateVarRE.FindStringSubmatch(m)[1]
		x, _ := v.Lookup(name)
		return toString(x)
	})
}
