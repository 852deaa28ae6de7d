// Package config holds gonicorn's settings: one table of settings yields the command-line
// flags (with gunicorn's names and defaults), the GONICORN_CMD_ARGS environment variable,
// --help, the names a gunicorn.conf.py config file may use (file.go) and the settings
// reference in docs/settings.md. Nothing here reads or writes package-level state: ParseFrom
// takes the environment and the config file's loader as arguments so tests can pass their own.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/gonicorn/gonicorn/internal/proxy"
)

// Version is the gonicorn release, printed by --version and sent as SERVER_SOFTWARE.
const Version = "0.1.0"

// Config is the validated configuration of one gonicorn run. The zero value is not useful;
// get one from Parse.
type Config struct {
	// App is the WSGI application, "module[:callable]" (APP_MODULE); the callable may be
	// "name()" to call a factory once per worker.
	App string
	// Django is the project found by its manage.py when no APP_MODULE was given (App is then
	// ""): the workers serve its settings' WSGI_APPLICATION (django.go). nil otherwise.
	Django *Django

	Bind            []string      // listen addresses: HOST:PORT, [::1]:PORT, unix:PATH, fd://N
	Workers         int           // worker processes, >= 1
	Threads         int           // threads (= slots) per worker, >= 1
	Chdir           string        // directory the workers run in and import the app from; "" = current
	PythonPath      []string      // directories put first on sys.path
	Env             []string      // KEY=VALUE pairs added to the workers' environment
	Python          string        // interpreter that runs the workers
	GracefulTimeout time.Duration // how long a graceful stop waits for requests in flight
	RootPath        string        // SCRIPT_NAME the app is mounted at; "" = the root
	WorkerSched     string        // Linux scheduling policy of the workers: "batch" or "normal"
	ProcName        string        // -n/--name: NAME in the process titles "gonicorn: master [NAME]"; "" = App
	WorkerClass     string        // -k: "sync" or "gthread", gunicorn's name of the worker (--threads sets the slots)
	Backlog         int           // listen(2) backlog of the bound sockets; 0 = the kernel's limit (net.core.somaxconn)
	ReusePort       bool          // SO_REUSEPORT on the bound TCP sockets
	CheckConfig     bool          // --check-config: load the config, import the app, exit 0 or 1
	PrintConfig     bool          // --print-config: print every effective setting and its source, then check
	Preload         bool          // --preload: import the app once and fork the workers from it

	// Supervision: a hung request, and recycling of workers (0 = off for each).
	Timeout           time.Duration // a request running longer on a worker gets it killed (504)
	MaxRequests       int           // requests per worker before it is replaced
	MaxRequestsJitter int           // random 0..N added to MaxRequests per worker
	MaxWorkerLifetime time.Duration // age at which a worker is replaced
	MaxWorkerMemory   int           // MiB of resident memory above which a worker is replaced

	// Queue, boot and process settings (docs/architecture.md, "Timeouts and recycling").
	MaxQueue        int           // requests waiting for a worker slot; more get 503; 0 = unlimited
	QueueTimeout    time.Duration // longest wait for a slot before 503; 0 = no limit
	MaxBootFailures int           // workers in a row that die soon after boot before the master exits; 0 = never
	PIDFile         string        // --pid: file holding the master's pid while it runs; "" = none

	AccessLogFile   string // "" = no access log; "-" = stdout
	AccessLogFormat string // gunicorn's atoms, see internal/accesslog
	ErrorLogFile    string // "-" = stderr
	LogLevel        string // debug, info, warning, error, critical

	LimitRequestLine      int   // bytes of the request line; 0 = the default
	LimitRequestFields    int   // number of header fields
	LimitRequestFieldSize int   // bytes of one header line
	LimitRequestBody      int64 // bytes of a request body; 0 = unlimited
	BodyMemory            int64 // request bodies above this many bytes are spooled to a temp file
	KeepAlive             time.Duration

	ForwardedAllowIPs string // proxies whose forwarded headers count: IPs, CIDRs, "*"; see package proxy
	HeaderMap         string // header names with '_': "drop", "refuse" or "dangerous"

	// The front's defences (docs/limits.md, docs/proxy.md).
	ProxyProtocol  string        // PROXY protocol header: "off", "v1", "v2" or "auto"
	ProxyAllowFrom string        // peers that may send a PROXY header: IPs, CIDRs, "*"
	MaxConnections int           // client connections open at once; 0 = unlimited
	HeaderTimeout  time.Duration // time to receive a request head from its first byte
	BodyTimeout    time.Duration // longest pause while a request body uploads

	// Trust and resources (docs/proxy.md, docs/limits.md).
	ForwardedAllowHeaders string        // forwarded headers a trusted proxy is believed to set; see package proxy
	MaxResponseSpool      int64         // bytes of one response held for a slow client before the worker waits
	WriteTimeout          time.Duration // longest time a client may take no byte of a response
	TmpDir                string        // directory of spooled request bodies and responses; "" = $TMPDIR or /tmp

	// Static files served by the master (docs/static.md; see static.go).
	Static               []string      // --static PREFIX=DIR values, as given
	StaticMaxAge         time.Duration // Cache-Control max-age of files without a hash in their name
	StaticIndex          bool          // serve DIR/index.html for DIR/
	StaticFollowSymlinks bool          // follow symlinks that point out of DIR
	StaticDotfiles       bool          // serve names starting with '.'
	DjangoStatic         bool          // serve a Django app's STATIC_URL from STATIC_ROOT; default true
	ServeMedia           bool          // serve a Django app's MEDIA_URL from MEDIA_ROOT; default false
	SendfileRoot         []string      // --sendfile-root URI_PREFIX=DIR values, as given

	// Operations (issue 12, docs/operations.md).
	MetricsBind   string        // HOST:PORT of the health and metrics listener; "" = none
	ShutdownDelay time.Duration // on TERM, how long /readyz fails while requests are still served, before the drain
	StatsdHost    string        // HOST:PORT of a statsd server (UDP); "" = none
	StatsdPrefix  string        // prefix of the statsd metric names
	DogstatsdTags string        // comma-separated DogStatsD tags added to every statsd metric

	// TLS (docs/tls.md), gunicorn's SSL settings; see package tlsconf.
	CertFile             string // PEM certificate chain; "" = no TLS
	KeyFile              string // PEM private key; "" = in CertFile
	CACerts              string // PEM CAs that client certificates must chain to
	CertReqs             string // client certificate: 0 none, 1 optional, 2 required
	SSLVersion           string // lowest TLS version offered: TLSv1_2 or TLSv1_3 (or gunicorn's names)
	Ciphers              string // OpenSSL cipher list for TLS 1.2; "" = Go's defaults
	DoHandshakeOnConnect bool   // accepted for gunicorn; the handshake is always done at once
	SuppressRaggedEOFs   bool   // accepted for gunicorn; a ragged EOF is treated as an EOF either way

	// Logs people can query (docs/logging.md).
	ErrorLogFormat  string // "text" (gunicorn's lines) or "json" (one object per record)
	RequestIDHeader string // header carrying the request id (X-Request-ID); "" = no request ids

	// Privileges and daemon (docs/privileges.md; see privs.go).
	User       string // -u: the workers' user, a name or uid; "" = the master's
	Group      string // -g: the workers' group, a name or gid; "" = the user's primary group, else the master's
	Umask      string // -m: umask of the unix sockets bound, as given ("0o117", "79"); "0" = none
	InitGroups bool   // the workers get the supplementary groups of User
	Daemon     bool   // -D: detach into the background
	// Credential is User, Group and InitGroups resolved (validatePrivs): what the workers
	// are started with; nil = the master's own.
	Credential *syscall.Credential

	// Control socket (issue 12, docs/operations.md; see package control).
	ControlSocket     string // path of the master's control socket; relative to the working directory
	ControlSocketMode string // its permission bits, octal ("0600")
	NoControlSocket   bool   // no control socket

	// Syslog (issue 10, docs/logging.md): gunicorn's --log-syslog and its companions.
	LogSyslog                     bool   // also send the error log (and the access log) to syslog
	LogSyslogTo                   string // where: unix://PATH[#dgram|#stream], udp://HOST:PORT, tcp://HOST:PORT
	LogSyslogPrefix               string // the program name's middle part; "" = --name, else APP_MODULE
	LogSyslogFacility             string // facility name: user, daemon, local0...
	DisableRedirectAccessToSyslog bool   // keep the access log out of syslog

	// PasteDeploy (issue 10, docs/config-file.md): gunicorn's --paste and --paste-global.
	Paste       string            // --paste FILE[#name], made absolute; "" = APP_MODULE is served
	PasteGlobal []string          // --paste-global KEY=VALUE values, as given
	PasteVars   map[string]string // PasteGlobal parsed: the global_conf of paste.deploy.loadapp

	// Development mode (docs/django.md, "Development mode"; see package reload).
	Reload           bool     // --reload: watch the app's files and reload on a change; serve load errors as 500 pages
	ReloadEngine     string   // "auto", "inotify" or "poll"
	ReloadExtraFiles []string // more paths, directories and globs to watch, as given

	// File bodies and forwarded environ keys (issue 10): gunicorn's sendfile and
	// forwarder_headers.
	NoSendfile       bool   // --no-sendfile: copy file bodies through a buffer instead of sendfile(2)
	ForwarderHeaders string // header names with '_' a trusted proxy may send (SCRIPT_NAME, PATH_INFO, REMOTE_USER); see package proxy
	// HTTP/2 (issue 13, docs/http2.md; see http2.go).
	HTTPProtocols             string // --http-protocols: "h1", or "h1,h2" (any order, h1 required)
	HTTP2Cleartext            bool   // h2c on plain listeners: prior knowledge and Upgrade: h2c
	HTTP2MaxConcurrentStreams int    // SETTINGS_MAX_CONCURRENT_STREAMS
	HTTP2InitialWindowSize    int    // SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window, bytes
	HTTP2MaxFrameSize         int    // SETTINGS_MAX_FRAME_SIZE, bytes (16384 to 16777215)
	HTTP2MaxHeaderListSize    int    // SETTINGS_MAX_HEADER_LIST_SIZE, bytes

	// ConfigFile is -c/--config, or ./gunicorn.conf.py when it exists and no -c is given: the
	// file read before GONICORN_CMD_ARGS and the command line, and again on every reload;
	// "" = none.
	ConfigFile string
	// Hooks are gunicorn's server hooks that ConfigFile defines (callables named on_starting,
	// post_fork, pre_request...), in name order: the workers and the master's hook process
	// run them (docs/hooks.md). Nil when none.
	Hooks []string
	// Warnings are what the master logs at start and on every reload: settings of the config
	// file that are ignored, an unread ./gunicorn.conf.py. Nil when none.
	Warnings []string
	// Notices are what the master logs at INFO at start and on every reload: which config
	// file it read when none was named. Nil when none.
	Notices []string
	// Effective is every setting's value and where it came from, for --print-config.
	Effective []Effective

	ShowVersion bool // --version: print and exit
	ShowHelp    bool // --help: print and exit
}

