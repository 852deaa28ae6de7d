package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// gunicorn261 are the settings of gunicorn 26.1's gunicorn/config.py with their flags, in
// its order: the inventory must answer every one of them, with the same flags.
var gunicorn261 = map[string]string{
	"config":                             "-c --config",
	"wsgi_app":                           "",
	"bind":                               "-b --bind",
	"backlog":                            "--backlog",
	"workers":                            "-w --workers",
	"worker_class":                       "-k --worker-class",
	"threads":                            "--threads",
	"worker_connections":                 "--worker-connections",
	"max_requests":                       "--max-requests",
	"max_requests_jitter":                "--max-requests-jitter",
	"timeout":                            "-t --timeout",
	"graceful_timeout":                   "--graceful-timeout",
	"keepalive":                          "--keep-alive",
	"limit_request_line":                 "--limit-request-line",
	"limit_request_fields":               "--limit-request-fields",
	"limit_request_field_size":           "--limit-request-field_size",
	"reload":                             "--reload",
	"reload_engine":                      "--reload-engine",
	"reload_extra_files":                 "--reload-extra-file",
	"spew":                               "--spew",
	"check_config":                       "--check-config",
	"print_config":                       "--print-config",
	"preload_app":                        "--preload",
	"sendfile":                           "--no-sendfile",
	"reuse_port":                         "--reuse-port",
	"chdir":                              "--chdir",
	"daemon":                             "-D --daemon",
	"raw_env":                            "-e --env",
	"pidfile":                            "-p --pid",
	"worker_tmp_dir":                     "--worker-tmp-dir",
	"user":                               "-u --user",
	"group":                              "-g --group",
	"umask":                              "-m --umask",
	"initgroups":                         "--initgroups",
	"tmp_upload_dir":                     "",
	"secure_scheme_headers":              "",
	"forwarded_allow_ips":                "--forwarded-allow-ips",
	"accesslog":                          "--access-logfile",
	"disable_redirect_access_to_syslog":  "--disable-redirect-access-to-syslog",
	"access_log_format":                  "--access-logformat",
	"errorlog":                           "--error-logfile --log-file",
	"loglevel":                           "--log-level",
	"capture_output":                     "--capture-output",
	"logger_class":                       "--logger-class",
	"logconfig":                          "--log-config",
	"logconfig_dict":                     "",
	"logconfig_json":                     "--log-config-json",
	"syslog_addr":                        "--log-syslog-to",
	"syslog":                             "--log-syslog",
	"syslog_prefix":                      "--log-syslog-prefix",
	"syslog_facility":                    "--log-syslog-facility",
	"enable_stdio_inheritance":           "-R --enable-stdio-inheritance",
	"statsd_host":                        "--statsd-host",
	"dogstatsd_tags":                     "--dogstatsd-tags",
	"statsd_prefix":                      "--statsd-prefix",
	"enable_backlog_metric":              "--enable-backlog-metric",
	"proc_name":                          "-n --name",
	"default_proc_name":                  "",
	"pythonpath":                         "--pythonpath",
	"paste":                              "--paste --paster",
	"on_starting":                        "",
	"on_reload":                          "",
	"when_ready":                         "",
	"pre_fork":                           "",
	"post_fork":                          "",
	"post_worker_init":                   "",
	"worker_int":                         "",
	"worker_abort":                       "",
	"pre_exec":                           "",
	"pre_request":                        "",
	"post_request":                       "",
	"child_exit":                         "",
	"worker_exit":                        "",
	"nworkers_changed":                   "",
	"on_exit":                            "",
	"ssl_context":                        "",
	"proxy_protocol":                     "--proxy-protocol",
	"proxy_allow_ips":                    "--proxy-allow-from",
	"protocol":                           "--protocol",
	"uwsgi_allow_ips":                    "--uwsgi-allow-from",
	"keyfile":                            "--keyfile",
	"certfile":                           "--certfile",
	"ssl_version":                        "--ssl-version",
	"cert_reqs":                          "--cert-reqs",
	"ca_certs":                           "--ca-certs",
	"suppress_ragged_eofs":               "--suppress-ragged-eofs",
	"do_handshake_on_connect":            "--do-handshake-on-connect",
	"ciphers":                            "--ciphers",
	"http_protocols":                     "--http-protocols",
	"http2_cleartext":                    "--http2-cleartext",
	"http2_max_concurrent_streams":       "--http2-max-concurrent-streams",
	"http2_initial_window_size":          "--http2-initial-window-size",
	"http2_max_frame_size":               "--http2-max-frame-size",
	"http2_max_header_list_size":         "--http2-max-header-list-size",
	"raw_paste_global_conf":              "--paste-global",
	"permit_obsolete_folding":            "--permit-obsolete-folding",
	"strip_header_spaces":                "--strip-header-spaces",
	"permit_unconventional_http_method":  "--permit-unconventional-http-method",
	"permit_unconventional_http_version": "--permit-unconventional-http-version",
	"casefold_http_method":               "--casefold-http-method",
	"forwarder_headers":                  "--forwarder-headers",
	"header_map":                         "--header-map",
	"asgi_loop":                          "--asgi-loop",
	"asgi_lifespan":                      "--asgi-lifespan",
	"asgi_disconnect_grace_period":       "--asgi-disconnect-grace-period",
	"http_parser":                        "--http-parser",
	"root_path":                          "--root-path",
	"dirty_apps":                         "--dirty-app",
	"dirty_workers":                      "--dirty-workers",
	"dirty_timeout":                      "--dirty-timeout",
	"dirty_threads":                      "--dirty-threads",
	"dirty_graceful_timeout":             "--dirty-graceful-timeout",
	"on_dirty_starting":                  "",
	"dirty_post_fork":                    "",
	"dirty_worker_init":                  "",
	"dirty_worker_exit":                  "",
	"control_socket":                     "--control-socket",
	"control_socket_mode":                "--control-socket-mode",
	"control_socket_disable":             "--no-control-socket",
}

