package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// compatSettings are the rows of the settings table that exist so that gunicorn's command
// lines run unchanged: gunicorn's worker classes and its second name for the error log.
func compatSettings() []Setting {
	return []Setting{
		{Name: "worker-class", Short: "k", Meta: "CLASS", Default: "sync",
			Help: "gunicorn's worker class: sync or gthread (any case), or gunicorn's class names for them (gunicorn.workers.sync.SyncWorker, gunicorn.workers.gthread.ThreadWorker, egg:gunicorn#gthread). Both are the same worker here, with --threads slots each. Async classes (gevent, eventlet, tornado, uvicorn's) are refused: every connection is already a goroutine in the master.",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				c.WorkerClass = s.Default
				fs.VarP(&workerClassValue{p: &c.WorkerClass, s: s.Default}, s.Name, s.Short, s.Help)
			}},
		{Name: "backlog", Meta: "INT", Default: "0",
			Help: "The listen(2) backlog of the bound sockets: connections the kernel completes and holds until gonicorn accepts them (at --max-connections it stops accepting). 0 means the kernel's limit, net.core.somaxconn (gunicorn's default is 2048; the kernel caps any value at somaxconn). Not applied to sockets from systemd, fd://N or a binary upgrade, which are already listening.",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				fs.Var(&intValue[int]{p: &c.Backlog, s: s.Default}, s.Name, s.Help)
			}},
		{Name: "reuse-port", Default: "", File: "reuse_port",
			Help:     "Set SO_REUSEPORT on the bound TCP sockets, so that other processes that set it too (another gonicorn) may bind the same address and the kernel spreads connections between them.",
			register: boolean(func(c *Config) *bool { return &c.ReusePort })},
		{Name: "check-config", Default: "", File: "check_config",
			Help:     "Check the configuration and exit: read it, start one worker to import the app, and exit 0 when it loads, or 1 with the reason (a bad setting, the app's traceback).",
			register: boolean(func(c *Config) *bool { return &c.CheckConfig })},
		{Name: "print-config", Default: "", File: "print_config",
			Help:     "Print every effective setting with where it came from (default, file, GONICORN_CMD_ARGS or GUNICORN_CMD_ARGS, command line), then check it as --check-config does and exit.",
			register: boolean(func(c *Config) *bool { return &c.PrintConfig })},
		{Name: "log-file", Meta: "FILE", Default: "-", File: "-",
			Help: "Another name for --error-logfile, as in gunicorn (Heroku's Procfile uses --log-file -).",
			register: func(fs *pflag.FlagSet, c *Config, s *Setting) {
				fs.StringVar(&c.ErrorLogFile, s.Name, s.Default, s.Help)
			}},
	}
}

// workerClassValue is --worker-class: it accepts gunicorn's names for the sync and gthread
// workers, which are one worker in gonicorn (--threads sets the slots), and refuses the
// others with a *SettingError that says why.
type workerClassValue struct {
	p *string // gunicorn's short name of the class
	s string  // the class as given
}

func (v *workerClassValue) String() string { return v.s }
func (v *workerClassValue) Type() string   { return "string" }
func (v *workerClassValue) Set(s string) error {
	name, err := WorkerClass(s)
	if err != nil {
		return err
	}
	v.s, *v.p = s, name
	return nil
}

// WorkerClass returns gunicorn's short name ("sync" or "gthread") for a worker class given
// as gunicorn takes it: a short name in any case, egg:gunicorn#NAME, or the class's dotted
// path. Any other class is a *SettingError.
func WorkerClass(s string) (string, error) {
	name := strings.TrimSpace(s)
	name = strings.TrimPrefix(name, "egg:gunicorn#")
	switch strings.ToLower(name) {
	case "sync", "gunicorn.workers.sync.syncworker":
		return "sync", nil
	case "gthread", "gunicorn.workers.gthread.threadworker":
		return "gthread", nil
	}
	note := "gonicorn's workers are not async; every connection is already a goroutine in the master, so use --threads N (the sync and gthread workers are the ones available)"
	if strings.Contains(strings.ToLower(name), "asgi") || strings.Contains(strings.ToLower(name), "uvicorn") {
		note = "gonicorn is a WSGI server and runs no ASGI app; serve a WSGI app (Django's wsgi.py) or use an ASGI server"
	}
	return "", &SettingError{Setting: "--worker-class " + s, Note: note}
}

// defaultFileNotice is logged at INFO when ./gunicorn.conf.py is read without -c.
const defaultFileNotice = "reading config file ./" + DefaultConfigFile + " (gunicorn's default config file: read when no -c/--config is given)"

// cmdArgs returns the environment layer of the configuration: GONICORN_CMD_ARGS or, when it
// is unset or empty, gunicorn's GUNICORN_CMD_ARGS, read the same way (split on whitespace),
// and the variable's name for messages. When both are set GONICORN_CMD_ARGS wins and
// warning says that GUNICORN_CMD_ARGS is not read (the two are not merged: one of them is
// the configuration, as in gunicorn).
func cmdArgs(getenv func(string) string) (args []string, from string, warning []string) {
	gon, gun := strings.Fields(getenv("GONICORN_CMD_ARGS")), strings.Fields(getenv("GUNICORN_CMD_ARGS"))
	switch {
	case len(gon) > 0 && len(gun) > 0:
		return gon, "GONICORN_CMD_ARGS", []string{"GUNICORN_CMD_ARGS is not read: GONICORN_CMD_ARGS is set and wins over it"}
	case len(gun) > 0:
		return gun, "GUNICORN_CMD_ARGS", nil
	}
	return gon, "GONICORN_CMD_ARGS", nil
}

// optionalValues are the flags whose value gunicorn lets out (argparse's nargs="?"), with
// the value they mean alone. As in gunicorn, such a flag takes the next argument as its
// value unless it starts with '-': "--proxy-protocol app:app" is an invalid value, and
// "--proxy-protocol -w 2 app:app" or "app:app --proxy-protocol" mean auto.
var optionalValues = map[string]string{"proxy-protocol": "auto"}

// setOptionalValues makes the flags of optionalValues in fs take no value.
func setOptionalValues(fs *pflag.FlagSet) {
	for name, alone := range optionalValues {
		if f := fs.Lookup(name); f != nil {
			f.NoOptDefVal = alone
		}
	}
}

// joinOptionalValues rewrites "--flag VALUE" as "--flag=VALUE" for the flags of
// optionalValues, since pflag gives a flag with a value for its absence only the "=" form.
func joinOptionalValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if name, ok := strings.CutPrefix(a, "--"); ok && optionalValues[name] != "" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// proxyProtocolModes are gunicorn's values of proxy_protocol, lower-cased, and the mode each
// means (gunicorn's validate_proxy_protocol).
var proxyProtocolModes = map[string]string{
	"false": "off", "off": "off", "0": "off", "none": "off",
	"true": "auto", "auto": "auto", "1": "auto",
	"v1": "v1", "v2": "v2",
}

// normalizeProxyProtocol returns the mode of a --proxy-protocol value written any way
// gunicorn takes it (TRUE, 1, off...), or s unchanged when it is none of them.
func normalizeProxyProtocol(s string) string {
	if m, ok := proxyProtocolModes[strings.ToLower(strings.TrimSpace(s))]; ok {
		return m
	}
	return s
}
