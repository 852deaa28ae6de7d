package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// This file is the inventory of gunicorn's settings (gunicorn 26.1, gunicorn/config.py):
// every one of them, with the answer gonicorn gives when a command line, GONICORN_CMD_ARGS,
// GUNICORN_CMD_ARGS or a config file uses it. The flag parser and the config-file loader
// both consult it, so that a gunicorn setting is never an "unknown flag" and a config file
// and a command line give the same answer. docs/gunicorn-settings.md is generated from it
// (GunicornMarkdown; TestGunicornSettingsDoc keeps it in sync).

// Status is gonicorn's answer to one gunicorn setting.
type Status int

const (
	// Implemented: a gonicorn setting with gunicorn's meaning, name, flags and value syntax.
	Implemented Status = iota
	// Later: implemented by another issue; until then refused like Refused, with a note
	// saying what to do meanwhile.
	Later
	// Refused: gonicorn will not have it. Asking for it is an error (exit status 1) whose
	// one line names the setting and says what to do instead.
	Refused
	// Ignored: harmless to leave out: asking for it is a warning in the error log, and
	// gonicorn serves on.
	Ignored
)

func (s Status) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case Later:
		return "later: refused until it lands"
	case Refused:
		return "refused"
	}
	return "ignored with a warning"
}

// GunicornSetting is one of gunicorn's settings and gonicorn's answer to it.
type GunicornSetting struct {
	Name  string   // the name in a config file, e.g. "worker_class"
	Flags []string // gunicorn's command-line flags, e.g. "-k", "--worker-class"; none for file-only settings
	// Bool: the flags take no value (argparse's store_true and store_const); BoolValue is
	// the value giving one means ("true" unless set, "false" for --no-sendfile).
	Bool      bool
	BoolValue string
	Hook      bool // a server hook: a callable in the config file
	Status    Status
	// Flag is the gonicorn setting (its long flag name) that implements it; "" for
	// Implemented settings handled by name (wsgi_app, worker_class, capture_output).
	Flag string
	// Noop are the values, lower-cased as valueText writes them, that ask for what gonicorn
	// does anyway, so a setting that is not Implemented accepts them silently (a config file
	// listing gunicorn's defaults keeps working). Nil means the falsy ones: None, False, 0,
	// "" and empty lists or dicts.
	Noop []string
	Note string // why, and what to do instead; read after "SETTING VALUE: "
	// Args are a hook's parameters, gunicorn's ("server, worker"): it must take that many
	// positional ones, as gunicorn checks (post_request may take its first 2 or 3).
	Args string
}

// falsy are the values that ask for nothing, as valueText writes them.
var falsy = []string{"none", "false", "0", "", "[]", "{}", "()"}

// noop reports whether value (as valueText writes it) asks for what gonicorn does anyway.
func (g *GunicornSetting) noop(value string) bool {
	value = strings.ToLower(strings.TrimSpace(value))
	if g.Noop == nil {
		return slices.Contains(falsy, value)
	}
	return slices.Contains(g.Noop, value)
}

