// hnscheck is berth's strict checker of Windows HNS/HCN JSON documents: it checks a document
// against the field names and Go types of hcsshim's structs (schema.go), unknown fields refused
// at every level, policy Settings checked as the settings struct of their policy Type.
//
//	hnscheck TYPE [FILE]     FILE, or standard input when FILE is - or absent
//	hnscheck -types          lists the TYPE names
//
// TYPE is one of hcsshim's type names (HostComputeNetwork, HostComputeEndpoint,
// ModifyEndpointSettingRequest, HNSEndpoint, ...), or []TYPE for an array of them, or
// map[string]TYPE for an object of them.
//
// What is checked, at every nesting level:
//   - every key is a field of the struct, spelt exactly, and appears once;
//   - every value has the JSON type of the field's Go type: a string for strings, true/false
//     for bool, an integer literal within the range of the Go integer type (uint16: 0-65535),
//     an array for slices, an object for structs; null only where hcsshim has a pointer or an
//     interface;
//   - a field of one of hcsshim's named string types takes one of hcsshim's constants of it;
//   - what hcsshim keeps as json.RawMessage is checked as the struct it stands for: a policy's
//     Settings as the settings struct of its Type, a modify request's Settings as the request
//     of its ResourceType, an HNS v1 policy as the struct of its own Type;
//   - strings that HNS parses (ACL protocols, ports and addresses, IP addresses, prefixes,
//     GUIDs) are well formed;
//   - finally each struct the walk accepted is decoded with encoding/json into its Go type with
//     DisallowUnknownFields, as hcsshim decodes it.
//
// Output: "ok" and exit status 0 when the document passes; otherwise one line per problem,
// "PATH: what is wrong" (PATH like $.Policies[0].Settings.Protocol), and exit status 1.
// A usage error or an unreadable file exits with status 2.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

const usage = "usage: hnscheck TYPE [FILE|-]   (TYPE: hcsshim's type name, []TYPE or map[string]TYPE; hnscheck -types lists them)"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 1 && argv[0] == "-types" {
		names := make([]string, 0, len(types))
		for name := range types {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintln(stdout, strings.Join(names, "\n"))
		return 0
	}
	if len(argv) < 1 || len(argv) > 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	typeName, wrap := argv[0], ""
	for _, prefix := range []string{"[]", "map[string]"} {
		if strings.HasPrefix(typeName, prefix) {
			typeName, wrap = strings.TrimPrefix(typeName, prefix), prefix
		}
	}
	t, ok := types[typeName]
	if !ok {
		fmt.Fprintf(stderr, "hnscheck: unknown type %q (hnscheck -types lists them)\n", typeName)
		return 2
	}
	in := stdin
	if len(argv) == 2 && argv[1] != "-" {
		f, err := os.Open(argv[1])
		if err != nil {
			fmt.Fprintf(stderr, "hnscheck: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}

	doc, err := parse(in)
	if err != nil {
		fmt.Fprintf(stdout, "$: not one JSON value: %v\n", err)
		return 1
	}
	c := &checker{}
	switch wrap {
	case "[]":
		if doc.kind != 'a' {
			c.fail("$", "%s where []%s takes a JSON array", doc.describe(), typeName)
		}
		for i, item := range doc.items {
			c.root(fmt.Sprintf("$[%d]", i), t, item)
		}
	case "map[string]":
		if doc.kind != 'o' {
			c.fail("$", "%s where map[string]%s takes a JSON object", doc.describe(), typeName)
		}
		seen := map[string]bool{}
		for i, key := range doc.keys {
			if seen[key] {
				c.fail(field("$", key), "%q appears twice in one object", key)
			}
			seen[key] = true
			c.root(field("$", key), t, doc.vals[i])
		}
	default:
		c.root("$", t, doc)
	}
	if len(c.problems) == 0 {
		c.crossCheck()
	}
	if len(c.problems) > 0 {
		fmt.Fprintln(stdout, strings.Join(c.problems, "\n"))
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
