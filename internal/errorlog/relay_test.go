package errorlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTeeRelaysWhatTheLogWrites(t *testing.T) {
	var out bytes.Buffer
	var relayed []string
	relay := NewRelay(slog.LevelInfo, func(l slog.Level, pid int, text string) {
		relayed = append(relayed, fmt.Sprintf("%s %d %s", levelName(l), pid, text))
	})
	tee := Tee{First: NewHandler(NewSink(&out), slog.LevelInfo), Second: relay}
	log := slog.New(tee).With("request_id", "abc")
	log.Debug("not enabled")
	log.Error("Error handling request /x", TracebackKey, "Traceback (most recent call last):\nValueError: x")
	tee.WorkerLine(77, slog.LevelInfo, []byte("print from the app"))
	tee.WorkerBlock(77, slog.LevelError, time.Now(), []byte("Traceback"), []byte("Traceback (most recent call last):\nKeyError: k"), nil)

	me := os.Getpid()
	want := []string{
		fmt.Sprintf("ERROR %d Error handling request /x request_id=abc\nTraceback (most recent call last):\nValueError: x", me),
		"INFO 77 print from the app",
		"ERROR 77 Traceback (most recent call last):\nKeyError: k",
	}
	if strings.Join(relayed, "|") != strings.Join(want, "|") {
		t.Errorf("relayed %q; want %q", relayed, want)
	}
	// The log itself got the same records, in its own format, the debug line in neither.
	got := lines(t, out.String())
	if len(got) != 6 || !strings.HasSuffix(got[0], "[ERROR] Error handling request /x request_id=abc") ||
		!strings.HasSuffix(got[3], "[77] [INFO] print from the app") || strings.Contains(out.String(), "not enabled") {
		t.Errorf("the error log wrote:\n%s", out.String())
	}
}