// Gunicorn returns the inventory of gunicorn's settings, in the order of gunicorn's
// config.py, plus tolerate_dangerous_framing, which earlier 2x releases had.
func Gunicorn() []GunicornSetting {
	const (
		// A Python SSLContext cannot configure Go's crypto/tls; ignoring it could drop what
		// it asked for (client certificates), so it is refused.
		sslContextNote = "gonicorn's TLS is Go's crypto/tls, which a Python SSLContext cannot configure; use --certfile, --keyfile, --ca-certs, --cert-reqs, --ssl-version and --ciphers (docs/tls.md)"
		dirtyNote      = "dirty arbiters are not in gonicorn; run long jobs in a task queue (Celery, RQ) or a second gonicorn"
		asgiNote       = "it applies to ASGI workers only, and gonicorn is a WSGI server"
		loggingNote    = "the Go master writes the logs itself, in gunicorn's format or as JSON; use --error-logfile, --access-logfile, --access-logformat (json for JSON lines), --error-log-format and --log-level (docs/logging.md)"
	)
	impl := func(name, flag string, flags ...string) GunicornSetting {
		return GunicornSetting{Name: name, Flags: flags, Status: Implemented, Flag: flag}
	}
	// A server hook runs in the worker or in the master's hook process (docs/hooks.md).
	hook := func(name, args, note string) GunicornSetting {
		return GunicornSetting{Name: name, Hook: true, Args: args, Status: Implemented, Note: note}
	}
	dirtyHook := func(name string) GunicornSetting {
		return GunicornSetting{Name: name, Hook: true, Status: Ignored, Note: dirtyNote}
	}
	b := func(g GunicornSetting) GunicornSetting { g.Bool = true; return g }
	noted := func(g GunicornSetting, note string) GunicornSetting { g.Note = note; return g }
	return []GunicornSetting{
		// Config File
		noted(impl("config", "config", "-c", "--config"), "without it ./gunicorn.conf.py is read when it exists, as in gunicorn; python:MODULE is not supported"),
		{Name: "wsgi_app", Status: Implemented, Note: "APP_MODULE on the command line wins over it"},
		// Server Socket
		impl("bind", "bind", "-b", "--bind"),
		noted(impl("backlog", "backlog", "--backlog"), "default: the kernel's limit, net.core.somaxconn (gunicorn: 2048); not applied to sockets from systemd or fd://N"),
		// Worker Processes
		impl("workers", "workers", "-w", "--workers"),
		{Name: "worker_class", Flags: []string{"-k", "--worker-class"}, Status: Implemented, Flag: "worker-class",
			Note: "sync and gthread (and gunicorn's class names for them); every worker is gthread with --threads slots; gevent, eventlet, tornado and ASGI workers are refused: every connection is already a goroutine in the master"},
		impl("threads", "threads", "--threads"),
		{Name: "worker_connections", Flags: []string{"--worker-connections"}, Status: Ignored,
			Note: "it bounds async workers' connections; gonicorn's bound is --max-connections"},
		impl("max_requests", "max-requests", "--max-requests"),
		impl("max_requests_jitter", "max-requests-jitter", "--max-requests-jitter"),
		impl("timeout", "timeout", "-t", "--timeout"),
		impl("graceful_timeout", "graceful-timeout", "--graceful-timeout"),
		noted(impl("keepalive", "keep-alive", "--keep-alive"), "default 75 s (gunicorn: 2 s), longer than the 60 s idle timeout of common load balancers"),
		// Security
		noted(impl("limit_request_line", "limit-request-line", "--limit-request-line"), "default 8190 (gunicorn: 4094); 414 above it"),
		impl("limit_request_fields", "limit-request-fields", "--limit-request-fields"),
		impl("limit_request_field_size", "limit-request-field_size", "--limit-request-field_size"),
		// Debugging
		b(noted(impl("reload", "reload", "--reload"), "for development; also serves the traceback of an app that fails to import (500) until a save fixes it, and a Django app's static files through its finders with DEBUG on (docs/django.md)")),
		noted(impl("reload_engine", "reload-engine", "--reload-engine"), "auto, inotify or poll"),
		noted(impl("reload_extra_files", "reload-extra-file", "--reload-extra-file"), "paths, directories (every file under them) and globs (** for any directories)"),
		b(GunicornSetting{Name: "spew", Flags: []string{"--spew"}, Status: Refused,
			Note: "gonicorn does not trace every line; send PWR to dump every worker's Python stacks, or debug the app under python -m pdb"}),
		impl("check_config", "check-config", "--check-config"),
		noted(impl("print_config", "print-config", "--print-config"), "also says where each value came from: default, file, GONICORN_CMD_ARGS or GUNICORN_CMD_ARGS, command line"),
		// Server Mechanics
		b(noted(impl("preload_app", "preload", "--preload"), "the workers are forked from a preloader that imported the app; unlike gunicorn, HUP loads new code (a new preloader); docs/architecture.md")),
		b(noted(impl("sendfile", "no-sendfile", "--no-sendfile"), "sendfile = False in a config file; without either, the SENDFILE environment variable as in gunicorn; sendfile = True means sendfile (gunicorn turns it off for any value)")),
		impl("reuse_port", "reuse-port", "--reuse-port"),
		impl("chdir", "chdir", "--chdir"),
		noted(impl("daemon", "daemon", "-D", "--daemon"), "the command returns once the workers are ready (0), or prints why the start failed (1, or 3 for an app that does not load); docs/privileges.md"),
		impl("raw_env", "env", "-e", "--env"),
		impl("pidfile", "pid", "-p", "--pid"),
		{Name: "worker_tmp_dir", Flags: []string{"--worker-tmp-dir"}, Status: Ignored,
			Note: "workers have no heartbeat file (the master watches them over their sockets); temp files go to --tmp-dir"},
		noted(impl("user", "user", "-u", "--user"), "the workers' user; without --group they take its primary group (gunicorn keeps the master's); docs/privileges.md"),
		impl("group", "group", "-g", "--group"),
		noted(impl("umask", "umask", "-m", "--umask"), "applied to the unix sockets bound, as in gunicorn; the pid file is 0644"),
		impl("initgroups", "initgroups", "--initgroups"),
		impl("tmp_upload_dir", "tmp-dir"),
		{Name: "secure_scheme_headers", Status: Ignored,
			Note: "the scheme headers believed from --forwarded-allow-ips are chosen by --forwarded-allow-headers (docs/proxy.md)"},
		noted(impl("forwarded_allow_ips", "forwarded-allow-ips", "--forwarded-allow-ips"), "the headers believed from these proxies are chosen by --forwarded-allow-headers; X-Forwarded-For sets REMOTE_ADDR too (docs/proxy.md)"),
		// Logging
		impl("accesslog", "access-logfile", "--access-logfile"),
		b(impl("disable_redirect_access_to_syslog", "disable-redirect-access-to-syslog", "--disable-redirect-access-to-syslog")),
		impl("access_log_format", "access-logformat", "--access-logformat"),
		noted(impl("errorlog", "error-logfile", "--error-logfile", "--log-file"), "--log-file is the same setting"),
		noted(impl("loglevel", "log-level", "--log-level"), "debug, info, warning, error, critical"),
		b(GunicornSetting{Name: "capture_output", Flags: []string{"--capture-output"}, Status: Implemented,
			Note: "always on: the workers' stdout and stderr (the app's print()) go to the error log, each line tagged with the worker's pid"}),
		{Name: "logger_class", Flags: []string{"--logger-class"}, Status: Ignored, Noop: []string{"none", "", "gunicorn.glogging.logger"}, Note: loggingNote},
		{Name: "logconfig", Flags: []string{"--log-config"}, Status: Ignored, Note: loggingNote},
		{Name: "logconfig_dict", Status: Ignored, Note: loggingNote},
		{Name: "logconfig_json", Flags: []string{"--log-config-json"}, Status: Ignored, Note: loggingNote},
		noted(impl("syslog_addr", "log-syslog-to", "--log-syslog-to"), "also unix:PATH; over TCP each message ends with a line feed (docs/logging.md)"),
		b(noted(impl("syslog", "log-syslog", "--log-syslog"), "gunicorn's messages: <PRI>gunicorn.PREFIX.error: [PID] message, without Python's trailing NUL (docs/logging.md)")),
		impl("syslog_prefix", "log-syslog-prefix", "--log-syslog-prefix"),
		impl("syslog_facility", "log-syslog-facility", "--log-syslog-facility"),
		b(GunicornSetting{Name: "enable_stdio_inheritance", Flags: []string{"-R", "--enable-stdio-inheritance"}, Status: Ignored,
			Note: "with -D the master's stdout and stderr go to /dev/null; log to files (--error-logfile, --access-logfile) to keep the logs and the workers' output"}),
		impl("statsd_host", "statsd-host", "--statsd-host"),
		impl("dogstatsd_tags", "dogstatsd-tags", "--dogstatsd-tags"),
		impl("statsd_prefix", "statsd-prefix", "--statsd-prefix"),
		b(GunicornSetting{Name: "enable_backlog_metric", Flags: []string{"--enable-backlog-metric"}, Status: Ignored,
			Note: "the queue depth is the Prometheus gauge gonicorn_queue_depth on --metrics-bind (docs/operations.md); no gunicorn.backlog statsd gauge is sent"}),
		// Process Naming
		impl("proc_name", "name", "-n", "--name"),
		{Name: "default_proc_name", Status: Ignored, Noop: []string{"none", "", "gunicorn"},
			Note: "it is the name frameworks set for their own runners; set proc_name (-n) instead"},
		impl("pythonpath", "pythonpath", "--pythonpath"),
		noted(impl("paste", "paste", "--paste", "--paster"), "loads the app with paste.deploy.loadapp in each worker, as gunicorn; [server:*] sections are not read, as in gunicorn (docs/config-file.md)"),
		// Server Hooks
		hook("on_starting", "server", "master (hook process), before the sockets are bound; an exception stops the start (exit 1), as in gunicorn"),
		hook("on_reload", "server", "master (hook process), on HUP once the configuration was read again, before the new workers start"),
		hook("when_ready", "server", "master (hook process), once the first workers are ready and the server answers (gunicorn: once the sockets are bound, before the workers); an exception stops the start (exit 1), as in gunicorn"),
		hook("pre_fork", "server, worker", "master (hook process), before each worker starts; the worker's start waits for it"),
		hook("post_fork", "server, worker", "worker, before it imports the app; an exception fails the worker's boot (exit 3), as in gunicorn"),
		hook("post_worker_init", "worker", "worker, once it imported the app; an exception fails the worker's boot (exit 3), as in gunicorn"),
		hook("worker_int", "worker", "worker, on SIGQUIT: the master's fast stop (INT, QUIT) sends it to the workers, which then stop serving and exit"),
		hook("worker_abort", "worker", "worker, when a request ran past --timeout (SIGABRT after the stack dump; up to 1 s before SIGKILL)"),
		hook("pre_exec", "server", "master (hook process), before a binary upgrade (USR2) starts the new master"),
		hook("pre_request", "worker, req", "worker, before the app is called; an exception is the request's 500, as in gunicorn"),
		hook("post_request", "worker, req, environ, resp", "worker, once the response was handed to the master"),
		hook("child_exit", "server, worker", "master (hook process), once a worker process was reaped"),
		hook("worker_exit", "server, worker", "worker, as it exits (also after a failed boot, as in gunicorn)"),
		hook("nworkers_changed", "server, new_value, old_value", "master (hook process), at start (old_value None), TTIN, TTOU and HUP"),
		hook("on_exit", "server", "master (hook process), last, after the workers stopped"),
		{Name: "ssl_context", Hook: true, Status: Refused, Note: sslContextNote},
		noted(impl("proxy_protocol", "proxy-protocol", "--proxy-protocol"), "off, v1, v2 or auto, and gunicorn's true, false, 1, 0 in any case; the flag alone means auto and, as in gunicorn, takes the next argument as its value unless it starts with '-'"),
		{Name: "proxy_allow_ips", Flags: []string{"--proxy-allow-from"}, Status: Implemented, Flag: "proxy-allow-ips",
			Note: "another name for --proxy-allow-from, gunicorn's flag, which is the same setting"},
		{Name: "protocol", Flags: []string{"--protocol"}, Status: Refused, Noop: []string{"none", "", "http"},
			Note: "gonicorn speaks HTTP only; point nginx's proxy_pass (not uwsgi_pass) at it"},
		{Name: "uwsgi_allow_ips", Flags: []string{"--uwsgi-allow-from"}, Status: Ignored,
			Note: "it applies to --protocol uwsgi only, which gonicorn does not speak"},
		// SSL
		impl("keyfile", "keyfile", "--keyfile"),
		impl("certfile", "certfile", "--certfile"),
		noted(impl("ssl_version", "ssl-version", "--ssl-version"), "TLSv1_2 (default) or TLSv1_3; gunicorn's TLS, SSLv23, TLS_SERVER and their numbers mean TLSv1_2; TLS 1.0/1.1 and SSL are refused (docs/tls.md)"),
		noted(impl("cert_reqs", "cert-reqs", "--cert-reqs"), "0, 1, 2 or ssl.CERT_NONE/OPTIONAL/REQUIRED in a config file"),
		impl("ca_certs", "ca-certs", "--ca-certs"),
		b(noted(impl("suppress_ragged_eofs", "suppress-ragged-eofs", "--suppress-ragged-eofs"), "accepted, no effect: a ragged EOF ends the connection as a plain close would (docs/tls.md)")),
		b(noted(impl("do_handshake_on_connect", "do-handshake-on-connect", "--do-handshake-on-connect"), "accepted, no effect: the handshake is always done at once, in the connection's goroutine (docs/tls.md)")),
		noted(impl("ciphers", "ciphers", "--ciphers"), "an OpenSSL cipher list mapped onto Go's TLS 1.2 suites; unknown names are an error; TLS 1.3 suites are not configurable (docs/tls.md)"),
		// HTTP/2
		noted(impl("http_protocols", "http-protocols", "--http-protocols"), "h1 and h2 in any order, as a comma-separated string or a list ([\"h2\", \"h1\"]) (h1 required; the order does not change ALPN, where h2 is preferred); h3 is refused (docs/http2.md)"),
		b(noted(impl("http2_cleartext", "http2-cleartext", "--http2-cleartext"), "turns HTTP/2 on, as h2 in --http-protocols does (docs/http2.md)")),
		impl("http2_max_concurrent_streams", "http2-max-concurrent-streams", "--http2-max-concurrent-streams"),
		impl("http2_initial_window_size", "http2-initial-window-size", "--http2-initial-window-size"),
		impl("http2_max_frame_size", "http2-max-frame-size", "--http2-max-frame-size"),
		impl("http2_max_header_list_size", "http2-max-header-list-size", "--http2-max-header-list-size"),
		impl("raw_paste_global_conf", "paste-global", "--paste-global"),
		b(GunicornSetting{Name: "permit_obsolete_folding", Flags: []string{"--permit-obsolete-folding"}, Status: Refused,
			Note: "gonicorn refuses folded header lines with 400 (RFC 9112 §5.2): a proxy in front that reads them differently is a request-smuggling risk, and no current client folds; fix the client that sends them (docs/limits.md)"}),
		b(GunicornSetting{Name: "strip_header_spaces", Flags: []string{"--strip-header-spaces"}, Status: Refused,
			Note: "gonicorn refuses whitespace between a header name and its colon with 400 (RFC 9112 §5.1): stripping it is a known request-smuggling technique, and gunicorn deprecated it; fix the client that sends it (docs/limits.md)"}),
		b(GunicornSetting{Name: "permit_unconventional_http_method", Flags: []string{"--permit-unconventional-http-method"}, Status: Refused,
			Note: "gonicorn takes gunicorn's default methods only: 3 to 20 token characters, no lower-case letter or '#' (400 otherwise), as a guard against mis-split request lines; gunicorn marks the setting temporary; send upper-case methods (docs/limits.md)"}),
		b(GunicornSetting{Name: "permit_unconventional_http_version", Flags: []string{"--permit-unconventional-http-version"}, Status: Refused,
			Note: "gonicorn serves HTTP/1.0 and HTTP/1.1 only (505 for another version, 400 for a malformed one, RFC 9112 §2.3): a likely malformed request line is a request-smuggling risk; fix the client that sends it (docs/limits.md)"}),
		b(GunicornSetting{Name: "casefold_http_method", Flags: []string{"--casefold-http-method"}, Status: Implemented,
			Note: "accepted, no effect, as in gunicorn without --permit-unconventional-http-method: a method with a lower-case letter is refused (400) before it could be folded, so folding never changes one (docs/limits.md)"}),
		noted(impl("forwarder_headers", "forwarder-headers", "--forwarder-headers"), "names matched in any case; PATH_INFO and REMOTE_USER set those environ keys too (gunicorn's code applies SCRIPT_NAME only); a path outside SCRIPT_NAME is a 500, as in gunicorn (docs/proxy.md)"),
		impl("header_map", "header-map", "--header-map"),
		{Name: "asgi_loop", Flags: []string{"--asgi-loop"}, Status: Ignored, Noop: []string{"none", "", "auto"}, Note: asgiNote},
		{Name: "asgi_lifespan", Flags: []string{"--asgi-lifespan"}, Status: Ignored, Noop: []string{"none", "", "auto"}, Note: asgiNote},
		{Name: "asgi_disconnect_grace_period", Flags: []string{"--asgi-disconnect-grace-period"}, Status: Ignored, Note: asgiNote},
		{Name: "http_parser", Flags: []string{"--http-parser"}, Status: Ignored, Noop: []string{"none", "", "auto"},
			Note: "it chooses the parser of gunicorn's ASGI workers; gonicorn's master always parses HTTP itself, in Go"},
		impl("root_path", "root-path", "--root-path"),
		// Dirty Arbiters
		{Name: "dirty_apps", Flags: []string{"--dirty-app"}, Status: Refused, Note: dirtyNote},
		{Name: "dirty_workers", Flags: []string{"--dirty-workers"}, Status: Refused, Note: dirtyNote},
		{Name: "dirty_timeout", Flags: []string{"--dirty-timeout"}, Status: Ignored, Note: "it applies to dirty arbiters, which gonicorn does not have"},
		{Name: "dirty_threads", Flags: []string{"--dirty-threads"}, Status: Ignored, Note: "it applies to dirty arbiters, which gonicorn does not have"},
		{Name: "dirty_graceful_timeout", Flags: []string{"--dirty-graceful-timeout"}, Status: Ignored, Note: "it applies to dirty arbiters, which gonicorn does not have"},
		dirtyHook("on_dirty_starting"), dirtyHook("dirty_post_fork"), dirtyHook("dirty_worker_init"), dirtyHook("dirty_worker_exit"),
		// Control
		impl("control_socket", "control-socket", "--control-socket"),
		impl("control_socket_mode", "control-socket-mode", "--control-socket-mode"),
		b(impl("control_socket_disable", "no-control-socket", "--no-control-socket")),
		// Earlier 2x releases.
		b(GunicornSetting{Name: "tolerate_dangerous_framing", Flags: []string{"--tolerate-dangerous-framing"}, Status: Refused,
			Note: "gonicorn refuses ambiguous framing (RFC 9112 §6.3); it is a request-smuggling risk; fix the client or the proxy"}),
	}
}

