package main

import (
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// enums: the values of hcsshim's constants of each named string type. A field of such a type
// takes one of them and nothing else (hcsshim decodes any string, HNS refuses the others).
var enums = map[reflect.Type][]string{
	typeOf(RequestType("")):           {"Add", "Remove", "Update", "Refresh"},
	typeOf(NetworkType("")):           {"NAT", "Transparent", "L2Bridge", "L2Tunnel", "ICS", "Private", "Overlay"},
	typeOf(NetworkResourceType("")):   {"Policy", "DNS", "Extension"},
	typeOf(EndpointResourceType("")):  {"Policy", "Port"},
	typeOf(NamespaceResourceType("")): {"Container", "Endpoint"},
	typeOf(NamespaceType("")):         {"Host", "HostDefault", "Guest", "GuestDefault"},
	typeOf(ActionType("")):            {"Allow", "Block", "Pass"},
	typeOf(DirectionType("")):         {"In", "Out"},
	typeOf(RuleType("")):              {"Host", "Switch"},
	typeOf(SetPolicyType("")):         {"IPSET", "NESTEDIPSET"},
	typeOf(v1ActionType("")):          {"Allow", "Block"},
	typeOf(v1DirectionType("")):       {"In", "Out"},
	typeOf(v1RuleType("")):            {"Host", "Switch"},
}

func init() {
	// The policy type enums are exactly the keys of their settings tables.
	for t, table := range map[reflect.Type]string{
		typeOf(EndpointPolicyType("")): "endpointPolicy",
		typeOf(NetworkPolicyType("")):  "networkPolicy",
		typeOf(SubnetPolicyType("")):   "subnetPolicy",
		typeOf(PolicyType("")):         "v1Policy",
	} {
		enums[t] = keys(tables[table])
	}
}

func keys(m map[string]reflect.Type) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// formats: how HNS reads the string fields whose content hcsshim leaves to it (`fmt=` in the
// schema). An empty string is hcsshim's zero value (the field left out) and always passes.
// Each returns "" when the value is well formed, else what is wrong with it.
var formats = map[string]func(string) string{
	// One address, IPv4 or IPv6.
	"ip": func(s string) string {
		if net.ParseIP(s) == nil {
			return "not an IP address"
		}
		return ""
	},
	// An address prefix, ADDRESS/LENGTH.
	"prefix": func(s string) string {
		if _, _, err := net.ParseCIDR(s); err != nil {
			return "not an address prefix (ADDRESS/LENGTH)"
		}
		return ""
	},
	// ACL addresses: addresses and prefixes separated by commas.
	"addresses": func(s string) string {
		return eachItem(s, func(item string) string {
			if strings.Contains(item, "/") {
				if _, _, err := net.ParseCIDR(item); err != nil {
					return "not an address prefix"
				}
			} else if net.ParseIP(item) == nil {
				return "not an IP address"
			}
			return ""
		})
	},
	// ACL ports: ports (0-65535) and FIRST-LAST ranges separated by commas.
	"ports": func(s string) string {
		return eachItem(s, func(item string) string {
			first, last, isRange := strings.Cut(item, "-")
			a, ok := decimal(first, 65535)
			if !ok {
				return "not a port (0-65535) or a FIRST-LAST range"
			}
			if isRange {
				b, ok := decimal(last, 65535)
				if !ok || b < a {
					return "not a port range FIRST-LAST with FIRST <= LAST <= 65535"
				}
			}
			return ""
		})
	},
	// ACL protocols: IANA protocol numbers separated by commas, 256 meaning any.
	"protocols": func(s string) string {
		return eachItem(s, func(item string) string {
			if _, ok := decimal(item, 256); !ok {
				return "not an IP protocol number (0-255, or 256 for any)"
			}
			return ""
		})
	},
	// A GUID in its textual form (hcsshim's guid.GUID), 8-4-4-4-12 hexadecimal digits.
	"guid": func(s string) string {
		if len(s) != 36 {
			return "not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
		}
		for i, r := range s {
			dash := i == 8 || i == 13 || i == 18 || i == 23
			hex := (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')
			if (dash && r != '-') || (!dash && !hex) {
				return "not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
			}
		}
		return ""
	},
}

// eachItem checks a comma-separated list: no empty item, no spaces, each item well formed.
func eachItem(s string, check func(string) string) string {
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			return "an empty item in the comma-separated list"
		}
		if why := check(item); why != "" {
			return strconv.Quote(item) + " is " + why
		}
	}
	return ""
}

// decimal reads a plain decimal number (digits only, no sign, no leading zero) up to max.
func decimal(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil && v <= max
}
