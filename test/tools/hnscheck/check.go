package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// node is one JSON value as written: objects keep their keys in order, duplicates included,
// and numbers keep their literal text.
type node struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys  []string
	vals  []*node
	items []*node
	text  string // a string's value, a number's literal
	b     bool
}

// parse reads exactly one JSON value from r; anything after it is an error.
func parse(r io.Reader) (*node, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	n, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("no JSON value")
		}
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				val, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, val)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				item, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, item)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return &node{kind: 's', text: v}, nil
	case json.Number:
		return &node{kind: 'n', text: string(v)}, nil
	case bool:
		return &node{kind: 'b', b: v}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// encode writes the value back as JSON (for the decoder cross-check).
func (n *node) encode(buf *bytes.Buffer) {
	switch n.kind {
	case 'o':
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			n.vals[i].encode(buf)
		}
		buf.WriteByte('}')
	case 'a':
		buf.WriteByte('[')
		for i, item := range n.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			item.encode(buf)
		}
		buf.WriteByte(']')
	case 's':
		sb, _ := json.Marshal(n.text)
		buf.Write(sb)
	case 'n':
		buf.WriteString(n.text)
	case 'b':
		buf.WriteString(strconv.FormatBool(n.b))
	default:
		buf.WriteString("null")
	}
}

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) describe() string {
	switch n.kind {
	case 'o':
		return "a JSON object"
	case 'a':
		return "a JSON array"
	case 's':
		s := n.text
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return "the JSON string " + strconv.Quote(s)
	case 'n':
		return "the JSON number " + n.text
	case 'b':
		return "the JSON " + strconv.FormatBool(n.b)
	}
	return "null"
}

// rule is a field's `hnscheck` tag (see schema.go).
type rule struct {
	any             bool
	as              string
	by, self, table string
	format          string
}

func parseRule(tag string) rule {
	var r rule
	for _, part := range strings.Fields(tag) {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "any":
			r.any = true
		case "as":
			r.as = v
		case "by":
			r.by, r.table, _ = strings.Cut(v, ":")
		case "self":
			r.self, r.table, _ = strings.Cut(v, ":")
		case "fmt":
			r.format = v
		default:
			panic("hnscheck: unknown rule " + part)
		}
	}
	return r
}

