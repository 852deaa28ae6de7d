package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// sources maps a flag's name to the layer that set it last: "file PATH", GONICORN_CMD_ARGS,
// GUNICORN_CMD_ARGS or "command line". A flag that is not in it has its default.
type sources map[string]string

// appModule is the key of sources for APP_MODULE (wsgi_app in a config file).
const appModule = "APP_MODULE"

// aliases are flags that set the same setting as another; --print-config lists the setting
// once, under the other's name, with the source of whichever was given last.
var aliases = map[string]string{"log-file": "error-logfile", "proxy-allow-ips": "proxy-allow-from", "access-log-format": "access-logformat", "paster": "paste"}

// Effective is one setting's effective value and where it came from.
type Effective struct {
	Name   string // gunicorn's config-file name (wsgi_app for APP_MODULE)
	Value  string // as the flag prints it; lists comma-separated
	Source string // "default", "file PATH", "GONICORN_CMD_ARGS", "GUNICORN_CMD_ARGS" or "command line"
	// Type is the flag's kind ("int", "bool", "seconds", "list", "string"), so that the
	// server hooks' cfg gets typed values; List holds a list setting's values.
	Type string
	List []string
}

// effective lists every setting of fs (the settings table's flags, not gunicorn's refused
// ones, --help, --version or --print-config itself) with the value it ended with and its
// source; app and configFile are APP_MODULE and the config file read, which may come from
// elsewhere than the flags (wsgi_app, ./gunicorn.conf.py).
func effective(fs *pflag.FlagSet, app, configFile string, from sources) []Effective {
	src := func(name string) string {
		if s, ok := from[name]; ok {
			return s
		}
		return "default"
	}
	for alias, name := range aliases {
		if s, ok := from[alias]; ok {
			from[name] = s
		}
	}
	if configFile != "" && from["config"] == "" {
		from["config"] = "default" // ./gunicorn.conf.py, read without -c
	}
	out := []Effective{{Name: "wsgi_app", Value: app, Source: src(appModule)}}
	keys := map[string]string{} // flag → its config-file name
	for _, s := range Settings(func(string) string { return "" }) {
		if k := s.fileKeys(); len(k) > 0 {
			keys[s.Name] = k[len(k)-1] // gunicorn's name where it differs
		}
	}
	for alias, name := range aliases {
		if k := keys[alias]; k != "" {
			keys[name] = k // proxy_allow_ips, gunicorn's name of --proxy-allow-from
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if _, gunicorn := f.Value.(*gunicornValue); gunicorn || aliases[f.Name] != "" {
			return
		}
		switch f.Name {
		case "help", "version", "print-config", "check-config":
			return
		}
		name := keys[f.Name]
		if name == "" {
			name = strings.ReplaceAll(f.Name, "-", "_")
		}
		value := f.Value.String()
		if f.Name == "config" {
			value, name = configFile, "config"
		}
		e := Effective{Name: name, Value: value, Source: src(f.Name), Type: f.Value.Type()}
		if l, ok := f.Value.(*listValue); ok {
			e.List = append([]string{}, *l.p...)
		}
		out = append(out, e)
	})
	return out
}

// PrintConfig returns what --print-config prints: one line per setting, "name = value" and
// its source, in the order of the settings table.
func PrintConfig(c *Config) string {
	var b strings.Builder
	for _, e := range c.Effective {
		fmt.Fprintf(&b, "%-26s = %-30s [%s]\n", e.Name, e.Value, e.Source)
	}
	return b.String()
}