// Setting is one row of the settings table: a flag with gunicorn's name, its default and its
// help text. The same row documents the setting in --help and docs/settings.md.
type Setting struct {
	Name    string // long flag name, without dashes
	Short   string // one-letter flag, or ""
	Meta    string // placeholder shown in help, e.g. "INT"
	Default string // the default as the user sees it
	Help    string
	// File is gunicorn's name for the setting in a config file where it is not the flag's
	// name with '_' for '-' (both are accepted); "-" = not settable from a file.
	File string
	// FileNegates: File means the opposite of the flag (gunicorn's sendfile = False is
	// --no-sendfile); the flag's own name with '_' keeps the flag's sense.
	FileNegates bool

	register func(fs *pflag.FlagSet, c *Config, s *Setting)
}

// Settings returns the table of settings, with defaults taken from getenv where gunicorn
// does so (PORT, WEB_CONCURRENCY, VIRTUAL_ENV).
// boolean registers a setting kept in a bool field, on when s.Default is "true"; a flag
// given without a value turns it on.
func boolean(field func(*Config) *bool) func(*pflag.FlagSet, *Config, *Setting) {
	return func(fs *pflag.FlagSet, c *Config, s *Setting) {
		fs.BoolVarP(field(c), s.Name, s.Short, s.Default == "true", s.Help)
	}
}

