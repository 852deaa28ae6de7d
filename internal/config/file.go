package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// A config file (-c FILE) is a gunicorn.conf.py: Python, evaluated by the workers'
// interpreter (loader.go), whose globals name settings. The layers, as in gunicorn:
//
//	defaults < config file < GONICORN_CMD_ARGS < command line
//
// A global named like a setting of the table (gunicorn's name, or the flag's name with '_'
// for '-') sets that setting; another gunicorn setting is answered by the inventory of
// gunicorn.go (an error, or a warning where ignoring it is harmless); a server hook is run
// (Config.Hooks, docs/hooks.md); any other global is ignored, as gunicorn ignores them. See
// docs/config-file.md.

// DefaultConfigFile is the file gunicorn reads when it is given no -c; gonicorn too, with a
// notice at INFO that says so.
const DefaultConfigFile = "gunicorn.conf.py"

// FileError is a config file that could not be evaluated: missing, a syntax error, an
// exception. Err carries the Python traceback, which may span lines.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	msg := e.Err.Error()
	if strings.Contains(msg, "\n") {
		return "config file " + e.Path + ":\n" + msg
	}
	return "config file " + e.Path + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }

// fileKeys returns the names a config file may give s: the flag's name with '_' for '-',
// and gunicorn's name where it differs. --config, --help and --version have none.
func (s *Setting) fileKeys() []string {
	if s.File == "-" {
		return nil
	}
	keys := []string{strings.ReplaceAll(s.Name, "-", "_")}
	if s.File != "" && s.File != keys[0] {
		keys = append(keys, s.File)
	}
	return keys
}

// fileLayer is what applyFile found in a config file besides settings.
type fileLayer struct {
	app      string   // wsgi_app; "" = none
	set      []string // the flags the file set, for --print-config
	warnings []string // ignored settings and hooks, one line each
	hooks    []string // the server hooks the file defines (callables), in name order
}

// applyFile sets the flags of fs from the globals of the config file path, in name order.
// Each setting is validated as it is set (gunicorn validates each as the file sets it), so
// that an error names the file, the setting and the value even when a later layer would
// override it. check validates c as the settings stand; it is nil when the defaults alone
// are invalid (a bad environment variable), which the final validation then reports.
func applyFile(fs *pflag.FlagSet, globals map[string]Value, path string, check func() error) (fileLayer, error) {
	var layer fileLayer
	flags := map[string]string{} // file key → flag name
	negated := map[string]bool{} // file keys that mean the opposite of their flag
	for _, s := range Settings(func(string) string { return "" }) {
		for _, k := range s.fileKeys() {
			flags[k] = s.Name
		}
		if s.FileNegates {
			negated[s.File] = true
		}
	}
	names := make([]string, 0, len(globals))
	for name := range globals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := globals[name]
		fail := func(format string, a ...any) error {
			return fmt.Errorf("config file %s: %s = %s: %s", path, name, v.Repr, fmt.Sprintf(format, a...))
		}
		if flag, ok := flags[name]; ok {
			if v.Kind == "none" {
				continue // None leaves the default, as gunicorn's validators mostly do
			}
			vals, err := flagValues(flag, fs.Lookup(flag).Value, v)
			if err == nil && negated[name] {
				vals, err = negate(vals)
			}
			if err != nil {
				return layer, fail("%v", err)
			}
			if len(vals) == 0 {
				if l, ok := fs.Lookup(flag).Value.(*listValue); ok {
					l.clear() // bind = [] is the default again
				}
			}
			layer.set = append(layer.set, flag)
			for _, s := range vals {
				if err := fs.Set(flag, s); err != nil {
					var refused *SettingError
					if errors.As(err, &refused) {
						return layer, fail("%s", refused.Note)
					}
					return layer, fail("invalid value for --%s: %v", flag, cause(err))
				}
			}
			if check != nil {
				if err := check(); err != nil {
					return layer, fail("%v", err)
				}
			}
			continue
		}
		switch {
		case name == "wsgi_app":
			if v.Kind == "none" {
				continue
			}
			if v.Kind != "str" {
				return layer, fail("want a string, module:callable")
			}
			layer.app = strings.TrimSpace(str(v))
			if mod, _, _ := strings.Cut(layer.app, ":"); mod == "" {
				return layer, fail("want module[:callable]")
			}
		case v.Kind == "str" && isHook(name, Value{Kind: "callable"}):
			// gunicorn imports a hook given as "module.function"; the file imports it here.
			path := str(v)
			i := strings.LastIndexByte(path, '.')
			if i <= 0 {
				return layer, fail("give the function, not its name")
			}
			return layer, fail("give the function, not its import path: from %s import %s as %s", path[:i], path[i+1:], name)
		case isHook(name, v):
			if err := checkArity(gunicornByName()[name], v); err != nil {
				return layer, fail("%v", err)
			}
			layer.hooks = append(layer.hooks, name)
		default:
			warning, err := fileSetting(name, v, path)
			if err != nil {
				return layer, err
			}
			if warning != "" {
				layer.warnings = append(layer.warnings, warning)
			}
		}
	}
	return layer, nil
}