// TestGunicornInventory checks that the inventory has every gunicorn setting with gunicorn's
// flags, and that each implemented one is a setting of the table under gunicorn's names.
func TestGunicornInventory(t *testing.T) {
	inv := Gunicorn()
	seen := map[string]bool{}
	for _, g := range inv {
		if seen[g.Name] {
			t.Errorf("%s: listed twice", g.Name)
		}
		seen[g.Name] = true
		flags, ok := gunicorn261[g.Name]
		if !ok && g.Name != "tolerate_dangerous_framing" {
			t.Errorf("%s: not a gunicorn 26.1 setting", g.Name)
		}
		if ok && strings.Join(g.Flags, " ") != flags {
			t.Errorf("%s: flags %q; gunicorn's are %q", g.Name, g.Flags, flags)
		}
		if g.Status != Implemented && g.Note == "" {
			t.Errorf("%s: %v without a note saying what to do instead", g.Name, g.Status)
		}
	}
	for name := range gunicorn261 {
		if !seen[name] {
			t.Errorf("gunicorn's %s: not in the inventory", name)
		}
	}

	c := &Config{}
	fs := FlagSet(c, env())
	fileKeys := map[string]string{}
	for _, s := range Settings(env()) {
		for _, k := range s.fileKeys() {
			fileKeys[k] = s.Name
		}
	}
	for _, g := range inv {
		if g.Status != Implemented || g.Flag == "" {
			continue
		}
		if fs.Lookup(g.Flag) == nil {
			t.Errorf("%s: implemented by --%s, which the settings table lacks", g.Name, g.Flag)
			continue
		}
		if fileKeys[g.Name] != g.Flag && g.Name != "config" {
			t.Errorf("%s: a config file's %s sets %q; want --%s", g.Name, g.Name, fileKeys[g.Name], g.Flag)
		}
		for _, f := range g.Flags {
			var fl *pflag.Flag
			if long, ok := strings.CutPrefix(f, "--"); ok {
				fl = fs.Lookup(long)
			} else {
				fl = fs.ShorthandLookup(f[1:])
			}
			if fl == nil {
				t.Errorf("%s: gunicorn's %s is not a flag", g.Name, f)
				continue
			}
			if _, refused := fl.Value.(*gunicornValue); refused || (fl.Name != g.Flag && !slices.Contains(g.Flags, "--"+fl.Name)) {
				t.Errorf("%s: gunicorn's %s is --%s; want --%s", g.Name, f, fl.Name, g.Flag)
			}
		}
	}
}

// longFlag returns g's first long flag, the name messages use for its short flag too.
func longFlag(g GunicornSetting) string {
	for _, f := range g.Flags {
		if strings.HasPrefix(f, "--") {
			return f
		}
	}
	return ""
}