func Settings(getenv func(string) string) []Setting {
	defBind := "127.0.0.1:8000"
	if p := getenv("PORT"); p != "" {
		defBind = "0.0.0.0:" + p
	}
	defWorkers := "1"
	if w := getenv("WEB_CONCURRENCY"); w != "" {
		defWorkers = w
	}
	defForwarded := proxy.DefaultAllowIPs
	if v := getenv("FORWARDED_ALLOW_IPS"); v != "" {
		defForwarded = v
	}
	defPython := defaultPython(getenv, executable())
	// gunicorn: without --no-sendfile, a SENDFILE variable other than y, 1, yes or true
	// (any case) turns sendfile off.
	defNoSendfile := "false"
	if v := strings.ToLower(getenv("SENDFILE")); v != "" && v != "y" && v != "1" && v != "yes" && v != "true" {
		defNoSendfile = "true"
	}
	str := func(field func(*Config) *string) func(*pflag.FlagSet, *Config, *Setting) {
		return func(fs *pflag.FlagSet, c *Config, s *Setting) {
			fs.StringVarP(field(c), s.Name, s.Short, s.Default, s.Help)
		}
	}
	// Integers are parsed by hand (not pflag's IntVar) so that a bad environment default
	// such as WEB_CONCURRENCY=abc is reported with the variable's name.
	intv := func(field func(*Config) *int) func(*pflag.FlagSet, *Config, *Setting) {
		return func(fs *pflag.FlagSet, c *Config, s *Setting) {
			fs.VarP(&intValue[int]{p: field(c), s: s.Default}, s.Name, s.Short, s.Help)
		}
	}
	seconds := func(field func(*Config) *time.Duration) func(*pflag.FlagSet, *Config, *Setting) {
		return func(fs *pflag.FlagSet, c *Config, s *Setting) {
			fs.VarP(&secondsValue{p: field(c), s: s.Default}, s.Name, s.Short, s.Help)
		}
	}
	list := func(field func(*Config) *[]string) func(*pflag.FlagSet, *Config, *Setting) {
		return func(fs *pflag.FlagSet, c *Config, s *Setting) {
			fs.VarP(&listValue{p: field(c)}, s.Name, s.Short, s.Help)
		}
	}
	return append([]Setting{
		{Name: "config", Short: "c", Meta: "FILE", Default: "", File: "-",
			Help:     "A gunicorn.conf.py: Python whose globals set gonicorn's settings under gunicorn's names (workers = 4, bind = [...]), evaluated by the workers' interpreter at start and on every HUP. GONICORN_CMD_ARGS and the command line override it. Without -c, ./gunicorn.conf.py is read when it exists, as gunicorn does. See docs/config-file.md.",
			register: str(func(c *Config) *string { return &c.ConfigFile })},
		{Name: "bind", Short: "b", Meta: "ADDRESS", Default: defBind,
			Help:     "Socket to bind: HOST:PORT, [::1]:PORT, unix:PATH or fd://N. Repeatable. Default 127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set. Ignored when systemd passes sockets (LISTEN_FDS; see docs/systemd.md).",
			register: list(func(c *Config) *[]string { return &c.Bind })},
		{Name: "workers", Short: "w", Meta: "INT", Default: defWorkers,
			Help:     "Number of worker processes. Default $WEB_CONCURRENCY or 1.",
			register: intv(func(c *Config) *int { return &c.Workers })},
		{Name: "threads", Meta: "INT", Default: "1",
			Help:     "Threads per worker process; each thread serves one request at a time.",
			register: intv(func(c *Config) *int { return &c.Threads })},
		{Name: "chdir", Meta: "DIR", Default: "",
			Help:     "Directory to load the app from (the workers' working directory).",
			register: str(func(c *Config) *string { return &c.Chdir })},
		{Name: "pythonpath", Meta: "DIRS", Default: "",
			Help: "Comma-separated directories to add to the Python path.",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				fs.Var(&listValue{p: &c.PythonPath, comma: true}, s.Name, s.Help)
			}},
		{Name: "env", Short: "e", Meta: "KEY=VALUE", Default: "", File: "raw_env",
			Help:     "Set an environment variable in the workers. Repeatable.",
			register: list(func(c *Config) *[]string { return &c.Env })},
		{Name: "python", Meta: "PATH", Default: defPython,
			Help:     "Python interpreter for the workers. Default $VIRTUAL_ENV/bin/python; else the python (then python3) in the directory of the gonicorn executable, so a gonicorn pip-installed into a virtualenv runs that virtualenv's Python; else python3 on PATH.",
			register: str(func(c *Config) *string { return &c.Python })},
		{Name: "graceful-timeout", Meta: "SECONDS", Default: "30",
			Help:     "On SIGTERM, how long requests in flight and queued may take before workers are killed (SIGINT and SIGQUIT stop at once). Also how long a worker retired by recycling, a reload or TTOU may take to finish its requests, and, if it does not exit once done, how long after its SIGTERM it is killed.",
			register: seconds(func(c *Config) *time.Duration { return &c.GracefulTimeout })},
		{Name: "timeout", Short: "t", Meta: "SECONDS", Default: "30",
			Help:     "A request running longer than this on a worker gets the worker's Python stacks dumped to the error log and the worker killed and replaced; the client gets 504 (or a closed connection if the response had started). 0 disables it.",
			register: seconds(func(c *Config) *time.Duration { return &c.Timeout })},
		{Name: "max-requests", Meta: "INT", Default: "0",
			Help:     "Replace a worker after this many requests (plus a random 0..--max-requests-jitter), without a failed request. A cap: a worker never takes more; its replacement boots a little before, and meanwhile requests go to other workers or wait in the queue. 0 disables it.",
			register: intv(func(c *Config) *int { return &c.MaxRequests })},
		{Name: "max-requests-jitter", Meta: "INT", Default: "0",
			Help:     "Random extra requests (0..N) added to --max-requests per worker, so workers do not restart together.",
			register: intv(func(c *Config) *int { return &c.MaxRequestsJitter })},
		{Name: "max-worker-lifetime", Meta: "SECONDS", Default: "0",
			Help:     "Replace a worker once it is this old, the same way as --max-requests. 0 disables it.",
			register: seconds(func(c *Config) *time.Duration { return &c.MaxWorkerLifetime })},
		{Name: "max-worker-memory", Meta: "MiB", Default: "0",
			Help:     "Replace a worker whose resident memory (RSS, checked every second) is above this many MiB, the same way as --max-requests, once it has taken a request. A worker already above it right after boot (the app's import alone) is not replaced for memory, since its replacement would be as big; it is logged once as a warning. 0 disables it.",
			register: intv(func(c *Config) *int { return &c.MaxWorkerMemory })},
		{Name: "max-queue", Meta: "INT", Default: "1024",
			Help:     "Requests that may wait for a free worker slot (beyond those pipelined on busy slots); one more gets 503 with Retry-After. 0 means unlimited.",
			register: intv(func(c *Config) *int { return &c.MaxQueue })},
		{Name: "queue-timeout", Meta: "SECONDS", Default: "30",
			Help:     "A request that waited this long for a free worker slot gets 503 with Retry-After. 0 disables it.",
			register: seconds(func(c *Config) *time.Duration { return &c.QueueTimeout })},
		{Name: "max-boot-failures", Meta: "INT", Default: "5",
			Help:     "Stop the master (exit status 3) when this many workers in a row die within 5 s of booting; they are respawned with exponential backoff until then. 0 means retry forever.",
			register: intv(func(c *Config) *int { return &c.MaxBootFailures })},
		{Name: "pid", Short: "p", Meta: "FILE", Default: "", File: "pidfile",
			Help:     "Write the master's pid to FILE at start; it is removed at exit. A new master started by USR2 (binary upgrade) writes FILE.2 until the old master exits.",
			register: str(func(c *Config) *string { return &c.PIDFile })},
		{Name: "name", Short: "n", Meta: "STRING", Default: "", File: "proc_name",
			Help:     "NAME in the process titles 'gonicorn: master [NAME]' and 'gonicorn: worker [NAME]' that ps and top show (gunicorn's proc_name). Default: APP_MODULE.",
			register: str(func(c *Config) *string { return &c.ProcName })},
		{Name: "keep-alive", Meta: "SECONDS", Default: "75", File: "keepalive",
			Help:     "How long an idle keep-alive connection is kept open (longer than the 60 s idle timeout of common load balancers).",
			register: seconds(func(c *Config) *time.Duration { return &c.KeepAlive })},
		{Name: "worker-sched", Meta: "POLICY", Default: "batch",
			Help:     "Linux scheduling policy of the workers: 'batch' (SCHED_BATCH: a woken worker does not preempt the master, so requests are batched under load) or 'normal'.",
			register: str(func(c *Config) *string { return &c.WorkerSched })},
		{Name: "root-path", Meta: "PATH", Default: "",
			Help:     "SCRIPT_NAME the app is mounted at (also taken from -e SCRIPT_NAME=... or the SCRIPT_NAME environment variable).",
			register: str(func(c *Config) *string { return &c.RootPath })},
		{Name: "access-logfile", Meta: "FILE", Default: "", File: "accesslog",
			Help:     "Access log file; '-' means stdout. Off by default.",
			register: str(func(c *Config) *string { return &c.AccessLogFile })},
		{Name: "access-logformat", Meta: "FORMAT", Default: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`, File: "access_log_format",
			Help:     "Access log format, with gunicorn's atoms (h l u t r m U q H s B b f a T M D L p, {header}i, {header}o, {var}e), or 'json' for one JSON object per request. See docs/logging.md.",
			register: str(func(c *Config) *string { return &c.AccessLogFormat })},
		{Name: "error-logfile", Meta: "FILE", Default: "-", File: "errorlog",
			Help:     "Error log file; '-' means stderr.",
			register: str(func(c *Config) *string { return &c.ErrorLogFile })},
		{Name: "log-level", Meta: "LEVEL", Default: "info", File: "loglevel",
			Help:     "Error log level: debug, info, warning, error or critical, in any case. Workers' output is logged at info, Python warnings at warning, tracebacks at error, the stack dumps of a --timeout at critical.",
			register: str(func(c *Config) *string { return &c.LogLevel })},
		{Name: "limit-request-line", Meta: "INT", Default: "8190",
			Help:     "Maximum size of the HTTP request line in bytes (414 above it).",
			register: intv(func(c *Config) *int { return &c.LimitRequestLine })},
		{Name: "limit-request-fields", Meta: "INT", Default: "100",
			Help:     "Maximum number of request header fields (431 above it).",
			register: intv(func(c *Config) *int { return &c.LimitRequestFields })},
		{Name: "limit-request-field_size", Meta: "INT", Default: "8190",
			Help:     "Maximum size of one request header line in bytes (431 above it).",
			register: intv(func(c *Config) *int { return &c.LimitRequestFieldSize })},
		{Name: "limit-request-body", Meta: "BYTES", Default: "1073741824",
			Help: "Maximum size of a request body in bytes (413 above it); 0 means unlimited.",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				fs.Var(&intValue[int64]{p: &c.LimitRequestBody, s: s.Default}, s.Name, s.Help)
			}},
		{Name: "forwarded-allow-ips", Meta: "IPS", Default: defForwarded,
			Help:     "Comma-separated IP addresses and CIDR networks of the proxies whose forwarded headers (those of --forwarded-allow-headers) set the scheme, client address, and opt-in the host and port ('*' = any peer; unix socket peers are always trusted). See docs/proxy.md. Default $FORWARDED_ALLOW_IPS or 127.0.0.1,::1.",
			register: str(func(c *Config) *string { return &c.ForwardedAllowIPs })},
		{Name: "header-map", Meta: "POLICY", Default: "drop",
			Help:     "Header names containing '_', which CGI cannot tell from '-': 'drop' them, 'refuse' the request (400), or pass them to the app ('dangerous').",
			register: str(func(c *Config) *string { return &c.HeaderMap })},
		{Name: "proxy-protocol", Meta: "MODE", Default: "off",
			Help:     "PROXY protocol header before the request, from a layer-4 proxy (HAProxy, AWS NLB): 'off', 'v1' or 'v2' (required, that version), or 'auto' (v1 or v2 when present, as gunicorn's --proxy-protocol). Its client address becomes REMOTE_ADDR. A malformed header, or one from a peer not in --proxy-allow-from, closes the connection. See docs/proxy.md.",
			register: str(func(c *Config) *string { return &c.ProxyProtocol })},
		{Name: "proxy-allow-from", Meta: "IPS", Default: proxy.DefaultAllowIPs,
			Help:     "Comma-separated IP addresses and CIDR networks of the proxies allowed to send a PROXY protocol header ('*' = any peer; unix socket peers always may).",
			register: str(func(c *Config) *string { return &c.ProxyAllowFrom })},
		{Name: "proxy-allow-ips", Meta: "IPS", Default: proxy.DefaultAllowIPs,
			Help:     "Another name for --proxy-allow-from, in the style of --forwarded-allow-ips.",
			register: str(func(c *Config) *string { return &c.ProxyAllowFrom })},
		{Name: "max-connections", Meta: "INT", Default: "10000",
			Help:     "Most client connections open at once; at the limit a new connection is admitted by closing the one idle longest in keep-alive, and with none idle new connections wait in the kernel's listen backlog. 0 means unlimited.",
			register: intv(func(c *Config) *int { return &c.MaxConnections })},
		{Name: "header-timeout", Meta: "SECONDS", Default: "30",
			Help:     "Time a client has to send a complete request head from its first byte (408 after it).",
			register: seconds(func(c *Config) *time.Duration { return &c.HeaderTimeout })},
		{Name: "body-timeout", Meta: "SECONDS", Default: "30",
			Help:     "Longest pause while a request body uploads (408 after it).",
			register: seconds(func(c *Config) *time.Duration { return &c.BodyTimeout })},
		// Trust and resources.
		{Name: "forwarded-allow-headers", Meta: "HEADERS", Default: proxy.DefaultHeaders,
			Help:     "Comma-separated forwarded headers that the proxies of --forwarded-allow-ips set, and so are believed: x-forwarded-for (REMOTE_ADDR), x-forwarded-proto, x-forwarded-ssl, x-forwarded-protocol (the scheme, gunicorn's secure_scheme_headers), and, opt-in, x-forwarded-host and x-forwarded-port (HTTP_HOST, SERVER_NAME, SERVER_PORT) and forwarded (RFC 7239: all of these). Add a header only if your proxy sets or removes it on every request; otherwise a client sends it through. '' = none. See docs/proxy.md.",
			register: str(func(c *Config) *string { return &c.ForwardedAllowHeaders })},
		{Name: "max-response-spool", Meta: "BYTES", Default: "67108864",
			Help: "Most bytes of one response the master holds for a client that reads slower than the app writes (1 MiB in memory, the rest in an unlinked file in --tmp-dir). Beyond it the master stops reading the response from the worker until the client has taken some (backpressure, as nginx beyond proxy_max_temp_file_size): the worker waits, and --timeout and --write-timeout still apply. 0 = hold nothing: the worker waits for every block (gunicorn's sync worker). See docs/limits.md.",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				fs.Var(&intValue[int64]{p: &c.MaxResponseSpool, s: s.Default}, s.Name, s.Help)
			}},
		{Name: "write-timeout", Meta: "SECONDS", Default: "60",
			Help:     "A client that takes no byte of a response for this long is disconnected (nginx's send_timeout); a worker waiting on it is told to stop.",
			register: seconds(func(c *Config) *time.Duration { return &c.WriteTimeout })},
		{Name: "tmp-dir", Meta: "DIR", Default: "", File: "tmp_upload_dir",
			Help:     "Directory for the unlinked temp files of request bodies above 1 MiB and of responses a slow client has not taken yet. Default $TMPDIR, else /tmp. gunicorn's tmp_upload_dir in a config file; its worker_tmp_dir (a heartbeat file, often /dev/shm) is not this.",
			register: str(func(c *Config) *string { return &c.TmpDir })},
		// Static files (issue 11).
		{Name: "static", Meta: "PREFIX=DIR", Default: "", File: "static_map",
			Help:     "Serve the files of DIR at the URL path PREFIX from the master, never taking a worker (uWSGI's static-map, Granian's --static-path-mount): GET and HEAD, with ETag and Last-Modified (304), Range (206), precompressed .br/.zst/.gz siblings by Accept-Encoding, and a year of immutable caching for names with a content hash. A file that is not there goes to the app; traversal, dotfiles and symlinks out of DIR get 404. A relative DIR is taken from --chdir. Repeatable. See docs/static.md.",
			register: list(func(c *Config) *[]string { return &c.Static })},
		{Name: "static-max-age", Meta: "SECONDS", Default: "60",
			Help:     "Cache-Control max-age of static files whose names carry no content hash (hashed names, from Django's staticfiles.json or like name.0123456789ab.css, get a year and immutable).",
			register: seconds(func(c *Config) *time.Duration { return &c.StaticMaxAge })},
		{Name: "static-index", Default: "false",
			Help:     "Serve DIR/index.html for a request of a static directory DIR/ (and redirect DIR to DIR/). Off, the app answers for directories. There is never a directory listing.",
			register: boolean(func(c *Config) *bool { return &c.StaticIndex })},
		{Name: "static-follow-symlinks", Default: "false",
			Help:     "Follow symlinks in a static directory that point out of it. Off, such a link is a 404 (links that stay inside are followed).",
			register: boolean(func(c *Config) *bool { return &c.StaticFollowSymlinks })},
		{Name: "static-dotfiles", Default: "false",
			Help:     "Serve static files and directories whose names start with '.' (.well-known). Off, they are a 404.",
			register: boolean(func(c *Config) *bool { return &c.StaticDotfiles })},
		{Name: "django-static", Default: "true",
			Help:     "When the app is Django and its STATIC_ROOT exists (after manage.py collectstatic), serve STATIC_URL from STATIC_ROOT from the master, as --static does, without WhiteNoise or nginx. A --static mount at the same prefix wins. --django-static=false turns it off. See docs/django.md.",
			register: boolean(func(c *Config) *bool { return &c.DjangoStatic })},
		{Name: "serve-media", Default: "false",
			Help:     "Also serve a Django app's MEDIA_URL from MEDIA_ROOT from the master. Off by default: user uploads are not always meant to be public. Their names are never taken for content hashes (no immutable caching).",
			register: boolean(func(c *Config) *bool { return &c.ServeMedia })},
		{Name: "sendfile-root", Meta: "URI_PREFIX=DIR", Default: "",
			Help:     "Let the app answer with X-Accel-Redirect: URI_PREFIX/name (nginx's style) or X-Sendfile: DIR/name (an absolute path; Apache's, django-sendfile2's) and have the master send DIR/name in place of the app's body, keeping the app's status and headers, with ETag, Range and precompressed siblings; the header never reaches the client. Only files under a root are sent (others: 404). Repeatable. Without any root both headers pass to the client untouched (for an nginx in front). See docs/static.md.",
			register: list(func(c *Config) *[]string { return &c.SendfileRoot })},
		// Operations: health, readiness and metrics (issue 12)
		{Name: "metrics-bind", Meta: "ADDRESS", Default: "",
			Help:     "HOST:PORT of a separate listener, never routed to the app, serving /livez (200 while the master runs), /readyz (200 when a worker is ready and the server is not stopping, else 503) and /metrics (Prometheus). Off by default. See docs/operations.md.",
			register: str(func(c *Config) *string { return &c.MetricsBind })},
		{Name: "shutdown-delay", Meta: "SECONDS", Default: "0",
			Help:     "On SIGTERM, /readyz fails at once, then gonicorn keeps serving new connections and requests for this long, so that a load balancer's health check takes the instance out before the listeners close; then the graceful drain (--graceful-timeout) begins. An INT or QUIT cuts it short. 0 = drain at once. See docs/operations.md.",
			register: seconds(func(c *Config) *time.Duration { return &c.ShutdownDelay })},
		{Name: "statsd-host", Meta: "HOST:PORT", Default: "",
			Help:     "Send gunicorn's statsd metrics (gunicorn.requests, gunicorn.request.status.NNN, gunicorn.request.duration, gunicorn.workers) over UDP to this statsd or DogStatsD server. Off by default. See docs/operations.md.",
			register: str(func(c *Config) *string { return &c.StatsdHost })},
		{Name: "statsd-prefix", Meta: "STRING", Default: "",
			Help:     "Prefix of the statsd metric names (a '.' is added), as gunicorn's.",
			register: str(func(c *Config) *string { return &c.StatsdPrefix })},
		{Name: "dogstatsd-tags", Meta: "TAGS", Default: "",
			Help:     "Comma-separated DogStatsD tags (key:value) added to every statsd metric, as gunicorn's.",
			register: str(func(c *Config) *string { return &c.DogstatsdTags })},
		// TLS (issue 13)
		{Name: "certfile", Meta: "FILE", Default: "",
			Help:     "TLS certificate (PEM; the chain, leaf first). With it, every --bind speaks HTTPS except those written http://HOST:PORT, also the sockets of systemd and of a binary upgrade. Re-read with --keyfile and --ca-certs on HUP. See docs/tls.md.",
			register: str(func(c *Config) *string { return &c.CertFile })},
		{Name: "keyfile", Meta: "FILE", Default: "",
			Help:     "Private key of --certfile (PEM). Default: the key is in the --certfile file.",
			register: str(func(c *Config) *string { return &c.KeyFile })},
		{Name: "ca-certs", Meta: "FILE", Default: "",
			Help:     "CA certificates (PEM) that client certificates must chain to; needed by --cert-reqs 1 or 2.",
			register: str(func(c *Config) *string { return &c.CACerts })},
		{Name: "cert-reqs", Meta: "INT", Default: "0",
			Help:     "Client certificates (mutual TLS): 0 not asked for, 1 optional (verified if sent), 2 required (gunicorn's ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED). The app sees the SSL_CLIENT_* variables of docs/tls.md.",
			register: str(func(c *Config) *string { return &c.CertReqs })},
		{Name: "ssl-version", Meta: "VERSION", Default: "TLSv1_2",
			Help:     "Lowest TLS version offered: TLSv1_2 or TLSv1_3. gunicorn's TLS, SSLv23 and TLS_SERVER (and their numbers) mean TLSv1_2; TLS 1.0, 1.1 and SSL are refused.",
			register: str(func(c *Config) *string { return &c.SSLVersion })},
		{Name: "ciphers", Meta: "LIST", Default: "",
			Help:     "TLS 1.2 cipher suites, as an OpenSSL cipher list (names, aliases such as ECDHE+AESGCM, !exclusions), mapped onto those Go's crypto/tls offers; an unknown name is an error. TLS 1.3 suites are not configurable (all are on). Default: Go's defaults.",
			register: str(func(c *Config) *string { return &c.Ciphers })},
		{Name: "do-handshake-on-connect", Default: "false",
			Help:     "Accepted for gunicorn; no effect: the TLS handshake is always done at once, by the connection's own goroutine, within --header-timeout, and costs no worker.",
			register: boolean(func(c *Config) *bool { return &c.DoHandshakeOnConnect })},
		{Name: "suppress-ragged-eofs", Default: "true",
			Help:     "Accepted for gunicorn; no effect: a client that closes without TLS close_notify ends the connection as a plain close would (an incomplete request gets 400 either way).",
			register: boolean(func(c *Config) *bool { return &c.SuppressRaggedEOFs })},
		// Logs people can query (issue 12).
		{Name: "access-log-format", Meta: "FORMAT", Default: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`, File: "-",
			Help:     "Another name for --access-logformat; --access-log-format json writes the access log as JSON lines. See docs/logging.md.",
			register: str(func(c *Config) *string { return &c.AccessLogFormat })},
		{Name: "error-log-format", Meta: "FORMAT", Default: "text",
			Help:     "Error log format: 'text' (gunicorn's lines) or 'json' (one JSON object per record: time, level, msg, pid, request_id where known, and a worker's traceback as one field). See docs/logging.md.",
			register: str(func(c *Config) *string { return &c.ErrorLogFormat })},
		{Name: "request-id-header", Meta: "NAME", Default: "X-Request-ID",
			Help:     "Header of the request id: taken from a proxy of --forwarded-allow-ips when it is 1 to 128 printable ASCII characters, else generated (32 hex digits); passed to the app (HTTP_X_REQUEST_ID, replacing what an untrusted client sent), returned in the response unless the app sets it, and written in the access log and in the error-log lines about the request. '' turns request ids off. See docs/logging.md.",
			register: str(func(c *Config) *string { return &c.RequestIDHeader })},
		// Privileges and daemon (issue 10; docs/privileges.md).
		{Name: "user", Short: "u", Meta: "USER", Default: "",
			Help:     "Run the workers as this user: a name or a numeric uid. The master stays root, to bind, write the pid file and signal the workers; a unix socket of --bind is given to this user and group. Needs root. Without --group the workers take the user's primary group. See docs/privileges.md.",
			register: idFlag(func(c *Config) *string { return &c.User })},
		{Name: "group", Short: "g", Meta: "GROUP", Default: "",
			Help:     "Run the workers in this group: a name or a numeric gid. Default: the primary group of --user, else the master's.",
			register: idFlag(func(c *Config) *string { return &c.Group })},
		{Name: "umask", Short: "m", Meta: "INT", Default: "0",
			Help:     "The umask of the unix sockets the master binds, as gunicorn's: 0 leaves them 0777 (any local user may connect); 0o117 (or 79, or 0117) makes them 0660 for the user and group of --user and --group. The pid file is always 0644.",
			register: idFlag(func(c *Config) *string { return &c.Umask })},
		{Name: "initgroups", Default: "",
			Help:     "Give the workers the supplementary groups of --user (from /etc/group), not just --group.",
			register: boolean(func(c *Config) *bool { return &c.InitGroups })},
		{Name: "daemon", Short: "D", Default: "",
			Help:     "Detach: the master runs in the background in a session of its own, with stdin, stdout and stderr on /dev/null (log to files with --error-logfile and --access-logfile). The command returns 0 once the workers are ready, or prints why the start failed and returns 1 (3 if the app does not load).",
			register: boolean(func(c *Config) *bool { return &c.Daemon })},
		// Control socket (issue 12)
		{Name: "control-socket", Meta: "PATH", Default: "gonicorn.ctl",
			Help:     "Unix socket on which the master answers 'gonicorn ctl' (status, workers, reload, ttin, ttou, dump), as gunicorn 25's control socket (gunicornc); a relative path is in the working directory. If it cannot be created at its default path the master logs a warning and serves on; a path given explicitly must work. The newest master takes the path (a binary upgrade's new master). See docs/operations.md.",
			register: str(func(c *Config) *string { return &c.ControlSocket })},
		{Name: "control-socket-mode", Meta: "MODE", Default: "0600",
			Help:     "Permission bits of the control socket, octal. The default lets only the master's user connect: whoever can connect can reload the app and read its stacks.",
			register: str(func(c *Config) *string { return &c.ControlSocketMode })},
		{Name: "no-control-socket", Default: "false", File: "control_socket_disable",
			Help:     "Do not open the control socket.",
			register: boolean(func(c *Config) *bool { return &c.NoControlSocket })},
		// Syslog (issue 10)
		{Name: "log-syslog", Default: "false", File: "syslog",
			Help:     "Also send the error log, and the access log unless --disable-redirect-access-to-syslog, to syslog (--log-syslog-to), as gunicorn: program name gunicorn.PREFIX.error and gunicorn.PREFIX.access, text '[PID] message', severity by level. The access log goes there even without --access-logfile. See docs/logging.md.",
			register: boolean(func(c *Config) *bool { return &c.LogSyslog })},
		{Name: "log-syslog-to", Meta: "SYSLOG_ADDR", Default: "udp://localhost:514", File: "syslog_addr",
			Help:     "Where syslog messages go: unix://PATH (a datagram socket, else a stream one; #dgram or #stream after the path chooses), udp://HOST:PORT or tcp://HOST:PORT (port 514 if left out; [v6]:PORT). unix:PATH is taken too. gunicorn's Linux default; /dev/log is unix:///dev/log.",
			register: str(func(c *Config) *string { return &c.LogSyslogTo })},
		{Name: "log-syslog-prefix", Meta: "SYSLOG_PREFIX", Default: "", File: "syslog_prefix",
			Help:     "The PREFIX of the syslog program names gunicorn.PREFIX.error and gunicorn.PREFIX.access. Default: --name, else APP_MODULE, with ':' made '.'.",
			register: str(func(c *Config) *string { return &c.LogSyslogPrefix })},
		{Name: "log-syslog-facility", Meta: "SYSLOG_FACILITY", Default: "user", File: "syslog_facility",
			Help:     "Syslog facility: user, daemon, local0 ... local7, auth, authpriv, cron, kern, lpr, mail, news, syslog, uucp or ftp.",
			register: str(func(c *Config) *string { return &c.LogSyslogFacility })},
		{Name: "disable-redirect-access-to-syslog", Default: "false",
			Help:     "With --log-syslog, send only the error log to syslog, not the access log.",
			register: boolean(func(c *Config) *bool { return &c.DisableRedirectAccessToSyslog })},
		// PasteDeploy (issue 10)
		{Name: "paste", Meta: "FILE[#NAME]", Default: "",
			Help:     "Load the app from a PasteDeploy ini file, as gunicorn: paste.deploy.loadapp('config:FILE#NAME') in each worker (the [app:NAME] or [composite:NAME] section; main by default), instead of APP_MODULE. A relative FILE is taken from the working directory gonicorn starts in. Python's logging is configured from the file when it has a [loggers] section. Its [server:*] sections are not read, as in gunicorn: use the command line. Needs PasteDeploy in the workers' Python. See docs/config-file.md.",
			register: str(func(c *Config) *string { return &c.Paste })},
		{Name: "paster", Meta: "FILE[#NAME]", Default: "", File: "-",
			Help:     "Another name for --paste, as in gunicorn.",
			register: str(func(c *Config) *string { return &c.Paste })},
		{Name: "paste-global", Meta: "KEY=VALUE", Default: "", File: "raw_paste_global_conf",
			Help:     "A variable of the ini file's [DEFAULT] section for --paste (paste.deploy's global_conf), overriding the file's; repeatable. \\= is an '=' in the key or value, as in gunicorn.",
			register: list(func(c *Config) *[]string { return &c.PasteGlobal })},
		// Development mode: --reload (issue 11)
		{Name: "reload", Default: "false",
			Help:     "Development mode, as gunicorn's --reload and Django's runserver: watch the files of every module the app imported (and --reload-extra-file), and on a change start new workers on the new code and retire the old ones; the listening socket stays open. While the app fails to import, every request gets a 500 page with the traceback (HTML for browsers, text otherwise) until a saved fix loads. A Django app with DEBUG on gets its static files served through its finders (no collectstatic). Not for production. See docs/django.md.",
			register: boolean(func(c *Config) *bool { return &c.Reload })},
		{Name: "reload-engine", Meta: "ENGINE", Default: "auto",
			Help:     "How --reload watches files: inotify (told at once by the kernel, through fsnotify), poll (a stat of every file each second; for file systems without inotify, such as some network and container mounts) or auto (inotify, else poll).",
			register: str(func(c *Config) *string { return &c.ReloadEngine })},
		{Name: "reload-extra-file", Meta: "PATH", Default: "", File: "reload_extra_files",
			Help:     "More files whose change triggers a --reload: a file, a directory (every file under it) or a glob (*.env, templates/**/*.html; ** is any number of directories). A relative path is taken from --chdir. Repeatable.",
			register: list(func(c *Config) *[]string { return &c.ReloadExtraFiles })},
		// File bodies and forwarded environ keys (issue 10)
		{Name: "no-sendfile", Default: defNoSendfile, File: "sendfile", FileNegates: true,
			Help:     "Send file bodies (wsgi.file_wrapper files, --static files, X-Sendfile) by copying them through a buffer instead of with sendfile(2), for file systems or sandboxes where sendfile misbehaves. In a config file gunicorn's sendfile = False (or no_sendfile = True). Default: sendfile, unless the SENDFILE environment variable is set to something other than y, 1, yes or true, as in gunicorn.",
			register: boolean(func(c *Config) *bool { return &c.NoSendfile })},
		{Name: "forwarder-headers", Meta: "HEADERS", Default: proxy.DefaultForwarderHeaders,
			Help:     "Comma-separated header names with '_' that the proxies of --forwarded-allow-ips set, and that are therefore kept whatever --header-map says, as gunicorn's forwarder_headers: SCRIPT_NAME (the app's mount point: PATH_INFO is the path after it), PATH_INFO and REMOTE_USER set those environ keys too; any other becomes its HTTP_* key. '*' = any name with '_'. From other peers such headers follow --header-map. See docs/proxy.md.",
			register: str(func(c *Config) *string { return &c.ForwarderHeaders })},
		// Preload (issue 10; docs/architecture.md, "Preload").
		{Name: "preload", Default: "", File: "preload_app",
			Help:     "Import the app once, in a preloader process, and fork every worker from it (gunicorn's --preload): the workers share the imported code copy-on-write (less memory) and a replacement worker starts in milliseconds. An app that does not load stops the start once, with its traceback. Unlike gunicorn, HUP still loads new code: a new preloader imports it and the workers are replaced from it. Code that opens a connection or starts a thread at import shares it between the workers: open those in the app's first request, or per worker. See docs/architecture.md.",
			register: boolean(func(c *Config) *bool { return &c.Preload })},
		// HTTP/2 (issue 13)
		{Name: "http-protocols", Meta: "LIST", Default: "h1",
			Help:     "HTTP versions served, comma-separated: h1 (HTTP/1.1, always on) and h2 (HTTP/2). With h2, TLS listeners offer h2 by ALPN, and --http2-cleartext adds h2c on plain ones. See docs/http2.md.",
			register: str(func(c *Config) *string { return &c.HTTPProtocols })},
		{Name: "http2-cleartext", Default: "false",
			Help:     "Serve HTTP/2 without TLS (h2c) on plain listeners too, to clients that start with the HTTP/2 preface (prior knowledge) or ask for it with Upgrade: h2c. Turns HTTP/2 on, as h2 in --http-protocols does.",
			register: boolean(func(c *Config) *bool { return &c.HTTP2Cleartext })},
		{Name: "http2-max-concurrent-streams", Meta: "INT", Default: "100",
			Help:     "HTTP/2: the most streams (requests) a client may have open at once on one connection.",
			register: intv(func(c *Config) *int { return &c.HTTP2MaxConcurrentStreams })},
		{Name: "http2-initial-window-size", Meta: "INT", Default: "65535",
			Help:     "HTTP/2: each stream's flow-control window, the most request body bytes of one stream the master buffers before the client must wait (1 to 2147483647).",
			register: intv(func(c *Config) *int { return &c.HTTP2InitialWindowSize })},
		{Name: "http2-max-frame-size", Meta: "INT", Default: "16384",
			Help:     "HTTP/2: the largest frame payload a client may send, in bytes (16384 to 16777215); a larger one ends the connection (FRAME_SIZE_ERROR).",
			register: intv(func(c *Config) *int { return &c.HTTP2MaxFrameSize })},
		{Name: "http2-max-header-list-size", Meta: "INT", Default: "65536",
			Help:     "HTTP/2: the most bytes of a request's decoded header fields (RFC 9113 §6.5.2: names, values and 32 bytes per field); beyond it the request gets 431.",
			register: intv(func(c *Config) *int { return &c.HTTP2MaxHeaderListSize })},
		{Name: "version", Short: "v", Default: "", File: "-",
			Help:     "Print the version and exit.",
			register: boolean(func(c *Config) *bool { return &c.ShowVersion })},
		{Name: "help", Short: "h", Default: "", File: "-",
			Help:     "Show this help and exit.",
			register: boolean(func(c *Config) *bool { return &c.ShowHelp })},
	}, compatSettings()...)
}

