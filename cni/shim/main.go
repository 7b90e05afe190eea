// The installed CNI plugin: a small static program with no networking logic. A runtime
// starts it once per pod operation; it hands the request (the environment and stdin) to
// berthd's CNI socket and prints berthd's answer, byte for byte, with its exit status. When
// berthd is not running it runs the in-process Node plugin instead, so a node whose agent is
// down still networks pods. When neither can run it prints a CNI error (code 11, try again
// later) naming what is missing. It answers VERSION itself.
//
// Its settings are a JSON document in a fixed-size block inside the binary, which
// `berth install` (and the build) writes in place: the plugin's name, the socket, the Node
// binary and the fallback launcher, and the CNI versions. So a copy of the file in another
// folder (a DaemonSet copies plugins into the host's /opt/cni/bin) behaves the same.
//
// Frames on the socket: a 4-byte big-endian length, then JSON.
//
//	request:  {"plugin": "berth-bridge", "env": ["K=V", ...], "stdin": "<base64>"}
//	response: {"code": 0, "stdout": "<base64>", "stderr": "<base64>"}
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// settingsBlock is rewritten in the binary by `berth install`: the marker line, then JSON
// padded with spaces to the same length. It is one constant expression, so the compiler
// stores it as one literal that can be found and patched; its length must not change, and
// the marker text must appear nowhere else in the program.
var settingsBlock = "BERTH-SHIM-SETTINGS-V1\n" + pad4k

const markerLen = 23

const (
	pad64 = "                                                                "
	pad1k = pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64 + pad64
	pad4k = pad1k + pad1k + pad1k + pad1k
)

type settings struct {
	Plugin   string   `json:"plugin"`
	Socket   string   `json:"socket"`
	Node     string   `json:"node"`
	Launcher string   `json:"launcher"`
	Versions []string `json:"versions"`
}

type request struct {
	Plugin string   `json:"plugin"`
	Env    []string `json:"env"`
	Stdin  []byte   `json:"stdin"`
}

type response struct {
	Code   int    `json:"code"`
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
}

// CNI error codes used here (spec: 5 I/O, 11 try again later).
const (
	codeIO       = 5
	codeTryAgain = 11
)

const maxFrame = 16 << 20

const answerTimeout = 2 * time.Minute

func main() {
	os.Exit(run())
}

func run() int {
	s := loadSettings()
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		return cniError(stdin, codeIO, "cannot read the network configuration from stdin", err.Error())
	}
	command := os.Getenv("CNI_COMMAND")
	if command == "VERSION" {
		return version(s, stdin)
	}

	socket := s.Socket
	// A run directory named in the environment moves the socket with it (as it moves every
	// other runtime file of berth's plugins).
	if dir := os.Getenv("BERTH_RUN_DIR"); dir != "" {
		socket = filepath.Join(dir, "cni.sock")
	}
	conn, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		if isAbsent(err) {
			return fallback(s, socket, stdin, err)
		}
		return cniError(stdin, codeTryAgain, fmt.Sprintf("cannot reach berthd at %s", socket), err.Error())
	}
	defer conn.Close()
	// A socket systemd holds for a berthd that is still starting queues the request; give it
	// time, but not forever.
	_ = conn.SetDeadline(time.Now().Add(answerTimeout))
	res, err := exchange(conn, request{Plugin: s.Plugin, Env: os.Environ(), Stdin: stdin})
	if err != nil {
		return cniError(stdin, codeTryAgain, fmt.Sprintf("berthd at %s did not answer the %s request", socket, command), err.Error())
	}
	os.Stdout.Write(res.Stdout)
	os.Stderr.Write(res.Stderr)
	return res.Code
}

func loadSettings() settings {
	s := settings{Socket: "/run/berth/cni.sock", Versions: []string{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}}
	body := strings.TrimSpace(settingsBlock[markerLen:])
	if body != "" {
		_ = json.Unmarshal([]byte(body), &s)
	}
	if s.Plugin == "" {
		s.Plugin = filepath.Base(os.Args[0])
	}
	return s
}

// isAbsent: no berthd listens (no socket file, or a socket file left by a stopped berthd).
func isAbsent(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

func exchange(conn net.Conn, req request) (response, error) {
	var res response
	body, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	frame := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	copy(frame[4:], body)
	if _, err := conn.Write(frame); err != nil {
		return res, err
	}
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return res, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > maxFrame {
		return res, fmt.Errorf("answer of %d bytes is larger than %d", n, maxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return res, err
	}
	err = json.Unmarshal(buf, &res)
	return res, err
}

// fallback runs the in-process Node plugin with the same environment and stdin.
func fallback(s settings, socket string, stdin []byte, dialErr error) int {
	missing := ""
	if s.Node == "" || s.Launcher == "" {
		missing = "no fallback plugin was recorded (run berth install)"
	} else if _, err := os.Stat(s.Node); err != nil {
		missing = fmt.Sprintf("the Node binary %s is missing", s.Node)
	} else if _, err := os.Stat(s.Launcher); err != nil {
		missing = fmt.Sprintf("the fallback plugin %s is missing", s.Launcher)
	}
	if missing != "" {
		return cniError(stdin, codeTryAgain, fmt.Sprintf("berthd is not running (%s: %v) and %s", socket, unwrapDial(dialErr), missing), "start berthd, or re-run berth install")
	}
	cmd := exec.Command(s.Node, s.Launcher)
	cmd.Stdin = strings.NewReader(string(stdin))
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	err := cmd.Run()
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() >= 0 {
		return exit.ExitCode()
	}
	return cniError(stdin, codeTryAgain, fmt.Sprintf("the fallback plugin %s could not run", s.Launcher), err.Error())
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// version answers VERSION as the Node plugins do: the caller's cniVersion echoed when it
// is one of ours, else the newest.
func version(s settings, stdin []byte) int {
	current := s.Versions[len(s.Versions)-1]
	var conf struct {
		CNIVersion string `json:"cniVersion"`
	}
	if json.Unmarshal(stdin, &conf) == nil {
		for _, v := range s.Versions {
			if v == conf.CNIVersion {
				current = v
			}
		}
	}
	out, _ := json.Marshal(struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{current, s.Versions})
	os.Stdout.Write(append(out, '\n'))
	return 0
}

// cniError prints a CNI error in the request's cniVersion (the newest when unknown).
func cniError(stdin []byte, code int, msg, details string) int {
	var conf struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &conf)
	if conf.CNIVersion == "" {
		conf.CNIVersion = "1.1.0"
	}
	out, _ := json.Marshal(struct {
		CNIVersion string `json:"cniVersion"`
		Code       int    `json:"code"`
		Msg        string `json:"msg"`
		Details    string `json:"details,omitempty"`
	}{conf.CNIVersion, code, msg, details})
	os.Stdout.Write(append(out, '\n'))
	return 1
}
