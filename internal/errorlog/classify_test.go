package errorlog

import (
	"log/slog"
	"strings"
	"testing"
)

// TestClassifier feeds whole worker outputs, line by line, and checks the kind of each line:
// Python tracebacks (chained, exception groups), faulthandler dumps on SIGUSR1 and on a
// crash, and the application's own output around them.
func TestClassifier(t *testing.T) {
	const (
		O = Output
		T = Traceback
		S = StackDump
		C = Crash
		W = Warning
	)
	type row struct {
		line string
		want Kind
	}
	tests := []struct {
		name string
		rows []row
	}{
		{"plain output", []row{{"hello from the app", O}, {"  indented output", O}, {"", O}}},
		{"traceback then output", []row{
			{"Traceback (most recent call last):", T},
			{`  File "/srv/app.py", line 4, in app`, T},
			{"    raise ValueError('boom')", T},
			{"           ^^^^^^^^^^^^^^^^^", T},
			{"ValueError: boom", T},
			{"", T},
			{"next request printed this", O},
			{"  and this, indented", O},
		}},
		{"chained traceback", []row{
			{"Traceback (most recent call last):", T},
			{`  File "<stdin>", line 7, in <module>`, T},
			{"ZeroDivisionError: division by zero", T},
			{"", T},
			{"The above exception was the direct cause of the following exception:", T},
			{"", T},
			{"Traceback (most recent call last):", T},
			{`  File "<stdin>", line 9, in <module>`, T},
			{"KeyError: 'x'", T},
			{"", T},
			{"During handling of the above exception, another exception occurred:", T},
			{"", T},
			{"Traceback (most recent call last):", T},
			{"RuntimeError: last", T},
			{"done", O},
		}},
		{"exception group", []row{
			{"  + Exception Group Traceback (most recent call last):", T},
			{`  |   File "<stdin>", line 1, in <module>`, T},
			{"  | ExceptionGroup: eg (1 sub-exception)", T},
			{"  +-+---------------- 1 ----------------", T},
			{"    | ValueError: 1", T},
			{"    +------------------------------------", T},
			{"after", O},
		}},
		{"stack dump on SIGUSR1", []row{
			{"serving", O},
			{"Thread 0x00007f77666086c0 (most recent call first):", S},
			{`  File "/srv/app.py", line 2 in f`, S},
			{`  File "/usr/lib/python3.11/threading.py", line 982 in run`, S},
			{"", S},
			{"Current thread 0x00007f776744ab80 (most recent call first):", S},
			{`  File "<string>", line 4 in <module>`, S},
			{"  <no Python frame>", S},
			{"hello again", O},
		}},
		{"crash", []row{
			{"Fatal Python error: Segmentation fault", C},
			{"", C},
			{"Current thread 0x00007f776744ab80 (most recent call first):", C},
			{`  File "/srv/app.py", line 3 in app`, C},
			{"", C},
			{"Extension modules: _cffi_backend (total: 1)", C},
		}},
		{"thread's exception", []row{
			{"Exception in thread Thread-1 (worker):", T},
			{"Traceback (most recent call last):", T},
			{`  File "/srv/app.py", line 9, in worker`, T},
			{"OSError: gone", T},
			{"ok", O},
		}},
		{"server hook's exception", []row{ // python/gonicorn_hooks.py
			{"Exception in server hook post_request:", T},
			{"Traceback (most recent call last):", T},
			{`  File "/srv/gunicorn.conf.py", line 9, in post_request`, T},
			{"KeyError: 'x'", T},
			{"ok", O},
		}},
		{"unraisable", []row{
			{"Exception ignored in: <function Thing.__del__ at 0x7f>", T},
			{"Traceback (most recent call last):", T},
			{"RuntimeError: in del", T},
		}},
		{"warnings", []row{
			{"/srv/app.py:3: DeprecationWarning: old API", W},
			{"  import imp", W},
			{"  indented output after it", O},
			{"/srv/app.py:12: UserWarning: careful", W},
			{"plain again", O},
		}},
		{"look-alikes", []row{
			{"Warning: no file:line before it", O},
			{"app.py:x: UserWarning: not a line number", O},
			{"my Traceback (most recent call last): not a head", O},
			{"Thread 0x1 started", O},
			{"  File \"x\", line 1", O}, // indented output outside a block
		}},
	}
	for _, tt := range tests {
		var c Classifier
		var got, want []string
		for _, r := range tt.rows {
			got = append(got, kindName(c.Classify([]byte(r.line))))
			want = append(want, kindName(r.want))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: Classify kinds = %v; want %v", tt.name, got, want)
		}
	}
}

func kindName(k Kind) string {
	return [...]string{"Output", "Traceback", "StackDump", "Crash", "Warning"}[k]
}

// The hooks' logger marks its lines with their level (python/gonicorn_hooks.py), so that
// worker.log.warning(...) is a WARNING in the error log and --log-level filters it.
func TestLoggedLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		level slog.Level
		msg   string
		ok    bool
	}{
		{"\x1eWARNING\x1edb slow", slog.LevelWarn, "db slow", true},
		{"\x1eCRITICAL\x1e", LevelCritical, "", true},
		{"\x1eDEBUG\x1ea \x1e b", slog.LevelDebug, "a \x1e b", true},
		{"\x1eNOTICE\x1ex", 0, "", false}, // not one of Python's levels
		{"WARNING: plain output", 0, "", false},
		{"\x1eWARNING no end", 0, "", false},
	} {
		level, msg, ok := LoggedLine([]byte(tc.line))
		if ok != tc.ok || ok && (level != tc.level || string(msg) != tc.msg) {
			t.Errorf("LoggedLine(%q) = %v, %q, %v; want %v, %q, %v", tc.line, level, msg, ok, tc.level, tc.msg, tc.ok)
		}
	}
}