// defaultPython is the interpreter the workers run when --python is not given, the first of:
//
//  1. $VIRTUAL_ENV/bin/python: the virtualenv the user activated (as gunicorn, which runs in
//     the interpreter of the activated environment);
//  2. python, then python3, in the directory of the gonicorn executable exe: pip installs
//     the wheel's binary into the bin/ of the virtualenv (or Python installation) it installs
//     into, next to that environment's interpreter, so venv/bin/gonicorn runs the venv's
//     Python without activating it, as venv/bin/gunicorn does. The path is kept as found,
//     not resolved: a virtualenv's python is a symlink to the base interpreter, and Python
//     finds its virtualenv from the path it was started by.
//  3. python3 on PATH.
//
// exe is "" when the executable's path is unknown.
func defaultPython(getenv func(string) string, exe string) string {
	if v := getenv("VIRTUAL_ENV"); v != "" {
		return v + "/bin/python"
	}
	if exe != "" {
		dir := filepath.Dir(exe)
		for _, name := range []string{"python", "python3"} {
			if p := filepath.Join(dir, name); isExecutableFile(p) {
				return p
			}
		}
	}
	return "python3"
}

// executable returns the path of the running gonicorn binary (symlinks resolved, as Linux's
// /proc/self/exe gives it), or "" when the system cannot tell.
func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// isExecutableFile reports whether path (after symlinks) is a regular file that someone may
// execute.
func isExecutableFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// FlagSet returns the flags of the settings table bound to c, with defaults applied.
func FlagSet(c *Config, getenv func(string) string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("gonicorn", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetInterspersed(true)
	settings := Settings(getenv)
	for i := range settings {
		settings[i].register(fs, c, &settings[i])
	}
	registerGunicorn(fs, c) // gunicorn's other flags: refused, or ignored with a warning
	setOptionalValues(fs)
	return fs
}

// Sources are what ParseFrom reads besides the arguments. Parse passes the real ones; tests
// pass their own.
type Sources struct {
	Getenv func(string) string    // the environment: GONICORN_CMD_ARGS, PORT, WEB_CONCURRENCY...
	Load   Loader                 // evaluates the -c config file (LoadFile runs Python)
	Exists func(path string) bool // reports whether ./gunicorn.conf.py exists, for a warning
	// ReadFile reads a Django project's manage.py when no APP_MODULE is given; nil = os.ReadFile.
	ReadFile func(path string) ([]byte, error)
}

// Parse is ParseFrom with the process's environment getter getenv, the config file
// evaluated by Python (LoadFile) and ./gunicorn.conf.py looked up in the working directory.
func Parse(args []string, getenv func(string) string) (*Config, error) {
	return ParseFrom(args, Sources{Getenv: getenv, Load: LoadFile, Exists: func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}})
}