// flagArgs returns a command line that gives g's flag f: alone for a boolean flag, else
// with a value that asks for something.
func flagArgs(g GunicornSetting, f string) []string {
	if g.Bool {
		return []string{f, "app"}
	}
	return []string{f, "something-else", "app"}
}

// Every gunicorn flag gonicorn does not implement is recognised: refused with one line that
// names it and says what to do, or a warning; never "unknown flag". Both environment
// variables answer the same, naming themselves.
func TestGunicornFlagsAnswered(t *testing.T) {
	for _, g := range Gunicorn() {
		if g.Status == Implemented {
			continue
		}
		long := longFlag(g)
		for _, f := range g.Flags {
			args := flagArgs(g, f)
			if g.Bool && g.noop(g.boolValue()) {
				if c, err := Parse(args, env()); err != nil || len(c.Warnings) != 0 {
					t.Errorf("%v: %v, warnings %q; want it accepted silently (it asks for what gonicorn does)", args, err, c.Warnings)
				}
				continue
			}
			for _, tc := range []struct {
				args   []string
				getenv func(string) string
				from   string
			}{
				{args, env(), ""},
				{[]string{"app"}, env("GUNICORN_CMD_ARGS", strings.Join(args[:len(args)-1], " ")), "GUNICORN_CMD_ARGS"},
			} {
				c, err := Parse(tc.args, tc.getenv)
				switch g.Status {
				case Later, Refused:
					var se *SettingError
					if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), long) || !strings.Contains(err.Error(), g.Note) ||
						strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.from) {
						t.Errorf("%v (env %s): %v; want one line %q naming %s", tc.args, tc.from, err, long+"...: "+g.Note, tc.from)
					}
				case Ignored:
					if err != nil || len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], long) || !strings.Contains(c.Warnings[0], g.Note) {
						t.Errorf("%v: %v, warnings %q; want one warning naming %s", tc.args, err, c.Warnings, long)
					}
				}
			}
		}
	}
	// The implemented boolean flags without a gonicorn setting are accepted as they are.
	for _, args := range [][]string{{"--capture-output", "app"}, {"--no-control-socket", "app"}, {"--casefold-http-method", "app"}} {
		if c, err := Parse(args, env()); err != nil || len(c.Warnings) != 0 || c.App != "app" {
			t.Errorf("%v: %v, warnings %q; want it accepted", args, err, c.Warnings)
		}
	}
}

// A config file answers every gunicorn setting as the command line does, naming the file,
// the setting and the value.
func TestGunicornFileSettingsAnswered(t *testing.T) {
	for _, g := range Gunicorn() {
		if g.Status == Implemented || g.Hook {
			continue
		}
		v := pyv("str", "something-else")
		if g.Bool {
			v = pyv("bool", g.boolValue() == "true")
		}
		c, err := parseFile(t, "-c /etc/g.conf.py app", env(), map[string]Value{g.Name: v})
		switch {
		case g.noop(valueText(v)):
			if err != nil || len(c.Warnings) != 0 {
				t.Errorf("%s = %s: %v, warnings %q; want it accepted silently", g.Name, v.Repr, err, c.Warnings)
			}
		case g.Status == Later || g.Status == Refused:
			if err == nil || !strings.Contains(err.Error(), "/etc/g.conf.py: "+g.Name+" = "+v.Repr+": "+g.Note) {
				t.Errorf("%s = %s: %v; want an error naming the file, the setting and the value", g.Name, v.Repr, err)
			}
		case g.Status == Ignored:
			if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "/etc/g.conf.py: "+g.Name+": ") {
				t.Errorf("%s = %s: %v, warnings %q; want one warning", g.Name, v.Repr, err, c.Warnings)
			}
		}
		// A value that asks for nothing is accepted silently.
		if c, err := parseFile(t, "-c /etc/g.conf.py app", env(), map[string]Value{g.Name: pyv("none", nil)}); err != nil || len(c.Warnings) != 0 {
			t.Errorf("%s = None: %v, warnings %q; want it accepted silently", g.Name, err, c.Warnings)
		}
	}
}

// TestGunicornSettingsDoc keeps docs/gunicorn-settings.md equal to the inventory.
func TestGunicornSettingsDoc(t *testing.T) {
	checkGenerated(t, "../../docs/gunicorn-settings.md", GunicornMarkdown())
}
