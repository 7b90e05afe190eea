// cniclient is berth's test runtime: it runs one CNI operation for one container through the
// reference libcni (Debian's golang-github-appc-cni-dev), the way a container runtime does.
//
//	cniclient add|check|del CONFLIST_FILE NETNS_PATH CONTAINER_ID IFNAME
//
// Environment:
//
//	CNI_PATH        plugin search path (colon-separated; default /opt/cni/bin)
//	CNI_CACHE       libcni's cache directory (results and configs of ADD; default /var/lib/cni)
//	CNI_CAPS        JSON object of capability arguments (e.g. {"portMappings":[...]}); libcni
//	                passes each one only to the plugins that declare the capability
//	CNI_EXTRA_ARGS  CNI_ARGS-style "K=V;K2=V2" handed to every plugin
//
// The file is read with libcni.ConfListFromFile; a single-plugin .conf (no "plugins" key) is
// turned into a list of one. These three variables are removed from the environment before
// plugins run; everything else (PATH, BERTH_*) reaches them unchanged.
//
// Exit status 0 on success; ADD prints libcni's result, in the conflist's cniVersion, to stdout.
// On failure the status is 1 (2 for a usage error); when the failure is a plugin's CNI error,
// that error ({"code","msg","details"}) is printed as JSON to stdout, and in every case a
// one-line description goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

const usage = "usage: cniclient add|check|del CONFLIST_FILE NETNS_PATH CONTAINER_ID IFNAME"

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	result, err := operate(argv)
	if err != nil {
		return fail(err)
	}
	if result != nil {
		if err := result.PrintTo(os.Stdout); err != nil {
			return fail(fmt.Errorf("printing the result: %w", err))
		}
	}
	return 0
}

func fail(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "cniclient: %s\n%s\n", ue.msg, usage)
		return 2
	}
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		out, mErr := json.MarshalIndent(cniErr, "", "    ")
		if mErr == nil {
			os.Stdout.Write(append(out, '\n'))
		}
	}
	fmt.Fprintf(os.Stderr, "cniclient: %v\n", err)
	return 1
}

func operate(argv []string) (types.Result, error) {
	if len(argv) != 5 {
		return nil, &usageError{fmt.Sprintf("expected 5 arguments, got %d", len(argv))}
	}
	op, confFile, netns, containerID, ifname := argv[0], argv[1], argv[2], argv[3], argv[4]
	if op != "add" && op != "check" && op != "del" {
		return nil, &usageError{fmt.Sprintf("unknown operation %q", op)}
	}

	list, err := loadList(confFile)
	if err != nil {
		return nil, err
	}
	caps, err := capabilityArgs(os.Getenv("CNI_CAPS"))
	if err != nil {
		return nil, err
	}
	args, err := extraArgs(os.Getenv("CNI_EXTRA_ARGS"))
	if err != nil {
		return nil, err
	}
	cniPath := os.Getenv("CNI_PATH")
	if cniPath == "" {
		cniPath = "/opt/cni/bin"
	}
	cacheDir := os.Getenv("CNI_CACHE")
	// The runtime's own settings are not the plugins' business.
	for _, k := range []string{"CNI_CAPS", "CNI_EXTRA_ARGS", "CNI_CACHE"} {
		os.Unsetenv(k)
	}

	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(cniPath), cacheDir, nil)
	rt := &libcni.RuntimeConf{
		ContainerID:    containerID,
		NetNS:          netns,
		IfName:         ifname,
		Args:           args,
		CapabilityArgs: caps,
	}
	ctx := context.Background()

	switch op {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return nil, err
		}
		if result == nil {
			return nil, fmt.Errorf("network %q: ADD succeeded but no plugin returned a result", list.Name)
		}
		if list.CNIVersion != "" {
			converted, err := result.GetAsVersion(list.CNIVersion)
			if err != nil {
				return nil, fmt.Errorf("converting the result to cniVersion %s: %w", list.CNIVersion, err)
			}
			result = converted
		}
		return result, nil
	case "check":
		return nil, cni.CheckNetworkList(ctx, list, rt)
	default:
		return nil, cni.DelNetworkList(ctx, list, rt)
	}
}

// loadList reads a conflist, or a single plugin's .conf as a list of one.
func loadList(file string) (*libcni.NetworkConfigList, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", file, err)
	}
	if _, isList := probe["plugins"]; isList {
		return libcni.ConfListFromFile(file)
	}
	conf, err := libcni.ConfFromFile(file)
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromConf(conf)
}

// capabilityArgs parses CNI_CAPS: a JSON object of capability name to value.
func capabilityArgs(s string) (map[string]interface{}, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	caps := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &caps); err != nil {
		return nil, &usageError{fmt.Sprintf("CNI_CAPS is not a JSON object: %v", err)}
	}
	return caps, nil
}

// extraArgs parses CNI_EXTRA_ARGS ("K=V;K2=V2") into libcni's argument pairs.
func extraArgs(s string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, &usageError{fmt.Sprintf("CNI_EXTRA_ARGS: %q is not KEY=VALUE", part)}
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}