// ParseFrom builds the configuration from the command-line args (without the program name)
// in gunicorn's layers, each overriding the one before:
//
//  1. the defaults of the settings table (some from the environment: PORT, WEB_CONCURRENCY);
//  2. the config file given by -c/--config in either of the next two (file.go);
//  3. GONICORN_CMD_ARGS (read like gunicorn's GUNICORN_CMD_ARGS, split on whitespace);
//  4. the command line.
//
// A list setting (--bind, --env, --pythonpath) given in a layer replaces the earlier layers'
// list. APP_MODULE on the command line (or GONICORN_CMD_ARGS) wins over wsgi_app in the file.
// Errors name the flag (or the file and its setting) and the value; warnings are returned in
// Config.Warnings.
func ParseFrom(args []string, src Sources) (*Config, error) {
	getenv := src.Getenv
	envArgs, envFrom, envWarning := cmdArgs(getenv)

	// The config file and the interpreter that evaluates it come from the last two layers,
	// read once before the file and again over it.
	pre := &Config{}
	if _, err := parseLayers(FlagSet(pre, getenv), envArgs, envFrom, args, sources{}); err != nil || pre.ShowHelp || pre.ShowVersion {
		if errors.Is(err, pflag.ErrHelp) {
			err, pre.ShowHelp = nil, true
		}
		if err != nil {
			return nil, err
		}
		return pre, nil
	}

	c := &Config{}
	fs := FlagSet(c, getenv)
	fs.Usage = func() {}
	var file fileLayer
	var notices []string
	if pre.ConfigFile == "" && src.Exists != nil && src.Exists(DefaultConfigFile) {
		pre.ConfigFile = DefaultConfigFile // read as gunicorn reads it
		notices = append(notices, defaultFileNotice)
	}
	if pre.ConfigFile != "" {
		path := strings.TrimPrefix(pre.ConfigFile, "file:") // gunicorn's file:PATH
		if strings.HasPrefix(path, "python:") {
			return nil, fmt.Errorf("invalid value %q for --config: python:MODULE is not supported; give the file's path", pre.ConfigFile)
		}
		globals, err := src.Load(pre.Python, path)
		if err != nil {
			return nil, &FileError{Path: path, Err: err}
		}
		// Each of the file's settings is validated as it is set, over the defaults, when
		// these alone are valid (see applyFile).
		var check func() error
		if finishDefaults(fs) == nil && validLayer(c) == nil {
			check = func() error { return validLayer(c) }
		}
		if file, err = applyFile(fs, globals, path, check); err != nil {
			return nil, err
		}
	}
	from := sources{}
	for _, name := range file.set {
		from[name] = "file " + pre.ConfigFile
	}
	pos, err := parseLayers(fs, envArgs, envFrom, args, from)
	if err != nil {
		return nil, err
	}
	if err := finishDefaults(fs); err != nil {
		return nil, err
	}
	switch {
	case c.Paste != "": // the app comes from a PasteDeploy file (paste.go)
		if err := c.usePaste(pos); err != nil {
			return nil, err
		}
	case len(pos) == 1:
		c.App = pos[0]
	case len(pos) > 1:
		return nil, fmt.Errorf("expected one APP_MODULE, got %d arguments: %q", len(pos), pos)
	case file.app != "":
		c.App = file.app
		from[appModule] = "file " + pre.ConfigFile
	default:
		// No APP_MODULE: a Django project in --chdir (or here), found by its manage.py.
		if err := c.checkChdir(); err != nil {
			return nil, err
		}
		readFile := src.ReadFile
		if readFile == nil {
			readFile = os.ReadFile
		}
		if c.Django, err = findDjango(c.Chdir, c.Env, getenv, readFile); err != nil {
			return nil, err
		}
	}
	if len(c.Bind) == 0 {
		c.Bind = []string{fs.Lookup("bind").DefValue}
		if s := defaultOf(getenv, "bind"); s != "" {
			c.Bind = []string{s}
		}
	}
	if c.RootPath == "" {
		c.RootPath = getenv("SCRIPT_NAME")
		for _, kv := range c.Env {
			if v, ok := strings.CutPrefix(kv, "SCRIPT_NAME="); ok {
				c.RootPath = v
			}
		}
	}
	c.BodyMemory = 1 << 20
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := c.checkChdir(); err != nil {
		return nil, err
	}
	if err := c.checkStaticDirs(); err != nil {
		return nil, err
	}
	c.LogLevel = strings.ToLower(c.LogLevel)
	c.ConfigFile = pre.ConfigFile
	c.Hooks = file.hooks
	c.Warnings = append(append(file.warnings, c.Warnings...), envWarning...)
	c.Warnings = append(c.Warnings, c.reloadWarnings()...)
	c.Notices = notices
	c.Effective = effective(fs, c.App, c.ConfigFile, from)
	if c.Django != nil {
		// No APP_MODULE: say what is served instead (the worker resolves WSGI_APPLICATION).
		c.Effective[0].Value = c.Django.Settings + ":WSGI_APPLICATION"
		c.Effective[0].Source = "Django project " + c.Django.Project + " (settings from " + c.Django.From + ")"
	}
	return c, nil
}

