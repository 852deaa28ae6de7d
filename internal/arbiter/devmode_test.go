package arbiter

import (
	"bytes"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/wire"
)

// TestStartReports: each report on a worker's pipe (lines ended by an empty line) reaches
// OnModules whole, also when it is bigger than the pipe and the reader's buffer; the
// goroutine ends when the pipe is closed.
func TestStartReports(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []string, 4)
	a := &Arbiter{OnModules: func(files []string) { got <- files }}
	a.startReports(r)
	var big []string
	for i := range 5000 { // ~150 KiB: more than a pipe holds and than the reader buffers
		big = append(big, "/srv/site/pkg/module_"+strings.Repeat("x", 10)+"_"+itoa(i)+".py")
	}
	go func() {
		w.WriteString(strings.Join(big, "\n") + "\n\n")
		w.WriteString("/srv/site/views.py\n\n")
		w.Close()
	}()
	for i, want := range [][]string{big, {"/srv/site/views.py"}} {
		select {
		case files := <-got:
			if !reflect.DeepEqual(files, want) {
				t.Errorf("report %d: %d files (first %q); want %d", i, len(files), files[:min(1, len(files))], len(want))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("report %d not delivered", i)
		}
	}
	r.Close()
}

// TestNoteLoad: in development mode the app's load error is logged once however many
// workers serve it, again when it changes, and its fix is noted.
func TestNoteLoad(t *testing.T) {
	var buf bytes.Buffer
	a := &Arbiter{log: slog.New(slog.NewTextHandler(&buf, nil))}
	worker := func(pid int, tb string) *worker {
		return &worker{pid: pid, spec: &Spec{App: "app", DevMode: true}, python: "/usr/bin/python3",
			ready: wire.ReadyInfo{OK: true, Error: tb, Python: "cpython 3.11.2"}}
	}
	syntax := "Traceback (most recent call last):\n  File \"/srv/app.py\", line 1\nSyntaxError: invalid syntax\n"
	other := "Traceback (most recent call last):\nNameError: name 'x' is not defined\n"
	for i, tb := range []string{syntax, syntax, syntax, other, other, "", ""} {
		a.noteLoad(worker(100+i, tb))
	}
	log := buf.String()
	for _, c := range []struct {
		text string
		n    int
	}{{"SyntaxError: invalid syntax", 1}, {"NameError", 1}, {"Application loaded again (pid:105)", 1}, {"loaded again", 1}} {
		if got := strings.Count(log, c.text); got != c.n {
			t.Errorf("%q logged %d times; want %d\n%s", c.text, got, c.n, log)
		}
	}
}