// gunicornByName returns the inventory by config-file name.
func gunicornByName() map[string]*GunicornSetting {
	inv := Gunicorn()
	m := make(map[string]*GunicornSetting, len(inv))
	for i := range inv {
		m[inv[i].Name] = &inv[i]
	}
	return m
}

// SettingError is a gunicorn setting that gonicorn refuses: Setting is the flag
// ("--daemon") or the config file's "FILE: name = value".
type SettingError struct {
	Setting string
	Note    string
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Note }

// refusal returns the warning or the error for g given as the flag flag ("--daemon") with
// value (lower-cased as valueText writes it), shown in messages as shown ("" for a boolean
// flag given alone); both are empty for a value that asks for nothing.
func (g *GunicornSetting) refusal(flag, value, shown string) (warning string, err error) {
	if g.noop(value) {
		return "", nil
	}
	what := flag
	if shown != "" {
		what += " " + shown
	}
	switch g.Status {
	case Ignored:
		return what + ": gunicorn setting ignored by gonicorn: " + g.Note, nil
	case Later, Refused:
		return "", &SettingError{Setting: what, Note: g.Note}
	}
	return "", nil
}

// gunicornValue is the pflag.Value of a gunicorn flag that no gonicorn setting implements:
// giving it is an error (*SettingError) or a warning, by the inventory.
type gunicornValue struct {
	g    *GunicornSetting
	flag string  // "--daemon"
	c    *Config // the warnings go to c.Warnings
	last string  // the value given, for String
}

