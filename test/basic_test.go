package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestHello(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "basic")
	r := s.get("/")
	if r.status != 200 || string(r.body) != "Hello, World!" {
		t.Fatalf("GET / = %d %q; want 200 %q", r.status, r.body, "Hello, World!")
	}
	r = s.get("/list")
	if r.status != 200 || string(r.body) != "Hello, World!" {
		t.Fatalf("GET /list = %d %q; want 200 %q", r.status, r.body, "Hello, World!")
	}
	if r.header("Content-Length") != "13" {
		t.Errorf("Content-Length = %q; want 13 (a list response is framed with its length)", r.header("Content-Length"))
	}
}

func TestEnvironBasics(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "basic")
	r := s.do("POST /environ?a=1&b=%20 HTTP/1.1\r\nHost: example.com:8080\r\nX-Multi: 1\r\nX-Multi: 2\r\nContent-Type: text/x\r\nContent-Length: 5\r\n\r\nhello")
	if r.status != 200 {
		t.Fatalf("status = %d; body %q", r.status, r.body)
	}
	var env map[string]any
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"REQUEST_METHOD": "POST", "PATH_INFO": "/environ", "QUERY_STRING": "a=1&b=%20",
		"SERVER_NAME": "example.com", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_X_MULTI": "1, 2", "CONTENT_TYPE": "text/x", "CONTENT_LENGTH": "5",
		"REMOTE_ADDR": "127.0.0.1", "body": "hello", "wsgi.url_scheme": "http",
		"wsgi.multithread": false, "wsgi.input_terminated": true, "SCRIPT_NAME": "",
		"RAW_URI": "/environ?a=1&b=%20",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("environ[%q] = %#v; want %#v", k, env[k], v)
		}
	}
	if _, ok := env["HTTP_CONTENT_LENGTH"]; ok {
		t.Errorf("environ has HTTP_CONTENT_LENGTH; CGI names it CONTENT_LENGTH only")
	}
	if !strings.HasPrefix(env["SERVER_SOFTWARE"].(string), "gonicorn") {
		t.Errorf("SERVER_SOFTWARE = %v", env["SERVER_SOFTWARE"])
	}
}