// isHook reports whether the global name = v is one of gunicorn's server hooks that gonicorn
// runs: a callable under a hook's name.
func isHook(name string, v Value) bool {
	g := gunicornByName()[name]
	return g != nil && g.Hook && g.Status == Implemented && v.Kind == "callable"
}

// checkArity reports a hook that does not take gunicorn's arguments, as gunicorn's
// validate_callable does at start (post_request may take its first 2 or 3, as in
// validate_post_request). An arity the loader could not tell (-1, nil) passes.
func checkArity(g *GunicornSetting, v Value) error {
	if v.Arity == nil {
		return nil
	}
	n, want := *v.Arity, strings.Count(g.Args, ",")+1
	if n < 0 || n == want || g.Name == "post_request" && (n == 2 || n == 3) {
		return nil
	}
	return fmt.Errorf("a server hook that takes %d positional arguments; gunicorn calls %s(%s)", n, g.Name, g.Args)
}

// flagValues converts a config file's value for flag into the strings the flag takes, one
// per Set. Types follow gunicorn's validators: integers may be given as strings, durations
// are numbers of seconds, list settings take a string or a list of strings.
func flagValues(flag string, fv pflag.Value, v Value) ([]string, error) {
	switch flag {
	case "bind", "env", "static", "sendfile-root", "paste-global":
		return strList(v, "a string or a list of strings")
	case "pythonpath", "forwarded-allow-ips", "proxy-allow-from", "proxy-allow-ips", "forwarder-headers", "http-protocols":
		// gunicorn takes comma-separated strings; a list is accepted too (http_protocols =
		// ["h2", "h1"], as gunicorn 25's HTTP/2 guide writes it, though its validator
		// takes only a string).
		l, err := strList(v, "a comma-separated string or a list of strings")
		return []string{strings.Join(l, ",")}, err
	case "cert-reqs", "ssl-version":
		// gunicorn takes Python's ssl constants (ssl.CERT_REQUIRED, ssl.PROTOCOL_TLS_SERVER,
		// integers) or their names.
		switch v.Kind {
		case "int", "str":
			return []string{strings.TrimSpace(str(v))}, nil
		}
		return nil, fmt.Errorf("want an integer or a name")
	case "proxy-protocol":
		// gunicorn's proxy_protocol is a bool: True detects v1 or v2, gonicorn's "auto".
		switch v.Kind {
		case "bool":
			if b, _ := strconv.ParseBool(raw(v)); b {
				return []string{"auto"}, nil
			}
			return []string{"off"}, nil
		case "str":
			return []string{str(v)}, nil
		}
		return nil, fmt.Errorf("want True, False or one of off, v1, v2, auto")
	}
	if l, ok := fv.(*listValue); ok && !l.comma { // a repeatable flag (reload_extra_files)
		return strList(v, "a string or a list of strings")
	}
	if fv.Type() == "bool" { // gunicorn's validate_bool: True/False, or "true"/"false" (reuse_port = True)
		switch v.Kind {
		case "bool", "str", "int":
			return []string{strings.ToLower(strings.TrimSpace(str(v)))}, nil
		}
		return nil, fmt.Errorf("want True or False")
	}
	switch fv.(type) {
	case *intValue[int], *intValue[int64]:
		switch v.Kind {
		case "int":
			return []string{str(v)}, nil
		case "str":
			return []string{strings.TrimSpace(str(v))}, nil
		}
		return nil, fmt.Errorf("want an integer")
	case *idValue:
		if v.Kind != "int" && v.Kind != "str" {
			return nil, fmt.Errorf("want a name or a number")
		}
		return []string{strings.TrimSpace(str(v))}, nil
	case *secondsValue:
		switch v.Kind {
		case "int", "str":
			return []string{strings.TrimSpace(str(v))}, nil
		case "float":
			return []string{raw(v)}, nil
		}
		return nil, fmt.Errorf("want a number of seconds")
	default:
		if v.Kind != "str" {
			return nil, fmt.Errorf("want a string")
		}
		return []string{strings.TrimSpace(str(v))}, nil
	}
}

// negate turns the boolean values of a setting whose config-file name means the opposite of
// its flag (sendfile = False) into the flag's values (--no-sendfile=true).
func negate(vals []string) ([]string, error) {
	out := make([]string, len(vals))
	for i, s := range vals {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want True or False")
		}
		out[i] = strconv.FormatBool(!b)
	}
	return out, nil
}

func strList(v Value, want string) ([]string, error) {
	switch v.Kind {
	case "str":
		return []string{str(v)}, nil
	case "strlist":
		var l []string
		if err := json.Unmarshal(v.Value, &l); err != nil {
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("want %s", want)
}

// str returns the string in v.Value: a str's value, an int's digits, a callable's name.
func str(v Value) string {
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return raw(v)
	}
	return s
}

func raw(v Value) string { return string(v.Value) }

// cause strips pflag's wrapping ("invalid argument "x" for "-w, --workers" flag: ") from
// an error of FlagSet.Set, whose message the caller words itself.
func cause(err error) error {
	if e, ok := err.(*pflag.InvalidValueError); ok {
		return e.Unwrap()
	}
	return err
}