func (v *gunicornValue) String() string { return v.last }
func (v *gunicornValue) Type() string {
	if v.g.Bool {
		return "bool"
	}
	return "string"
}
func (v *gunicornValue) Set(s string) error {
	v.last = s
	shown := s
	if v.g.Bool && s == v.g.boolValue() {
		shown = "" // a boolean flag given alone
	}
	w, err := v.g.refusal(v.flag, s, shown)
	if w != "" {
		v.c.Warnings = append(v.c.Warnings, w)
	}
	return err
}

func (g *GunicornSetting) boolValue() string {
	if g.BoolValue != "" {
		return g.BoolValue
	}
	return "true"
}

// registerGunicorn adds to fs gunicorn's flags that the settings table does not have, bound
// to c: each answers by the inventory when it is given.
func registerGunicorn(fs *pflag.FlagSet, c *Config) {
	inv := Gunicorn()
	for i := range inv {
		g := &inv[i]
		if g.Status == Implemented && g.Flag != "" {
			continue // the settings table has it
		}
		short := ""
		for _, f := range g.Flags {
			if len(f) == 2 {
				short = f[1:]
			}
		}
		for _, f := range g.Flags {
			name, ok := strings.CutPrefix(f, "--")
			if !ok || fs.Lookup(name) != nil {
				continue
			}
			sh := short
			if sh != "" && fs.ShorthandLookup(sh) != nil {
				sh = ""
			}
			v := &gunicornValue{g: g, flag: f, c: c}
			fs.VarP(v, name, sh, "gunicorn's --"+name+": "+g.Status.String())
			if g.Bool {
				fs.Lookup(name).NoOptDefVal = g.boolValue()
			}
			fs.MarkHidden(name)
			short = "" // the short flag goes with the first long one
		}
	}
}