// parseLayers parses the GONICORN_CMD_ARGS layer, then the command line, into fs and returns
// the positional arguments of both (APP_MODULE). Each layer starts afresh for list flags.
func parseLayers(fs *pflag.FlagSet, envArgs []string, envFrom string, args []string, from sources) ([]string, error) {
	fs.Usage = func() {}
	var pos []string
	for _, layer := range []struct {
		args []string
		from string
		name string // the layer, for --print-config
	}{{envArgs, " (in " + envFrom + ")", envFrom}, {args, "", "command line"}} {
		fs.VisitAll(func(f *pflag.Flag) {
			if l, ok := f.Value.(*listValue); ok {
				l.newLayer()
			}
		})
		err := fs.ParseAll(joinOptionalValues(layer.args), func(f *pflag.Flag, value string) error {
			from[f.Name] = layer.name
			return fs.Set(f.Name, value)
		})
		if err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return nil, err
			}
			var refused *SettingError // a gunicorn setting: its own one line says it all
			if errors.As(err, &refused) {
				err = refused
			}
			return nil, fmt.Errorf("%w%s", err, layer.from)
		}
		pos = append(pos, fs.Args()...)
		if len(fs.Args()) > 0 {
			from[appModule] = layer.name
		}
	}
	return pos, nil
}

