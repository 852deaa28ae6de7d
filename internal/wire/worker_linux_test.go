package wire_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/gonicorn/gonicorn/internal/wire"
	"github.com/gonicorn/gonicorn/python"
)

const echoApp = `
def app(environ, start_response):
    if environ['PATH_INFO'] == '/file':
        f = open(environ['HTTP_X_FILE'], 'rb')
        f.seek(2)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return environ['wsgi.file_wrapper'](f)
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('X-Path', environ['PATH_INFO']),
                              ('X-Len', str(len(body)))])
    return [body]
`

// TestRealWorker runs the embedded worker with the real python3 and talks
// to it with this package only, as the master does.
func TestRealWorker(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.py"), []byte(echoApp), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	workerEnd := os.NewFile(uintptr(fds[1]), "worker")
	goEnd := os.NewFile(uintptr(fds[0]), "master")
	fc, err := net.FileConn(goEnd)
	goEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := fc.(*net.UnixConn)
	defer c.Close()

	cmd := exec.Command(py, python.Args()...)
	cmd.Env = append(os.Environ(), "GONICORN_APP=echo", "GONICORN_FDS=3", "GONICORN_PYTHONPATH="+dir)
	cmd.ExtraFiles = []*os.File{workerEnd}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	workerEnd.Close()
	defer cmd.Process.Kill()

	r := wire.NewReader(c)
	defer r.Close()
	next := func(want wire.Kind) []byte {
		t.Helper()
		f, err := r.Next()
		if err != nil || f.Kind != want {
			t.Fatalf("Next = %v %q, %v; want %v\nworker stderr:\n%s", f.Kind, f.Payload, err, want, stderr.String())
		}
		return f.Payload
	}

	// Handshake.
	if _, err := c.Write(wire.VectorFrame()); err != nil {
		t.Fatal(err)
	}
	info, err := wire.DecodeReady(next(wire.Ready))
	if err != nil || !info.OK || info.PID != cmd.Process.Pid {
		t.Fatalf("ready = %+v, %v", info, err)
	}

	environ := func(path string, extra ...string) []byte {
		e := wire.AppendDictStart(nil)
		kv := append([]string{"REQUEST_METHOD", "POST", "PATH_INFO", path, "wsgi.url_scheme", "http"}, extra...)
		for _, s := range kv {
			e = wire.AppendString(e, s)
		}
		return wire.AppendDictEnd(e)
	}
	checkEcho := func(path, body string) {
		t.Helper()
		// A list response: L announces the body's length before S.
		if l := next(wire.Length); len(l) != 8 || binary.LittleEndian.Uint64(l) != uint64(len(body)) {
			t.Fatalf("L frame = %x; want the length %d", l, len(body))
		}
		status, headers, err := wire.DecodeStart(next(wire.Start), nil)
		if err != nil || string(status) != "200 OK" || len(headers) != 2 ||
			string(headers[0][1]) != path || string(headers[1][1]) != strconv.Itoa(len(body)) {
			t.Fatalf("start = %q %q, %v", status, headers, err)
		}
		if len(body) > 0 {
			if got := next(wire.Data); string(got) != body {
				t.Fatalf("body = %q; want %q", got, body)
			}
		}
		next(wire.End)
	}

	// Inline body, and a latin-1 path that must come back byte for byte.
	path := "/caf\xe9/\x80\xff"
	if _, err := c.Write(wire.AppendRequest(nil, environ(path), []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	checkEcho(path, "hello")

	// Body in a file (B frame with an fd).
	bodyFile, err := os.CreateTemp(dir, "body")
	if err != nil {
		t.Fatal(err)
	}
	bodyFile.WriteString("body from a file")
	bodyFile.Seek(0, 0)
	env := environ("/b")
	frame := append(wire.AppendHeader(nil, wire.RequestFile, len(env)), env...)
	if err := wire.WriteWithFD(c, frame, int(bodyFile.Fd())); err != nil {
		t.Fatal(err)
	}
	bodyFile.Close()
	checkEcho("/b", "body from a file")

	// wsgi.file_wrapper over a real file: F frame with the fd.
	if _, err := c.Write(wire.AppendRequest(nil, environ("/file", "HTTP_X_FILE", bodyFile.Name()), nil)); err != nil {
		t.Fatal(err)
	}
	next(wire.Start)
	args := next(wire.File)
	offset, count := binary.LittleEndian.Uint64(args), int64(binary.LittleEndian.Uint64(args[8:]))
	fd, err := r.TakeFD()
	if err != nil || offset != 2 || count != -1 {
		t.Fatalf("F frame: offset %d count %d fd %d, %v; want 2, -1", offset, count, fd, err)
	}
	buf := make([]byte, 64)
	n, _ := syscall.Pread(fd, buf, int64(offset))
	syscall.Close(fd)
	if string(buf[:n]) != "dy from a file" {
		t.Fatalf("file via fd = %q", buf[:n])
	}
	next(wire.End)

	// Closing the socket makes the worker exit 0.
	c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exit: %v\n%s", err, stderr.String())
	}
}