// valueText writes a config file's value the way Noop lists values: lower-cased bools,
// numbers as digits, strings as they are, empty containers as [] or {}.
func valueText(v Value) string {
	switch v.Kind {
	case "none":
		return "none"
	case "bool", "int", "float":
		return raw(v)
	case "str":
		return str(v)
	case "strlist":
		if l, _ := strList(v, ""); len(l) == 0 {
			return "[]"
		}
	case "other":
		if v.Repr == "{}" || v.Repr == "[]" || v.Repr == "()" {
			return v.Repr
		}
	}
	return v.Repr
}

// fileSetting answers a config file global that the settings table does not take: a
// warning or an error for a gunicorn setting gonicorn does not implement, nothing for one it
// implements by name (capture_output) or for a global that is no gunicorn setting at all (a
// helper variable, an import), which gunicorn ignores too.
func fileSetting(name string, v Value, path string) (warning string, err error) {
	g := gunicornByName()[name]
	switch {
	case g == nil, g.Status == Implemented, g.Hook && v.Kind != "callable":
		return "", nil
	case g.Hook:
		return fmt.Sprintf("config file %s: %s: server hooks are not supported; it is ignored (%s)", path, name, g.Note), nil
	case g.noop(valueText(v)):
		return "", nil
	case g.Status == Ignored:
		return fmt.Sprintf("config file %s: %s: gunicorn setting ignored by gonicorn: %s", path, name, g.Note), nil
	}
	return "", &SettingError{Setting: fmt.Sprintf("config file %s: %s = %s", path, name, v.Repr), Note: g.Note}
}

