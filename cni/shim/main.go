// The installed CNI plugin: a small static program with no networking logic. A runtime
// starts it once per pod operation; it hands the request (the environment and stdin) to
// berthd's CNI socket and prints berthd's answer, byte for byte, with its exit status. When
// berthd is not running (or closes the connection before it has the whole request) it runs
// the in-process Node plugin instead, so a node whose agent is down still networks pods. When
// neither can run it prints a CNI error (code 11, try again later) naming what is missing. It
// answers VERSION itself.
//
// Every pod operation pays this program's start, so it imports little: the socket and the
// fallback's fork go through package syscall (no net, no os/exec), which also gives the
// exact errors the fallback decision needs (EPIPE, ECONNRESET).
//
// Its settings are a JSON document in a fixed-size block inside the binary, which
// `berth install` (and the build) writes in place (cni/shim-settings.ts): the plugin's name,
// the socket, the Node binary and the fallback launcher, and the CNI versions. So a copy of
// the file in another folder (a DaemonSet copies plugins into the host's /opt/cni/bin)
// behaves the same.
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
	"os"
	"strconv"
	"strings"
	"syscall"
)

// settingsBlock is rewritten in the binary by `berth install`: the marker line, then JSON
// padded with spaces to the same length. It is one constant expression, so the compiler
// stores it as one literal that can be found and patched; its length must not change, and
// the marker text must appear nowhere else in the program.
var settingsBlock = "BERTH-SHIM-SETTINGS-V1\n" + pad4k

const markerLen = len("BERTH-SHIM-SETTINGS-V1\n")

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

// response has pointers so that an answer missing a field is told from an empty one.
type response struct {
	Code   *int    `json:"code"`
	Stdout *[]byte `json:"stdout"`
	Stderr *[]byte `json:"stderr"`
}

// CNI error codes used here (spec: 5 I/O, 11 try again later).
const (
	codeIO       = 5
	codeTryAgain = 11
)

const (
	maxFrame = 16 << 20
	// A socket systemd holds for a berthd that is still starting queues the request: wait for
	// the answer this long, not forever.
	answerTimeoutSeconds = 120
)

func main() {
	os.Exit(run())
}

func run() int {
	s := loadSettings()
	stdin, err := readAll(0)
	if err != nil {
		return cniError(stdin, codeIO, err.Error(), "cannot read the network configuration from stdin")
	}
	command := os.Getenv("CNI_COMMAND")
	if command == "VERSION" {
		return version(s, stdin)
	}

	socket := s.Socket
	// A run directory named in the environment moves the socket with it.
	if dir := os.Getenv("BERTH_RUN_DIR"); dir != "" {
		socket = dir + "/cni.sock"
	}
	if len(socket) >= 108 { // sun_path
		return cniError(stdin, codeTryAgain, "", "the socket path "+socket+" is too long")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return cniError(stdin, codeTryAgain, describe(err), "cannot reach berthd at "+socket)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		syscall.Close(fd)
		// No berthd listens: no socket file, or one left by a stopped berthd.
		if err == syscall.ENOENT || err == syscall.ECONNREFUSED {
			return fallback(s, stdin, socket, "is not running", err)
		}
		return cniError(stdin, codeTryAgain, describe(err), "cannot reach berthd at "+socket)
	}
	status, undelivered := throughBerthd(fd, s, stdin, socket, command)
	syscall.Close(fd)
	if undelivered == nil {
		return status
	}
	// berthd went away (it was stopping, or was killed) before it had the whole request.
	return fallback(s, stdin, socket, "closed the connection before taking the request", undelivered)
}

func loadSettings() settings {
	s := settings{Socket: "/run/berth/cni.sock"}
	if body := strings.TrimSpace(settingsBlock[markerLen:]); body != "" {
		_ = json.Unmarshal([]byte(body), &s)
	}
	if len(s.Versions) == 0 {
		s.Versions = []string{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}
	}
	if s.Plugin == "" {
		s.Plugin = os.Args[0][strings.LastIndexByte(os.Args[0], '/')+1:]
	}
	return s
}

// throughBerthd sends the request on the connected socket and prints berthd's answer; it
// returns the exit status, or the error seen when berthd closed the connection before it had
// read the whole request (the send failed, or the kernel reports unread data). berthd acts
// only on a complete frame, so that request was not acted on and may run in-process instead.
// When berthd read it all and then gave no answer, the result is error 11, never a second
// run: it may have acted on it.
func throughBerthd(fd int, s settings, stdin []byte, socket, command string) (int, error) {
	body, err := json.Marshal(request{Plugin: s.Plugin, Env: os.Environ(), Stdin: stdin})
	if err != nil {
		return cniError(stdin, codeTryAgain, err.Error(), "cannot encode the request for berthd"), nil
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	sendErr := sendAll(fd, append(frame, body...))
	if sendErr != nil {
		// A berthd still there sees the frame end short and answers at once instead of waiting.
		_ = syscall.Shutdown(fd, syscall.SHUT_WR)
	}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: answerTimeoutSeconds})
	noAnswer := func(err error) int {
		return cniError(stdin, codeTryAgain, describe(err), "berthd at "+socket+" did not answer the "+command+" request")
	}
	var head [4]byte
	// Even when the send failed, berthd may have answered before closing (a refused request:
	// oversized, or a peer it does not serve); that answer is the one to print.
	if err := readFull(fd, head[:]); err != nil {
		if sendErr != nil {
			return 0, sendErr
		}
		// On a unix socket, ECONNRESET means the peer closed with part of what was sent still
		// unread: berthd never had the whole frame. (One that read it all and then died gives
		// end of file, and the request may have been acted on.)
		if err == syscall.ECONNRESET {
			return 0, err
		}
		return noAnswer(err), nil
	}
	n := int(binary.BigEndian.Uint32(head[:]))
	if n > maxFrame {
		return cniError(stdin, codeTryAgain, "", "berthd at "+socket+" answered "+strconv.Itoa(n)+" bytes, more than "+strconv.Itoa(maxFrame)), nil
	}
	answer := make([]byte, n)
	if err := readFull(fd, answer); err != nil {
		return noAnswer(err), nil
	}
	var res response
	if json.Unmarshal(answer, &res) != nil || res.Code == nil || res.Stdout == nil || res.Stderr == nil {
		return cniError(stdin, codeTryAgain, "", "berthd at "+socket+" gave an answer that is not one"), nil
	}
	writeAll(1, *res.Stdout)
	writeAll(2, *res.Stderr)
	return *res.Code, nil
}

