/*
 * The installed CNI plugin: a small static program with no networking logic. A runtime
 * starts it once per pod operation; it hands the request (the environment and stdin) to
 * berthd's CNI socket and prints berthd's answer, byte for byte, with its exit status. When
 * berthd is not running (or closes the connection before it has the whole request) it runs
 * the in-process Node plugin instead, so a node whose agent is down still networks pods. When
 * neither can run it prints a CNI error (code 11, try again later) naming what is missing. It
 * answers VERSION itself.
 *
 * C rather than Go: a static C program starts in about a millisecond, a Go one in about five
 * on the project's VMs, and this start is paid on every pod operation.
 *
 * Its settings are a JSON document in a fixed-size block inside the binary, which
 * `berth install` (and the build) writes in place (cni/shim-settings.ts): the plugin's name,
 * the socket, the Node binary and the fallback launcher, and the CNI versions. So a copy of the
 * file in another folder (a DaemonSet copies plugins into the host's /opt/cni/bin) behaves
 * the same.
 *
 * Frames on the socket: a 4-byte big-endian length, then JSON.
 *   request:  {"plugin": "berth-bridge", "env": ["K=V", ...], "stdin": "<base64>"}
 *   response: {"code": 0, "stdout": "<base64>", "stderr": "<base64>"}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define P16 "                "
#define P256 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16
#define P4K P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256 P256
#define MARKER "BERTH-SHIM-SETTINGS-V1\n"
/* Rewritten in the binary by `berth install`; volatile so the compiler keeps it as data. */
static volatile const char settings_block[] = MARKER P4K;

#define CODE_IO 5
#define CODE_TRY_AGAIN 11
#define MAX_FRAME (16u << 20)
#define ANSWER_TIMEOUT_SECONDS 120
#define MAX_VERSIONS 16

/* ---- growable buffer ---- */

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string literal of `s` (bytes >= 0x80 pass through as they are). */
static void put_json_string(struct buf *b, const char *s) {
  put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(b, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      put(b, e, 6);
    } else {
      put(b, (const char *)&c, 1);
    }
  }
  put(b, "\"", 1);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct buf *b, const unsigned char *s, size_t n) {
  char q[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
    q[0] = B64[v >> 18 & 63];
    q[1] = B64[v >> 12 & 63];
    q[2] = i + 1 < n ? B64[v >> 6 & 63] : '=';
    q[3] = i + 2 < n ? B64[v & 63] : '=';
    put(b, q, 4);
  }
}

static int b64value(char c) {
  const char *at = c ? strchr(B64, c) : NULL;
  return at ? (int)(at - B64) : -1;
}

/* Decodes base64 text (up to the first character outside the alphabet) into `out`. */
static void decode_base64(const char *s, struct buf *out) {
  uint32_t acc = 0;
  int bits = 0;
  for (; *s && *s != '"'; s++) {
    int v = b64value(*s);
    if (v < 0) continue; /* '=' padding */
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char c = (char)(acc >> bits & 0xff);
      put(out, &c, 1);
    }
  }
}

/* ---- just enough JSON reading: the string (or integer) value of a top-level key ---- */

/* Points after `"key"` and its colon in `json`, or NULL. */
static const char *after_key(const char *json, const char *key) {
  size_t k = strlen(key);
  for (const char *p = json; (p = strchr(p, '"')) != NULL; p++) {
    if (strncmp(p + 1, key, k) == 0 && p[k + 1] == '"') {
      const char *q = p + k + 2;
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
      if (*q != ':') continue;
      q++;
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
      return q;
    }
  }
  return NULL;
}

/* Reads the JSON string at `p` (which must start with '"') into `out`; returns the position after it. */
static const char *read_string(const char *p, char *out, size_t size) {
  size_t n = 0;
  if (*p != '"') return NULL;
  for (p++; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\') {
      p++;
      switch (*p) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned v = 0;
          if (sscanf(p + 1, "%4x", &v) != 1) return NULL;
          p += 4;
          c = v < 0x80 ? (char)v : '?';
          break;
        }
        case 0: return NULL;
        default: c = *p;
      }
    }
    if (n + 1 < size) out[n++] = c;
  }
  out[n] = 0;
  return *p == '"' ? p + 1 : NULL;
}