// finishDefaults parses the defaults of the integer and duration flags that no layer set,
// so that WEB_CONCURRENCY=x is an error that names the variable.
func finishDefaults(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		v, ok := f.Value.(interface{ finish() error })
		if !ok || err != nil {
			return
		}
		if e := v.finish(); e != nil {
			err = fmt.Errorf("invalid value %q for --%s: %w%s", f.Value.String(), f.Name, e, envHint(f.Name, f.Changed))
		}
	})
	return err
}

// validLayer validates c as a layer leaves it, before APP_MODULE is known (a placeholder
// stands in for it).
func validLayer(c *Config) error {
	v := *c
	v.App = "app"
	return v.validate()
}

func defaultOf(getenv func(string) string, name string) string {
	for _, s := range Settings(getenv) {
		if s.Name == name {
			return s.Default
		}
	}
	return ""
}

func envHint(name string, changed bool) string {
	if changed {
		return ""
	}
	switch name {
	case "workers":
		return " (from WEB_CONCURRENCY)"
	}
	return ""
}

// validate checks the values that flags parsing cannot: ranges, formats, combinations.
func (c *Config) validate() error {
	if c.Workers < 1 {
		return fmt.Errorf("invalid value %d for --workers: must be at least 1", c.Workers)
	}
	if c.Threads < 1 {
		return fmt.Errorf("invalid value %d for --threads: must be at least 1", c.Threads)
	}
	for name, v := range map[string]int{"max-requests": c.MaxRequests, "max-requests-jitter": c.MaxRequestsJitter, "max-worker-memory": c.MaxWorkerMemory, "max-queue": c.MaxQueue, "max-boot-failures": c.MaxBootFailures} {
		if v < 0 {
			return fmt.Errorf("invalid value %d for --%s: must be 0 (off) or positive", v, name)
		}
	}
	if c.LimitRequestBody < 0 {
		return fmt.Errorf("invalid value %d for --limit-request-body: must be 0 (unlimited) or positive", c.LimitRequestBody)
	}
	for name, v := range map[string]int{"limit-request-line": c.LimitRequestLine, "limit-request-fields": c.LimitRequestFields, "limit-request-field_size": c.LimitRequestFieldSize} {
		if v < 0 {
			return fmt.Errorf("invalid value %d for --%s: must not be negative", v, name)
		}
	}
	for _, b := range c.Bind {
		if _, err := ParseBind(b); err != nil {
			return err
		}
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("invalid value %q for --env: want KEY=VALUE", kv)
		}
	}
	if c.RootPath != "" && (!strings.HasPrefix(c.RootPath, "/") || strings.HasSuffix(c.RootPath, "/")) {
		return fmt.Errorf("invalid value %q for --root-path (SCRIPT_NAME): must start with '/' and not end with '/'", c.RootPath)
	}
	if _, err := proxy.ParseTrust(c.ForwardedAllowIPs); err != nil {
		return fmt.Errorf("invalid value %q for --forwarded-allow-ips: %v", c.ForwardedAllowIPs, err)
	}
	if err := c.validateFront(); err != nil {
		return err
	}
	if err := c.validateStatic(); err != nil {
		return err
	}
	if err := c.validateOps(); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if err := c.validateReload(); err != nil {
		return err
	}
	if err := c.validateHTTP2(); err != nil {
		return err
	}
	switch c.HeaderMap {
	case "drop", "refuse", "dangerous":
	default:
		return fmt.Errorf("invalid value %q for --header-map: want drop, refuse or dangerous", c.HeaderMap)
	}
	if c.WorkerSched != "batch" && c.WorkerSched != "normal" {
		return fmt.Errorf("invalid value %q for --worker-sched: want batch or normal", c.WorkerSched)
	}
	switch strings.ToLower(c.LogLevel) { // gunicorn accepts INFO, Warning...
	case "debug", "info", "warning", "error", "critical":
	default:
		return fmt.Errorf("invalid value %q for --log-level: want debug, info, warning, error or critical", c.LogLevel)
	}
	if err := c.validateLogs(); err != nil {
		return err
	}
	if err := c.validatePrivs(); err != nil {
		return err
	}
	if err := c.validatePaste(); err != nil {
		return err
	}
	if mod, _, _ := strings.Cut(c.App, ":"); mod == "" && c.Django == nil && c.Paste == "" {
		return fmt.Errorf("invalid APP_MODULE %q: want module[:callable]", c.App)
	}
	return nil
}