// fallback runs the in-process Node plugin with the same environment and stdin and returns
// its exit status. `state` says why berthd did not serve the request, `cause` the error seen.
func fallback(s settings, stdin []byte, socket, state string, cause error) int {
	missing := ""
	var st syscall.Stat_t
	if s.Node == "" || s.Launcher == "" {
		missing = "no fallback plugin was recorded (run berth install)"
	} else if syscall.Stat(s.Node, &st) != nil {
		missing = "the Node binary " + s.Node + " is missing"
	} else if syscall.Stat(s.Launcher, &st) != nil {
		missing = "the fallback plugin " + s.Launcher + " is missing"
	}
	if missing != "" {
		return cniError(stdin, codeTryAgain, "start berthd, or re-run berth install", "berthd "+state+" ("+socket+": "+describe(cause)+") and "+missing)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return cniError(stdin, codeTryAgain, describe(err), "cannot start the fallback plugin "+s.Launcher)
	}
	// The plugin is one process to the runtime: when it kills this one (a timeout), the Node
	// plugin must die too, or it would go on changing the pod beside the runtime's retry.
	// (Go's fork checks that the parent is still there after setting the signal.)
	pid, err := syscall.ForkExec(s.Node, []string{s.Node, s.Launcher}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(p[0]), 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	syscall.Close(p[0])
	if err != nil {
		syscall.Close(p[1])
		return cniError(stdin, codeTryAgain, describe(err), "the fallback plugin "+s.Launcher+" could not run ("+s.Node+" did not start)")
	}
	// A plugin that exits without reading all of stdin gives EPIPE here, not SIGPIPE (Go
	// turns a broken pipe into an error on every descriptor but 1 and 2).
	writeAll(p[1], stdin)
	syscall.Close(p[1])
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return cniError(stdin, codeTryAgain, describe(err), "the fallback plugin "+s.Launcher+" could not run")
		}
	}
	if ws.Signaled() {
		return cniError(stdin, codeTryAgain, "", "the fallback plugin "+s.Launcher+" was killed by signal "+strconv.Itoa(int(ws.Signal())))
	}
	return ws.ExitStatus()
}

// version answers VERSION as the Node plugins do: the caller's cniVersion echoed when it
// is one of ours, else the newest.
func version(s settings, stdin []byte) int {
	current := s.Versions[len(s.Versions)-1]
	asked := cniVersionOf(stdin)
	for _, v := range s.Versions {
		if v == asked {
			current = v
		}
	}
	out, _ := json.Marshal(struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{current, s.Versions})
	writeAll(1, append(out, '\n'))
	return 0
}

func cniVersionOf(stdin []byte) string {
	var conf struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &conf)
	return conf.CNIVersion
}

// cniError prints a CNI error in the request's cniVersion (the newest when it names none)
// and returns the exit status 1.
func cniError(stdin []byte, code int, details, msg string) int {
	v := cniVersionOf(stdin)
	if v == "" {
		v = "1.1.0"
	}
	out, _ := json.Marshal(struct {
		CNIVersion string `json:"cniVersion"`
		Code       int    `json:"code"`
		Msg        string `json:"msg"`
		Details    string `json:"details,omitempty"`
	}{v, code, msg, details})
	writeAll(1, append(out, '\n'))
	return 1
}

// describe: a system error as the C library words it ("Connection reset by peer"), the way
// a runtime's logs show other programs' system errors.
func describe(err error) string {
	m := err.Error()
	if _, system := err.(syscall.Errno); system && m != "" {
		return strings.ToUpper(m[:1]) + m[1:]
	}
	return m
}

// ---- the descriptors, without package os's files (no poller, no finalizers) ----

// errClosed: the peer ended the connection before the whole frame arrived.
var errClosed = errors.New("connection closed")

func readAll(fd int) ([]byte, error) {
	var out []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(fd, chunk)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, chunk[:n]...)
	}
}

// readFull fills b, or fails; end of file before that is errClosed.
func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Read(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errClosed
		}
		b = b[n:]
	}
	return nil
}

// MSG_NOSIGNAL: a berthd that closes the connection mid-request must give EPIPE to answer,
// not a signal.
func sendAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.SendmsgN(fd, b, nil, nil, syscall.MSG_NOSIGNAL)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		b = b[n:]
	}
}