// GunicornMarkdown returns docs/gunicorn-settings.md, generated from the inventory.
func GunicornMarkdown() string {
	var b strings.Builder
	b.WriteString("# gunicorn's settings in gonicorn\n\n")
	b.WriteString("Generated from the inventory in `internal/config/gunicorn.go` (`go test ./internal/config -update` rewrites it).\n")
	b.WriteString("Every setting of gunicorn 26.1 (`gunicorn/config.py`) has one answer, the same on the command line,\n")
	b.WriteString("in `GONICORN_CMD_ARGS` / `GUNICORN_CMD_ARGS` and in a config file:\n\n")
	b.WriteString("- **implemented**: the gonicorn setting of the third column, with gunicorn's name, flags and values ([settings.md](settings.md));\n")
	b.WriteString("- **later**: implemented by another issue; until it lands it is refused like the next;\n")
	b.WriteString("- **refused**: gonicorn stops at start with exit status 1 and one line naming the setting and saying what to do instead;\n")
	b.WriteString("- **ignored with a warning**: harmless to leave out; the error log says it is ignored and why, and gonicorn serves on.\n\n")
	b.WriteString("A setting that is not implemented is accepted silently when its value asks for nothing: in a config file\n")
	b.WriteString("`None`, `False`, `0`, `\"\"` or an empty list (`daemon = False`, `keyfile = None`), or gunicorn's default where\n")
	b.WriteString("the note says so (`protocol = \"http\"`). Server hooks (callables in the config file) run where the note says ([hooks.md](hooks.md)).\n\n")
	b.WriteString("| setting | gunicorn's flags | status | gonicorn |\n|---|---|---|---|\n")
	for _, g := range Gunicorn() {
		var flags []string
		for _, f := range g.Flags {
			flags = append(flags, "`"+f+"`")
		}
		status := g.Status.String()
		if g.Hook {
			status = "server hook: " + status
		}
		note := g.Note
		if g.Args != "" {
			note = "`" + g.Name + "(" + g.Args + ")`, in the " + note
		}
		if g.Flag != "" && note != "" {
			note = "`--" + g.Flag + "`: " + note
		} else if g.Flag != "" {
			note = "`--" + g.Flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", g.Name, strings.Join(flags, ", "), status, strings.ReplaceAll(note, "|", `\|`))
	}
	return b.String()
}
