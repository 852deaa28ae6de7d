package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestForwarderHeaders: gunicorn's --forwarder-headers (docs/proxy.md). A trusted proxy
// (127.0.0.1, the default --forwarded-allow-ips) may send the listed header names with '_'
// (default SCRIPT_NAME,PATH_INFO): SCRIPT_NAME is the mount point the request path is split
// at, PATH_INFO and REMOTE_USER set those keys. From an untrusted peer the same headers are
// names with '_' like any other: dropped (--header-map drop), refused (refuse), or plain
// HTTP_* keys that set nothing (dangerous).
func TestForwarderHeaders(t *testing.T) {
	base := []string{"--python", realPython(t), "--chdir", appsDir(t)}
	with := func(extra ...string) *server {
		return startNoWait(t, append(append(append([]string{}, base...), extra...), "basic")...)
	}
	trusted := with()
	user := with("--forwarder-headers", "SCRIPT_NAME,PATH_INFO,REMOTE_USER")
	untrusted := with("--forwarded-allow-ips", "10.0.0.1")
	untrustedRefuse := with("--forwarded-allow-ips", "10.0.0.1", "--header-map", "refuse")
	untrustedDangerous := with("--forwarded-allow-ips", "10.0.0.1", "--header-map", "dangerous", "--root-path", "/root")
	for _, s := range []*server{trusted, user, untrusted, untrustedRefuse, untrustedDangerous} {
		s.waitReady()
	}
	environAt := func(s *server, path, headers string) map[string]any {
		t.Helper()
		return jsonBody(t, s.do("GET "+path+" HTTP/1.1\r\nHost: t\r\n"+headers+"Connection: close\r\n\r\n"))
	}

	// A trusted proxy mounts the app at /app.
	checkEnviron(t, "trusted SCRIPT_NAME", environAt(trusted, "/app/environ", "SCRIPT_NAME: /app\r\n"),
		map[string]any{"SCRIPT_NAME": "/app", "PATH_INFO": "/environ", "HTTP_SCRIPT_NAME": "/app"})
	checkEnviron(t, "trusted SCRIPT_NAME with a trailing slash", environAt(trusted, "/app/environ", "script_name: /app/\r\n"),
		map[string]any{"SCRIPT_NAME": "/app", "PATH_INFO": "/environ"})
	// PATH_INFO given too: both as the proxy says, the request path is not split.
	checkEnviron(t, "trusted SCRIPT_NAME and PATH_INFO", environAt(trusted, "/x/y", "SCRIPT_NAME: /app\r\nPATH_INFO: /environ\r\n"),
		map[string]any{"SCRIPT_NAME": "/app", "PATH_INFO": "/environ"})
	// REMOTE_USER is not in the default list: dropped.
	checkEnviron(t, "REMOTE_USER not listed", environAt(trusted, "/environ", "REMOTE_USER: bob\r\n"),
		map[string]any{"REMOTE_USER": nil, "HTTP_REMOTE_USER": nil})
	checkEnviron(t, "REMOTE_USER listed", environAt(user, "/environ", "REMOTE_USER: bob\r\n"),
		map[string]any{"REMOTE_USER": "bob", "HTTP_REMOTE_USER": "bob", "SCRIPT_NAME": "", "PATH_INFO": "/environ"})

	// A path outside the proxy's SCRIPT_NAME is a configuration problem: 500, as gunicorn,
	// answered by the master, with a log line saying why.
	rejected(t, trusted, "GET /application/environ HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /app\r\n\r\n", 500)
	if !trusted.log.waitFor(`does not start with the SCRIPT_NAME "/app"`, 5*time.Second) {
		t.Errorf("no error log line for a path outside SCRIPT_NAME:\n%s", trusted.log.String())
	}
	// A client's copy passed through beside the proxy's: which one is the proxy's is
	// unknowable, so neither is believed.
	rejected(t, trusted, "GET /app/environ HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /app\r\nSCRIPT_NAME: /evil\r\n\r\n", 500)

	// Untrusted peers: names with '_' follow --header-map; SCRIPT_NAME changes nothing.
	checkEnviron(t, "untrusted, drop", environAt(untrusted, "/environ", "SCRIPT_NAME: /app\r\nPATH_INFO: /evil\r\n"),
		map[string]any{"SCRIPT_NAME": "", "PATH_INFO": "/environ", "HTTP_SCRIPT_NAME": nil, "HTTP_PATH_INFO": nil})
	rejected(t, untrustedRefuse, "GET /environ HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /app\r\n\r\n", 400)
	checkEnviron(t, "untrusted, dangerous", environAt(untrustedDangerous, "/root/environ", "SCRIPT_NAME: /app\r\nPATH_INFO: /evil\r\n"),
		map[string]any{"SCRIPT_NAME": "/root", "PATH_INFO": "/environ", "HTTP_SCRIPT_NAME": "/app", "HTTP_PATH_INFO": "/evil"})
	if strings.Contains(untrusted.log.String(), "forwarder headers") {
		t.Errorf("an untrusted peer's headers were read as forwarder headers:\n%s", untrusted.log.String())
	}
}
