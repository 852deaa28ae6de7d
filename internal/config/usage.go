package config

import (
	"fmt"
	"strings"
)

// Usage returns the --help text, generated from the settings table.
func Usage(getenv func(string) string) string {
	var b strings.Builder
	b.WriteString("usage: gonicorn [OPTIONS] [APP_MODULE]\n\n")
	b.WriteString("Serve the WSGI application APP_MODULE (module[:callable]; callable defaults to\n")
	b.WriteString("'application', then 'app'; 'name()' calls a factory once per worker).\n")
	b.WriteString("Without APP_MODULE, in a Django project (a directory with manage.py: the current one,\n")
	b.WriteString("or --chdir), serve its settings' WSGI_APPLICATION, as manage.py runserver does; the\n")
	b.WriteString("settings module is DJANGO_SETTINGS_MODULE (-e or the environment), else manage.py's.\n\n")
	b.WriteString("Options (also read from GONICORN_CMD_ARGS or GUNICORN_CMD_ARGS, and from the config file\n")
	b.WriteString("(-c, else ./gunicorn.conf.py) under their gunicorn.conf.py names; the command line wins,\n")
	b.WriteString("then the variable, then the file). gunicorn's other options are recognised: each is refused\n")
	b.WriteString("with what to do instead, or ignored with a warning (docs/gunicorn-settings.md).\n")
	for _, s := range Settings(getenv) {
		flag := "--" + s.Name
		if s.Short != "" {
			flag = "-" + s.Short + ", " + flag
		}
		if s.Meta != "" {
			flag += " " + s.Meta
		}
		help := s.Help
		if s.Default != "" && !strings.Contains(help, "Default") {
			help += fmt.Sprintf(" [%s]", s.Default)
		}
		fmt.Fprintf(&b, "  %-34s %s\n", flag, help)
	}
	b.WriteString(signalsHelp)
	return b.String()
}

// signalsHelp ends --help: the master's signals, as gunicorn's (cmd/gonicorn/signals.go).
const signalsHelp = `
Signals:
  TERM       graceful stop: finish requests in flight and queued (up to --graceful-timeout)
  INT, QUIT  fast stop: requests in flight are cut (also during a graceful stop; Ctrl-C)
  HUP        reload: new workers with the new code, then the old ones drain
  TTIN/TTOU  one worker more/less
  USR1       reopen the log files
  USR2       binary upgrade: start a new master on the same sockets (docs/upgrade.md)
  PWR        dump every worker's Python stacks to the error log
`

// Markdown returns the settings reference (docs/settings.md), generated from the table with
// the built-in defaults (an empty environment).
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Settings\n\n")
	b.WriteString("Generated from the settings table in `internal/config` (`go test ./internal/config -update` rewrites it).\n")
	b.WriteString("Every flag may also be given in the `GONICORN_CMD_ARGS` (or `GUNICORN_CMD_ARGS`) environment variable, and every setting\n")
	b.WriteString("in a config file (`-c FILE`) under the names of the second column ([config-file.md](config-file.md)).\n")
	b.WriteString("The command line wins over `GONICORN_CMD_ARGS`, which wins over the config file.\n")
	b.WriteString("gunicorn's settings that are not here are answered in [gunicorn-settings.md](gunicorn-settings.md).\n\n")
	b.WriteString("| flag | config file | default | meaning |\n|---|---|---|---|\n")
	for _, s := range Settings(func(string) string { return "" }) {
		flag := "`--" + s.Name + "`"
		if s.Short != "" {
			flag = "`-" + s.Short + "`, " + flag
		}
		def := s.Default
		if def != "" {
			def = "`" + strings.ReplaceAll(def, "|", `\|`) + "`"
		}
		var keys []string
		for _, k := range s.fileKeys() {
			keys = append(keys, "`"+k+"`")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", flag, strings.Join(keys, ", "), def, strings.ReplaceAll(s.Help, "|", `\|`))
	}
	return b.String()
}