var (
	rawType = typeOf(json.RawMessage{})
	ipType  = typeOf(net.IP{})
	plain   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func field(path, key string) string {
	if plain.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// checker walks a document along a Go type, collecting every problem with its JSON path.
type checker struct {
	problems []string
	// roots: each value checked as a struct of its own (the document, each policy's Settings),
	// for the decoder cross-check.
	roots []root
}

type root struct {
	path string
	t    reflect.Type
	n    *node
}

func (c *checker) fail(path, format string, args ...interface{}) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func goName(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "main.", "")
}

// jsonKind says what JSON value a Go type takes.
func jsonKind(t reflect.Type) string {
	switch {
	case t == ipType:
		return "a JSON string"
	case t == rawType:
		return "JSON"
	}
	switch t.Kind() {
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "a JSON true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a JSON integer"
	case reflect.Slice:
		return "a JSON array"
	case reflect.Struct:
		return "a JSON object"
	case reflect.Ptr:
		return jsonKind(t.Elem())
	}
	return "JSON"
}

// root checks a value as a struct of its own and remembers it for the cross-check.
func (c *checker) root(path string, t reflect.Type, n *node) {
	c.roots = append(c.roots, root{path, t, n})
	c.value(path, t, n, rule{}, goName(t))
}

// value checks n against t; where names the field for messages ("AclPolicySetting.Priority").
func (c *checker) value(path string, t reflect.Type, n *node, r rule, where string) {
	if t == rawType {
		c.raw(path, n, r, where)
		return
	}
	if n.kind == 'z' {
		if t.Kind() == reflect.Interface || t.Kind() == reflect.Ptr {
			return
		}
		c.fail(path, "null where %s (%s) takes %s", where, goName(t), jsonKind(t))
		return
	}
	if t == ipType {
		if n.kind != 's' {
			c.fail(path, "%s where %s (net.IP) takes a JSON string", n.describe(), where)
		} else if n.text != "" && net.ParseIP(n.text) == nil {
			c.fail(path, "%q is not an IP address (%s is net.IP)", n.text, where)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Ptr:
		c.value(path, t.Elem(), n, r, where)
	case reflect.String:
		if n.kind != 's' {
			c.fail(path, "%s where %s (%s) takes a JSON string", n.describe(), where, goName(t))
			return
		}
		if allowed, ok := enums[t]; ok && !contains(allowed, n.text) {
			c.fail(path, "%q is not one of hcsshim's %s values (%s): %s", n.text, goName(t), where, strings.Join(allowed, ", "))
		}
		if r.format != "" && n.text != "" {
			check, ok := formats[r.format]
			if !ok {
				panic("hnscheck: unknown format " + r.format)
			}
			if why := check(n.text); why != "" {
				c.fail(path, "%q in %s: %s", n.text, where, why)
			}
		}
	case reflect.Bool:
		if n.kind != 'b' {
			c.fail(path, "%s where %s (bool) takes a JSON true or false", n.describe(), where)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != 'n' {
			c.fail(path, "%s where %s (%s) takes a JSON integer", n.describe(), where, goName(t))
		} else if _, err := strconv.ParseInt(n.text, 10, t.Bits()); err != nil {
			c.fail(path, "%s %s", n.text, integerProblem(n.text, where, t))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.kind != 'n' {
			c.fail(path, "%s where %s (%s) takes a JSON integer", n.describe(), where, goName(t))
		} else if _, err := strconv.ParseUint(n.text, 10, t.Bits()); err != nil {
			c.fail(path, "%s %s", n.text, integerProblem(n.text, where, t))
		}
	case reflect.Slice:
		if n.kind != 'a' {
			c.fail(path, "%s where %s (%s) takes a JSON array", n.describe(), where, goName(t))
			return
		}
		for i, item := range n.items {
			c.value(fmt.Sprintf("%s[%d]", path, i), t.Elem(), item, r, where+"[]")
		}
	case reflect.Struct:
		c.object(path, t, n)
	default:
		panic("hnscheck: no check for " + t.String())
	}
}

// integerProblem says why a number literal is not a value of the integer type t.
func integerProblem(text, where string, t reflect.Type) string {
	if strings.ContainsAny(text, ".eE") {
		return fmt.Sprintf("is not an integer literal, as %s (%s) takes", where, goName(t))
	}
	lo, hi := "0", strconv.FormatUint(1<<uint(t.Bits())-1, 10)
	if t.Bits() == 64 {
		hi = "18446744073709551615"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo = "-" + strconv.FormatUint(1<<uint(t.Bits()-1), 10)
		hi = strconv.FormatUint(1<<uint(t.Bits()-1)-1, 10)
	}
	return fmt.Sprintf("is out of the range of %s (%s: %s to %s)", where, goName(t), lo, hi)
}

// object checks a JSON object against a struct: every key must be one of the struct's JSON
// names, spelt exactly (hcsshim's decoder would match any case; HNS's names are these), once.
func (c *checker) object(path string, t reflect.Type, n *node) {
	if n.kind != 'o' {
		c.fail(path, "%s where %s takes a JSON object", n.describe(), goName(t))
		return
	}
	byName := map[string]reflect.StructField{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		byName[name] = f
		names = append(names, name)
	}
	seen := map[string]bool{}
	for i, key := range n.keys {
		p := field(path, key)
		if seen[key] {
			c.fail(p, "%q appears twice in one object", key)
			continue
		}
		seen[key] = true
		f, ok := byName[key]
		if !ok {
			hint := ""
			for _, name := range names {
				if strings.EqualFold(name, key) {
					hint = fmt.Sprintf(" (hcsshim's field is %q: HNS reads names exactly)", name)
				}
			}
			known := "it has no fields"
			if len(names) > 0 {
				known = "its fields: " + strings.Join(names, ", ")
			}
			c.fail(p, "unknown field %q in %s%s; %s", key, goName(t), hint, known)
			continue
		}
		r := parseRule(f.Tag.Get("hnscheck"))
		where := goName(t) + "." + key
		if r.by != "" {
			c.settings(p, n, n.vals[i], r, where)
			continue
		}
		c.value(p, f.Type, n.vals[i], r, where)
	}
}

// settings checks a value whose struct a sibling field names (a policy's Settings by its Type).
func (c *checker) settings(path string, parent, n *node, r rule, where string) {
	disc := parent.get(r.by)
	if disc == nil {
		c.fail(path, "%s without %s, which says what they are", where, r.by)
		return
	}
	if disc.kind != 's' {
		return // reported at the discriminator itself
	}
	t, ok := tables[r.table][disc.text]
	if !ok {
		c.fail(path, "not checked: hcsshim has no struct for %s %q", r.by, disc.text)
		return
	}
	c.root(path, t, n)
}

// raw checks what hcsshim keeps as json.RawMessage, by the field's rule.
func (c *checker) raw(path string, n *node, r rule, where string) {
	switch {
	case r.any:
	case r.as != "":
		t, ok := types[r.as]
		if !ok {
			panic("hnscheck: unknown type " + r.as)
		}
		c.root(path, t, n)
	case r.self != "":
		if n.kind != 'o' {
			c.fail(path, "%s where %s takes a JSON object", n.describe(), where)
			return
		}
		disc := n.get(r.self)
		if disc == nil {
			c.fail(path, "no %s, which says what this is", r.self)
			return
		}
		if disc.kind != 's' {
			c.fail(field(path, r.self), "%s where a JSON string is expected", disc.describe())
			return
		}
		t, ok := tables[r.table][disc.text]
		if !ok {
			c.fail(field(path, r.self), "%q is not one of hcsshim's policy types: %s", disc.text, strings.Join(keys(tables[r.table]), ", "))
			return
		}
		c.root(path, t, n)
	default:
		panic("hnscheck: " + where + " is json.RawMessage without a rule")
	}
}

// crossCheck decodes every root the way hcsshim does, with encoding/json, into its Go type,
// unknown fields refused (DisallowUnknownFields): what the walk accepted must decode.
func (c *checker) crossCheck() {
	for _, r := range c.roots {
		var buf bytes.Buffer
		r.n.encode(&buf)
		dec := json.NewDecoder(&buf)
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(r.t).Interface()); err != nil {
			c.fail(r.path, "encoding/json refuses it as %s: %v", goName(r.t), err)
		}
	}
}
