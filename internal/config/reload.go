package config

import (
	"reflect"
	"strings"
	"unicode"
)

// reloadable are the Config fields a reload (SIGHUP) applies: what the workers are and how
// they are supervised. Everything else (listeners, the HTTP front, logs) is fixed at start.
var reloadable = map[string]bool{
	"App": true, "Django": true, "Workers": true, "Threads": true, "Chdir": true, "PythonPath": true,
	"Env": true, "Python": true, "WorkerSched": true, "MaxRequests": true,
	"MaxRequestsJitter": true, "MaxWorkerLifetime": true, "MaxWorkerMemory": true,
	"MaxBootFailures": true, "ProcName": true, "WorkerClass": true, "Preload": true,
	"Paste": true, "PasteGlobal": true, "PasteVars": true,
}

// notSettings are the Config fields that are not settings of the server: a reload compares
// none of them. The config file's path cannot change, since the command line cannot.
var notSettings = map[string]bool{"ConfigFile": true, "Warnings": true, "Notices": true, "Effective": true, "CheckConfig": true, "PrintConfig": true, "ShowHelp": true, "ShowVersion": true}

// flagNames are the flags whose names do not follow from their field's name.
var flagNames = map[string]string{
	"PIDFile": "pid", "LimitRequestFieldSize": "limit-request-field_size",
	"ForwardedAllowIPs": "forwarded-allow-ips", "AccessLogFile": "access-logfile",
	"AccessLogFormat": "access-logformat", "ErrorLogFile": "error-logfile", "ProcName": "name",
	"CertFile": "certfile", "KeyFile": "keyfile", "SSLVersion": "ssl-version",
	"SuppressRaggedEOFs": "suppress-ragged-eofs",
	"RequestIDHeader":    "request-id-header",
}

// StaticChanges returns the flag names of the settings that differ between old and next
// but cannot change while gonicorn runs (a reload keeps their old values).
func StaticChanges(old, next *Config) []string {
	var names []string
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(next).Elem()
	for i := 0; i < ov.NumField(); i++ {
		f := ov.Type().Field(i)
		if reloadable[f.Name] || notSettings[f.Name] {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			names = append(names, flagName(f.Name))
		}
	}
	return names
}

// flagName turns a Config field name into its flag's name: MaxConnections → max-connections.
func flagName(field string) string {
	if n, ok := flagNames[field]; ok {
		return n
	}
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
