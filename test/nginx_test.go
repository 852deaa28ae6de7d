package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxPath is Debian's nginx, which .ci/run installs.
const nginxPath = "/usr/sbin/nginx"

// TestNginxSnippet runs the nginx block of docs/proxy.md, unchanged but for gonicorn's
// address, in a real nginx in front of gonicorn with its default trust, and checks that a
// client sending every forwarded header it can think of changes nothing the app believes:
// REMOTE_ADDR is the address nginx saw, HTTP_HOST, SERVER_NAME and SERVER_PORT follow the
// client's Host, and the scheme is nginx's. The client connects from 127.0.0.2, which the
// default --forwarded-allow-ips (127.0.0.1,::1) does not trust, as a real client would be.
func TestNginxSnippet(t *testing.T) {
	nginx := debianBinary(t, nginxPath, "nginx")
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "basic")
	snippet := docBlock(t, "../docs/proxy.md", "### nginx", "nginx")
	if !strings.Contains(snippet, "http://127.0.0.1:8000") {
		t.Fatalf("docs/proxy.md's nginx block does not proxy to http://127.0.0.1:8000:\n%s", snippet)
	}
	front := startNginx(t, nginx, strings.ReplaceAll(snippet, "127.0.0.1:8000", s.addr))

	want := map[string]any{
		"REMOTE_ADDR": "127.0.0.2", "HTTP_HOST": "site.example", "SERVER_NAME": "site.example",
		"SERVER_PORT": "80", "wsgi.url_scheme": "http",
	}
	baseline := environVia(t, front, "")
	checkEnviron(t, "through nginx, no forwarded headers", baseline, want)

	spoofs := []struct{ name, headers string }{
		{"Forwarded", "Forwarded: for=6.6.6.6;host=evil.example;proto=https\r\n"},
		{"forwarded, lower case", "forwarded: for=\"[2001:db8::6]:66\";host=evil.example\r\n"},
		{"X-Forwarded-For", "X-Forwarded-For: 6.6.6.6\r\n"},
		{"X-Forwarded-For chain", "X-Forwarded-For: 6.6.6.6, 127.0.0.1\r\n"},
		{"X-Forwarded-Host", "X-Forwarded-Host: evil.example\r\n"},
		{"X-Forwarded-Port", "X-Forwarded-Port: 6666\r\n"},
		{"X-Forwarded-Proto", "X-Forwarded-Proto: https\r\n"},
		{"X-Forwarded-Ssl", "X-Forwarded-Ssl: on\r\n"},
		{"X-Forwarded-Protocol", "X-Forwarded-Protocol: ssl\r\n"},
		{"all at once", "Forwarded: for=6.6.6.6;host=evil.example;proto=https\r\nX-Forwarded-For: 6.6.6.6\r\n" +
			"X-Forwarded-Host: evil.example:6666\r\nX-Forwarded-Port: 6666\r\nX-Forwarded-Proto: https\r\n" +
			"X-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: ssl\r\n"},
	}
	for _, sp := range spoofs {
		t.Run(sp.name, func(t *testing.T) {
			checkEnviron(t, "through nginx with "+sp.name, environVia(t, front, sp.headers), want)
		})
	}
}

// docBlock returns the first fenced code block of language lang after the line heading in
// the markdown file path.
func docBlock(t *testing.T, path, heading, lang string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	fence := "\n```" + lang + "\n"
	j := strings.Index(doc[i:], fence)
	if j < 0 {
		t.Fatalf("%s has no ```%s block after %q", path, lang, heading)
	}
	body := doc[i+j+len(fence):]
	k := strings.Index(body, "\n```")
	if k < 0 {
		t.Fatalf("%s: the ```%s block after %q does not end", path, lang, heading)
	}
	return body[:k+1]
}

// startNginx runs nginx in the foreground as one process (no master, no user switch, so it
// works as root too), with a config of its own in a temp prefix: its pid file, error log and
// temp paths are in there, nothing under /var or /run is touched. server is the body of the
// server block (listen is added) and may use location blocks. It returns the address nginx
// listens on; nginx is stopped at test cleanup.
func startNginx(t *testing.T, nginx, server string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		addr := freePort(t)
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(dir, addr, server)), 0o644); err != nil {
			t.Fatal(err)
		}
		errLog := filepath.Join(dir, "error.log")
		cmd := exec.Command(nginx, "-p", dir+"/", "-c", conf, "-e", errLog)
		out := newLogBuffer()
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting nginx: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		ready, err := waitListening(addr, exited)
		if ready {
			t.Cleanup(func() { stopNginx(t, cmd, exited, errLog) })
			return addr
		}
		log, _ := os.ReadFile(errLog)
		if attempt < 3 && strings.Contains(string(log)+out.String(), "Address already in use") {
			continue // the free port was taken meanwhile: try another
		}
		cmd.Process.Kill()
		t.Fatalf("nginx did not start: %v\n%s%s", err, out, log)
	}
}

func nginxConf(dir, addr, server string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        server_name site.example;
%[3]s
    }
}
`, dir, addr, server)
}

// waitListening waits until addr accepts connections, nginx exits, or 15 s pass.
func waitListening(addr string, exited <-chan error) (bool, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return false, fmt.Errorf("nginx exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false, fmt.Errorf("nothing listens on %s after 15 s", addr)
}

// stopNginx ends nginx (TERM is its fast stop; KILL after 10 s) and waits for it.
func stopNginx(t *testing.T, cmd *exec.Cmd, exited <-chan error, errLog string) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Errorf("nginx did not stop within 10 s of SIGTERM")
	}
	if t.Failed() {
		log, _ := os.ReadFile(errLog)
		t.Logf("nginx error log:\n%s", log)
	}
}

// environVia sends GET /environ with Host: site.example and the given header lines to nginx
// at front, from 127.0.0.2, and returns the environ the app saw.
func environVia(t *testing.T, front, headers string) map[string]any {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", front)
	if err != nil {
		t.Fatalf("connecting to nginx from 127.0.0.2: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /environ HTTP/1.1\r\nHost: site.example\r\n"+headers+"Connection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading nginx's response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /environ through nginx with %q = %d %q, %v; want 200", headers, resp.StatusCode, body, err)
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("environ JSON %q: %v", body, err)
	}
	return env
}