static int string_of(const char *json, const char *key, char *out, size_t size) {
  const char *p = after_key(json, key);
  return p && read_string(p, out, size) != NULL;
}

/* ---- settings ---- */

struct settings {
  char plugin[256], socket[1024], node[1024], launcher[1024];
  char versions[MAX_VERSIONS][16];
  int nversions;
};

static void load_settings(struct settings *s, const char *argv0) {
  static char body[sizeof settings_block];
  size_t n = sizeof settings_block - 1;
  for (size_t i = 0; i < n; i++) body[i] = settings_block[i];
  body[n] = 0;
  const char *json = body + strlen(MARKER);
  memset(s, 0, sizeof *s);
  strcpy(s->socket, "/run/berth/cni.sock");
  string_of(json, "plugin", s->plugin, sizeof s->plugin);
  string_of(json, "socket", s->socket, sizeof s->socket);
  string_of(json, "node", s->node, sizeof s->node);
  string_of(json, "launcher", s->launcher, sizeof s->launcher);
  const char *p = after_key(json, "versions");
  if (p && *p == '[') {
    for (p++; s->nversions < MAX_VERSIONS;) {
      while (*p == ' ' || *p == ',') p++;
      if (*p != '"') break;
      p = read_string(p, s->versions[s->nversions], sizeof s->versions[0]);
      if (!p) break;
      s->nversions++;
    }
  }
  if (s->nversions == 0) {
    static const char *defaults[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
    for (int i = 0; i < 7; i++) strcpy(s->versions[s->nversions++], defaults[i]);
  }
  if (!s->plugin[0]) {
    const char *slash = strrchr(argv0, '/');
    snprintf(s->plugin, sizeof s->plugin, "%s", slash ? slash + 1 : argv0);
  }
}

/* ---- output ---- */

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

/* The request's cniVersion, or the newest when it names none. */
static void cni_version_of(const char *stdin_text, char *out, size_t size) {
  if (!string_of(stdin_text, "cniVersion", out, size) || !out[0]) snprintf(out, size, "1.1.0");
}

/* Prints a CNI error in the request's cniVersion; returns the exit status 1. */
static int cni_error(const char *stdin_text, int code, const char *details, const char *fmt, ...) {
  char msg[4096], version[32];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cni_version_of(stdin_text, version, sizeof version);
  struct buf b = {0};
  puts_(&b, "{\"cniVersion\":");
  put_json_string(&b, version);
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  puts_(&b, num);
  put_json_string(&b, msg);
  if (details && details[0]) {
    puts_(&b, ",\"details\":");
    put_json_string(&b, details);
  }
  puts_(&b, "}\n");
  write_all(1, b.p, b.len);
  return 1;
}

/* VERSION as the Node plugins answer it: the caller's cniVersion echoed when it is ours. */
static int version(const struct settings *s, const char *stdin_text) {
  char asked[32] = "";
  const char *current = s->versions[s->nversions - 1];
  if (string_of(stdin_text, "cniVersion", asked, sizeof asked)) {
    for (int i = 0; i < s->nversions; i++) if (strcmp(asked, s->versions[i]) == 0) current = s->versions[i];
  }
  struct buf b = {0};
  puts_(&b, "{\"cniVersion\":");
  put_json_string(&b, current);
  puts_(&b, ",\"supportedVersions\":[");
  for (int i = 0; i < s->nversions; i++) {
    if (i) puts_(&b, ",");
    put_json_string(&b, s->versions[i]);
  }
  puts_(&b, "]}\n");
  write_all(1, b.p, b.len);
  return 0;
}

/* ---- the two paths ---- */

/*
 * Sends all of `n` bytes on the socket; 0, or -1 with errno. MSG_NOSIGNAL: a berthd that
 * closes the connection mid-request must give the shim EPIPE to answer, not a SIGPIPE that
 * kills it with nothing on stdout (and no process-wide SIG_IGN, which the fallback's Node
 * would inherit).
 */
static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* What through_berthd returns when berthd went away before it had the whole request. */
#define NOT_DELIVERED (-1)

/*
 * Through berthd; returns the exit status, or NOT_DELIVERED (with errno) when berthd closed
 * the connection before it had read the whole request (the send failed, or the kernel reports
 * unread data): berthd acts only on a complete frame, so that request was not acted on, and
 * the caller may run it in-process as when berthd is not running. When berthd read it all and
 * then gave no answer, the result is error 11, never a second run: it may have acted on it.
 */
static int through_berthd(int fd, const struct settings *s, const struct buf *in, const char *socket_path) {
  const char *command = getenv("CNI_COMMAND");
  struct buf req = {0};
  puts_(&req, "xxxx{\"plugin\":");
  put_json_string(&req, s->plugin);
  puts_(&req, ",\"env\":[");
  for (char **e = environ; *e; e++) {
    if (e != environ) puts_(&req, ",");
    put_json_string(&req, *e);
  }
  puts_(&req, "],\"stdin\":\"");
  put_base64(&req, (const unsigned char *)in->p, in->len);
  puts_(&req, "\"}");
  uint32_t n = (uint32_t)(req.len - 4);
  req.p[0] = (char)(n >> 24);
  req.p[1] = (char)(n >> 16);
  req.p[2] = (char)(n >> 8);
  req.p[3] = (char)n;
  int sent = send_all(fd, req.p, req.len);
  int send_errno = errno;
  /* A berthd still there sees the frame end short and answers at once instead of waiting. */
  if (sent != 0) shutdown(fd, SHUT_WR);

  /* A socket systemd holds for a berthd that is still starting queues the request. */
  struct timeval tv = {ANSWER_TIMEOUT_SECONDS, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char head[4];
  errno = 0;
  /* Even when the send failed, berthd may have answered before closing (a refused request:
     oversized, or a peer it does not serve); that answer is the one to print. */
  if (read_full(fd, (char *)head, 4) != 0) {
    if (sent != 0) {
      errno = send_errno;
      return NOT_DELIVERED;
    }
    /* On a unix socket, ECONNRESET means the peer closed with part of what was sent still
       unread: berthd never had the whole frame. (One that read it all and then died gives
       end of file, and the request may have been acted on.) */
    if (errno == ECONNRESET) return NOT_DELIVERED;
    return cni_error(in->p, CODE_TRY_AGAIN, errno ? strerror(errno) : "connection closed", "berthd at %s did not answer the %s request", socket_path, command ? command : "");
  }
  uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
  if (len > MAX_FRAME) return cni_error(in->p, CODE_TRY_AGAIN, NULL, "berthd at %s answered %u bytes, more than %u", socket_path, len, MAX_FRAME);
  char *body = malloc((size_t)len + 1);
  if (!body) abort();
  errno = 0;
  if (read_full(fd, body, len) != 0) {
    return cni_error(in->p, CODE_TRY_AGAIN, errno ? strerror(errno) : "connection closed", "berthd at %s did not answer the %s request", socket_path, command ? command : "");
  }
  body[len] = 0;
  const char *code = after_key(body, "code");
  const char *out = after_key(body, "stdout");
  const char *err = after_key(body, "stderr");
  if (!code || !out || *out != '"' || !err || *err != '"') return cni_error(in->p, CODE_TRY_AGAIN, NULL, "berthd at %s gave an answer that is not one", socket_path);
  struct buf o = {0}, e = {0};
  decode_base64(out + 1, &o);
  decode_base64(err + 1, &e);
  if (o.len) write_all(1, o.p, o.len);
  if (e.len) write_all(2, e.p, e.len);
  return atoi(code);
}

/*
 * The in-process Node plugin with the same environment and stdin; returns its exit status.
 * `berthd_state` says why berthd did not serve the request, `berthd_errno` the error seen.
 */
static int fallback(const struct settings *s, const struct buf *in, const char *socket_path, const char *berthd_state, int berthd_errno) {
  struct stat st;
  const char *missing = NULL;
  char what[2200];
  if (!s->node[0] || !s->launcher[0]) {
    missing = "no fallback plugin was recorded (run berth install)";
  } else if (stat(s->node, &st) != 0) {
    snprintf(what, sizeof what, "the Node binary %s is missing", s->node);
    missing = what;
  } else if (stat(s->launcher, &st) != 0) {
    snprintf(what, sizeof what, "the fallback plugin %s is missing", s->launcher);
    missing = what;
  }
  if (missing) {
    return cni_error(in->p, CODE_TRY_AGAIN, "start berthd, or re-run berth install", "berthd %s (%s: %s) and %s", berthd_state, socket_path, strerror(berthd_errno), missing);
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return cni_error(in->p, CODE_TRY_AGAIN, strerror(errno), "cannot start the fallback plugin %s", s->launcher);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return cni_error(in->p, CODE_TRY_AGAIN, strerror(errno), "cannot start the fallback plugin %s", s->launcher);
  if (pid == 0) {
    /* The plugin is one process to the runtime: when it kills this one (a timeout), the Node
       plugin must die too, or it would go on changing the pod beside the runtime's retry. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    dup2(pipefd[0], 0);
    char *const args[] = {(char *)s->node, (char *)s->launcher, NULL};
    execve(s->node, args, environ);
    _exit(127);
  }
  close(pipefd[0]);
  signal(SIGPIPE, SIG_IGN);
  write_all(pipefd[1], in->p, in->len);
  close(pipefd[1]);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return cni_error(in->p, CODE_TRY_AGAIN, strerror(errno), "the fallback plugin %s could not run", s->launcher);
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 127) return cni_error(in->p, CODE_TRY_AGAIN, NULL, "the fallback plugin %s could not run (%s did not start)", s->launcher, s->node);
    return WEXITSTATUS(status);
  }
  return cni_error(in->p, CODE_TRY_AGAIN, NULL, "the fallback plugin %s was killed by signal %d", s->launcher, WTERMSIG(status));
}

int main(int argc, char **argv) {
  (void)argc;
  struct settings s;
  load_settings(&s, argv[0]);
  struct buf in = {0};
  put(&in, "", 0);
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return cni_error("", CODE_IO, strerror(errno), "cannot read the network configuration from stdin");
    if (r == 0) break;
    put(&in, chunk, (size_t)r);
  }
  const char *command = getenv("CNI_COMMAND");
  if (command && strcmp(command, "VERSION") == 0) return version(&s, in.p);

  char socket_path[1100];
  const char *run_dir = getenv("BERTH_RUN_DIR");
  /* A run directory named in the environment moves the socket with it. */
  if (run_dir && run_dir[0]) snprintf(socket_path, sizeof socket_path, "%s/cni.sock", run_dir);
  else snprintf(socket_path, sizeof socket_path, "%s", s.socket);

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) return cni_error(in.p, CODE_TRY_AGAIN, NULL, "the socket path %s is too long", socket_path);
  strcpy(addr.sun_path, socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return cni_error(in.p, CODE_TRY_AGAIN, strerror(errno), "cannot reach berthd at %s", socket_path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(fd);
    /* No berthd listens: no socket file, or one left by a stopped berthd. */
    if (e == ENOENT || e == ECONNREFUSED) return fallback(&s, &in, socket_path, "is not running", e);
    return cni_error(in.p, CODE_TRY_AGAIN, strerror(e), "cannot reach berthd at %s", socket_path);
  }
  int status = through_berthd(fd, &s, &in, socket_path);
  if (status != NOT_DELIVERED) return status;
  /* berthd went away (it was stopping, or was killed) before it had the whole request. */
  int e = errno;
  close(fd);
  return fallback(&s, &in, socket_path, "closed the connection before taking the request", e);
}
