package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestFlask serves examples/flask through the real server.
func TestFlask(t *testing.T) {
	py := debianPython(t, "flask")
	s := start(t, "--chdir", "../examples/flask", "--python", py, "app:app")

	r := s.get("/")
	if r.status != 200 || string(r.body) != "Hello from Flask!\n" || !strings.HasPrefix(r.header("Content-Type"), "text/plain") {
		t.Errorf("GET / = %d %s %q; want 200 text/plain %q", r.status, r.header("Content-Type"), r.body, "Hello from Flask!\n")
	}

	r = s.do("GET /json?x=1&y=%C3%A9 HTTP/1.1\r\nHost: test\r\nUser-Agent: gonicorn-e2e/1\r\n\r\n")
	var got struct {
		Path, Method string
		Query        map[string]string
		UserAgent    string `json:"user_agent"`
	}
	if err := json.Unmarshal(r.body, &got); r.status != 200 || err != nil {
		t.Fatalf("GET /json = %d %q (%v); want 200 and JSON", r.status, r.body, err)
	}
	if got.Path != "/json" || got.Method != "GET" || got.Query["x"] != "1" || got.Query["y"] != "é" || got.UserAgent != "gonicorn-e2e/1" {
		t.Errorf("GET /json = %+v; want path /json, GET, query x=1 y=é, user agent gonicorn-e2e/1", got)
	}

	// Every byte value, so nothing on the way may treat the body as text.
	body := make([]byte, 256*4)
	for i := range body {
		body[i] = byte(i)
	}
	r = s.do("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-test\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + string(body))
	if r.status != 200 || string(r.body) != string(body) || r.header("Content-Type") != "application/x-test" {
		t.Errorf("POST /echo = %d %s, %d bytes; want 200 application/x-test and the %d bytes sent", r.status, r.header("Content-Type"), len(r.body), len(body))
	}

	// A chunked upload reaches Flask de-chunked, with its length.
	r = s.do("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	if r.status != 200 || string(r.body) != "hello world" {
		t.Errorf("chunked POST /echo = %d %q; want 200 \"hello world\"", r.status, r.body)
	}
}
