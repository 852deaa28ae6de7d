package errorlog

import (
	"bytes"
	"log/slog"
)

// Kind is what a line a worker printed is part of, as Classifier tells it.
type Kind int

const (
	Output    Kind = iota // the application's own output: print, wsgi.errors, logging
	Traceback             // a Python traceback, with its chained tracebacks and exception line
	StackDump             // a faulthandler dump of every thread's stack (SIGUSR1: --timeout or PWR)
	Crash                 // "Fatal Python error: ..." and the stacks faulthandler prints after it
	Warning               // a warnings-module line ("app.py:3: DeprecationWarning: ...") and its source line
)

// Level is the error-log level of a line of kind k that a Python process printed: the app's
// own output INFO, a Python warning WARNING, a traceback ERROR (so --log-level error keeps
// tracebacks and drops the chatter), a crash report CRITICAL, a stack dump WARNING (a worker
// being killed for --timeout makes its dump CRITICAL itself).
func (k Kind) Level() slog.Level {
	switch k {
	case Traceback:
		return slog.LevelError
	case Crash:
		return LevelCritical
	case Warning, StackDump:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Classifier tells, line by line, which of a worker's output lines belong to a Python
// traceback or a faulthandler stack dump, so that the master logs them at ERROR or CRITICAL
// instead of INFO. A worker's stdout and stderr are one pipe of plain text; the blocks are
// recognised by the lines CPython's traceback and faulthandler modules start them with:
//
//	Traceback (most recent call last):            a traceback, up to its exception line
//	Thread 0x7f.. (most recent call first):       a stack dump, up to the first line that is
//	Current thread 0x7f.. (most recent call first):   neither indented, blank nor a header
//	Fatal Python error: Segmentation fault        a crash report (faulthandler.enable)
//	Exception in thread Thread-1 (run):           a thread's uncaught exception (its traceback follows)
//	Exception in server hook post_request:        a server hook's exception (likewise)
//	/srv/app.py:3: DeprecationWarning: ...        a warning, and the source line after it
//
// An application that prints lines looking like these gets them classified as such. The
// zero value is ready; one Classifier reads one worker's output, in order.
type Classifier struct {
	block Kind // the block the previous line belonged to; Output = none
	// tail is set in a Traceback block once its exception line was seen: only a blank line
	// or a chained traceback's sentence continues the block then.
	tail bool
	// group is set in a Traceback block of an exception group: every line of it is
	// indented, so the first line that is not ends it.
	group bool
	// awaitHead is set (by ClassifyBlock) after a chained traceback's sentence or a thread's
	// exception intro, up to the traceback head that continues the block.
	awaitHead bool
}

// ClassifyBlock is Classify, and also reports whether line begins a block (a traceback, a
// stack dump, a crash report, a warning) or is output of its own, rather than continuing
// the block of the line before. A chained exception's tracebacks are one block, and so
// are the stacks of all threads in one dump.
func (c *Classifier) ClassifyBlock(line []byte) (Kind, bool) {
	prev, await := c.block, c.awaitHead
	k := c.Classify(line)
	blank := len(bytes.TrimSpace(line)) == 0
	c.awaitHead = k == Traceback && (isChainSentence(line) || isExceptionIntro(line) || await && blank)
	if k == Output || k != prev {
		return k, true
	}
	switch k {
	case Traceback:
		if isTracebackHead(line) {
			// Indented heads are nested in an exception group.
			return k, !await && line[0] != ' '
		}
		return k, isExceptionIntro(line)
	case Warning:
		return k, isWarning(line)
	case Crash:
		return k, bytes.HasPrefix(line, []byte("Fatal Python error: "))
	}
	return k, false // StackDump: the next thread's stack of the same dump
}

// Classify returns the kind of line (without its newline), the next line of the output.
func (c *Classifier) Classify(line []byte) Kind {
	switch {
	case isTracebackHead(line):
		c.block, c.tail, c.group = Traceback, false, line[0] == ' '
		return Traceback
	case isExceptionIntro(line):
		c.block, c.tail, c.group = Traceback, true, false // the traceback's head follows
		return Traceback
	case isWarning(line):
		c.block, c.tail = Warning, false
		return Warning
	case bytes.HasPrefix(line, []byte("Fatal Python error: ")):
		c.block, c.tail = Crash, false
		return Crash
	case isStackHead(line):
		if c.block != Crash {
			c.block = StackDump
		}
		c.tail = false
		return c.block
	}
	switch c.block {
	case Traceback:
		switch {
		case len(bytes.TrimSpace(line)) == 0 || isChainSentence(line):
			return Traceback // between the tracebacks of a chained exception
		case line[0] == ' ' || line[0] == '\t':
			if !c.tail {
				return Traceback // frames, source lines, carets, exception groups
			}
		case c.tail || c.group:
		default:
			c.tail = true // the exception line: "ValueError: boom"
			return Traceback
		}
	case Warning:
		if len(line) > 0 && line[0] == ' ' && !c.tail {
			c.tail = true // the one source line the warnings module prints
			return Warning
		}
	case StackDump, Crash:
		if len(line) == 0 || line[0] == ' ' || bytes.HasPrefix(line, []byte("Extension modules: ")) {
			return c.block
		}
	}
	c.block, c.tail = Output, false
	return Output
}

func isTracebackHead(line []byte) bool {
	// Indented in an exception group ("  + Exception Group Traceback (most recent call last):").
	return bytes.HasSuffix(line, []byte("Traceback (most recent call last):")) &&
		(bytes.HasPrefix(line, []byte("Traceback")) || line[0] == ' ' && bytes.Contains(line, []byte("Exception Group")))
}

// isExceptionIntro reports whether line introduces a traceback that Python prints for an
// exception nobody caught: in a thread (threading.excepthook), or in a destructor or callback
// (sys.unraisablehook), or that the worker prints for a server hook that raised
// (python/gonicorn_hooks.py).
func isExceptionIntro(line []byte) bool {
	return (bytes.HasPrefix(line, []byte("Exception in thread ")) || bytes.HasPrefix(line, []byte("Exception in server hook "))) &&
		bytes.HasSuffix(line, []byte(":")) ||
		bytes.HasPrefix(line, []byte("Exception ignored in: "))
}

// isWarning reports whether line is the warnings module's "FILE:LINE: CATEGORY: message",
// CATEGORY being a name ending in "Warning".
func isWarning(line []byte) bool {
	i := bytes.Index(line, []byte("Warning: "))
	if i <= 0 || line[0] == ' ' {
		return false
	}
	j := i
	for j > 0 && isNameByte(line[j-1]) {
		j--
	}
	// Before the category: ": ", and before that ":LINE".
	if j < 2 || line[j-2] != ':' || line[j-1] != ' ' {
		return false
	}
	k := j - 2
	for k > 0 && line[k-1] >= '0' && line[k-1] <= '9' {
		k--
	}
	return k < j-2 && k > 0 && line[k-1] == ':'
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// isStackHead reports whether line starts one thread's stack in a faulthandler dump.
func isStackHead(line []byte) bool {
	return bytes.HasSuffix(line, []byte("(most recent call first):")) &&
		(bytes.HasPrefix(line, []byte("Thread 0x")) || bytes.HasPrefix(line, []byte("Current thread 0x")) ||
			bytes.Equal(line, []byte("Stack (most recent call first):")))
}

// isChainSentence reports whether line joins two tracebacks of a chained exception.
func isChainSentence(line []byte) bool {
	return bytes.Equal(line, []byte("During handling of the above exception, another exception occurred:")) ||
		bytes.Equal(line, []byte("The above exception was the direct cause of the following exception:"))
}
