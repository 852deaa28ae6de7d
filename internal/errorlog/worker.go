package errorlog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"
)

// WorkerLog is where a worker's output goes: Handler writes it line by line, as gunicorn
// does; JSONHandler writes each traceback, stack dump, crash report or warning as one record.
type WorkerLog interface {
	// WorkerLine writes one line a worker printed, tagged with its pid, at level.
	WorkerLine(pid int, level slog.Level, line []byte)
	// WorkerBlock writes the lines of one block (a traceback...), joined by '\n', as one
	// record whose message is headline, dated t, when its first line was read, with attrs.
	WorkerBlock(pid int, level slog.Level, t time.Time, headline, block []byte, attrs []slog.Attr)
	// GroupsBlocks reports whether blocks should be passed whole to WorkerBlock rather than
	// line by line to WorkerLine.
	GroupsBlocks() bool
}

// blockIdle is how long a worker may be silent before the block it was printing is taken
// as whole and written: Python prints a traceback line by line, and only the next line can
// tell whether it goes on. A chained traceback comes out in far less.
const blockIdle = 100 * time.Millisecond

// maxBlock bounds the bytes of a block held for one record; a longer one is written in
// parts.
const maxBlock = 1 << 20

// CopyWorkerOutput logs every line the worker pid prints on r, until r ends or fails: each
// at the level levelOf gives its kind (see Classifier), in blocks when out groups them, a
// block with the attributes attrsOf gives its kind (attrsOf may be nil). It is the one
// goroutine that reads the worker's output; the caller closes r.
//
// When a block is pending and nothing more is buffered, the read waits at most blockIdle
// (r's read deadline, for a pipe) before the block is written.
func CopyWorkerOutput(r io.Reader, pid int, levelOf func(Kind) slog.Level, attrsOf func(Kind) []slog.Attr, out WorkerLog) {
	g := &grouper{out: out, pid: pid, levelOf: levelOf, attrsOf: attrsOf, grouped: out.GroupsBlocks()}
	defer g.flush()
	dr, _ := r.(interface{ SetReadDeadline(time.Time) error })
	br := bufio.NewReaderSize(r, 64<<10)
	var carry []byte // the start of a line a timed-out read returned
	waiting := false
	for {
		if len(g.block) > 0 && br.Buffered() == 0 && dr != nil {
			waiting = dr.SetReadDeadline(time.Now().Add(blockIdle)) == nil
		}
		line, err := br.ReadSlice('\n')
		if waiting {
			dr.SetReadDeadline(time.Time{})
			waiting = false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			carry = append(carry, line...)
			g.flush()
			continue
		}
		if len(carry) > 0 {
			line = append(carry, line...)
			carry = carry[:0]
		}
		if len(line) > 0 {
			g.line(trimNewline(line))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// grouper turns a worker's lines into log calls. Only CopyWorkerOutput's goroutine uses it.
type grouper struct {
	out     WorkerLog
	pid     int
	levelOf func(Kind) slog.Level
	attrsOf func(Kind) []slog.Attr // nil = none
	grouped bool                   // out.GroupsBlocks()

	c     Classifier
	kind  Kind        // of the pending block
	level slog.Level  // of the pending block
	began time.Time   // when the pending block's first line was read
	attrs []slog.Attr // of the pending block
	block []byte      // the pending block's lines joined by '\n'; empty = none
}

func (g *grouper) line(line []byte) {
	if level, msg, ok := LoggedLine(line); ok {
		g.flush()
		g.c = Classifier{}
		g.out.WorkerLine(g.pid, level, msg)
		return
	}
	kind, begins := g.c.ClassifyBlock(line)
	if !g.grouped {
		g.out.WorkerLine(g.pid, g.levelOf(kind), line)
		return
	}
	if begins || len(g.block)+len(line) > maxBlock {
		g.flush()
	}
	if kind == Output {
		g.out.WorkerLine(g.pid, g.levelOf(kind), line)
		return
	}
	if len(g.block) == 0 {
		g.kind, g.level, g.began, g.attrs = kind, g.levelOf(kind), time.Now(), nil
		if g.attrsOf != nil {
			g.attrs = g.attrsOf(kind)
		}
	} else {
		g.block = append(g.block, '\n')
	}
	g.block = append(g.block, line...)
}

// flush writes the pending block, if any.
func (g *grouper) flush() {
	if len(g.block) == 0 {
		return
	}
	block := bytes.TrimRight(g.block, "\n \t")
	g.out.WorkerBlock(g.pid, g.level, g.began, headline(g.kind, block), block, g.attrs)
	g.block = g.block[:0]
}

// headline is the message of a block's record: for a traceback, its (last) exception line,
// "ValueError: boom", which is what one searches for; else the block's first line.
func headline(kind Kind, block []byte) []byte {
	lines := bytes.Split(block, []byte("\n"))
	if kind == Traceback {
		for i := len(lines) - 1; i >= 0; i-- {
			l := lines[i]
			if len(bytes.TrimSpace(l)) > 0 && l[0] != ' ' && l[0] != '\t' && !isTracebackHead(l) &&
				!isChainSentence(l) && !isExceptionIntro(l) {
				return l
			}
		}
	}
	return lines[0]
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// loggedMark starts a line that the worker's logger for the server hooks wrote
// (python/gonicorn_hooks.py: worker.log, server.log): "\x1eLEVEL\x1e" and the message. The
// record separator (0x1E) does not occur in text a program prints, so the mark cannot be
// taken from an app's output by accident.
const loggedMark = 0x1e

// LoggedLine reports whether line is a record of the hooks' logger, and returns its level
// (Python's DEBUG, INFO, WARNING, ERROR, CRITICAL) and its message without the mark.
func LoggedLine(line []byte) (level slog.Level, msg []byte, ok bool) {
	if len(line) < 3 || line[0] != loggedMark {
		return 0, nil, false
	}
	end := bytes.IndexByte(line[1:], loggedMark)
	if end < 0 {
		return 0, nil, false
	}
	level, err := ParseLevel(string(line[1 : 1+end]))
	if err != nil {
		return 0, nil, false
	}
	return level, line[2+end:], true
}