// checkChdir reports a --chdir that is not a directory when the configuration is read (at
// start, and on a reload), instead of the workers' fork/exec failing with "no such file or
// directory" about the interpreter.
func (c *Config) checkChdir() error {
	if c.Chdir == "" {
		return nil
	}
	st, err := os.Stat(c.Chdir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("invalid value %q for --chdir: no such directory", c.Chdir)
	case err != nil:
		return fmt.Errorf("invalid value %q for --chdir: %v", c.Chdir, err)
	case !st.IsDir():
		return fmt.Errorf("invalid value %q for --chdir: not a directory", c.Chdir)
	}
	return nil
}

// Title returns the process title of the master or its workers (role "master" or "worker"):
// gunicorn's "gunicorn: master [NAME]", NAME being --name or else APP_MODULE.
func (c *Config) Title(role string) string {
	name := c.ProcName
	if name == "" {
		name = c.AppName()
	}
	return "gonicorn: " + role + " [" + name + "]"
}

// Bind is a parsed --bind address.
type Bind struct {
	Network string // "tcp", "unix" or "fd"
	Address string // host:port, socket path, or the fd number
	// Scheme is "http" or "https" for a TCP address written http://HOST:PORT or
	// https://HOST:PORT: plain HTTP, or TLS, whatever --certfile says; "" = TLS when
	// --certfile is set (docs/tls.md).
	Scheme string
}

// ParseBind parses one --bind value.
func ParseBind(s string) (Bind, error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(s, "unix:")
		if p == "" {
			return Bind{}, fmt.Errorf("invalid value %q for --bind: empty unix socket path", s)
		}
		return Bind{Network: "unix", Address: p}, nil
	case strings.HasPrefix(s, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "fd://"))
		if err != nil || n < 0 {
			return Bind{}, fmt.Errorf("invalid value %q for --bind: fd://N needs a file descriptor number", s)
		}
		return Bind{Network: "fd", Address: strconv.Itoa(n)}, nil
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		scheme, addr, _ := strings.Cut(s, "://")
		if strings.Contains(addr, "/") || strings.Contains(addr, "://") {
			return Bind{}, fmt.Errorf("invalid value %q for --bind: want %s://HOST:PORT", s, scheme)
		}
		b, err := ParseBind(addr)
		if err != nil || b.Network != "tcp" {
			return Bind{}, fmt.Errorf("invalid value %q for --bind: want %s://HOST:PORT", s, scheme)
		}
		b.Scheme = scheme
		return b, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// gunicorn accepts a bare host and uses port 8000.
		if !strings.Contains(s, ":") || (strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")) {
			host, port = strings.Trim(s, "[]"), "8000"
		} else {
			return Bind{}, fmt.Errorf("invalid value %q for --bind: %v", s, err)
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return Bind{}, fmt.Errorf("invalid value %q for --bind: bad port %q", s, port)
	}
	return Bind{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
}
