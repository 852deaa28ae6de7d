package arbiter

import (
	"bufio"
	"os"
	"strings"
)

// Development mode (Spec.DevMode, --reload): what the workers report about the app's files,
// and the app's load error, logged once.

// startReports starts the goroutine that reads the worker's report pipe (the files of the
// modules it imported: one path a line, an empty line ending each report; docs/protocol.md)
// and hands each report to OnModules. It ends at the pipe's EOF, or when reap closes r once
// the worker exited.
func (a *Arbiter) startReports(r *os.File) {
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		var files []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line = strings.TrimSuffix(line, "\n"); line != "" {
				files = append(files, line)
				continue
			}
			if len(files) > 0 && a.OnModules != nil {
				a.OnModules(files)
			}
			files = nil
		}
	}()
}

// noteLoad logs, for a worker that just became ready in DevMode, its app's load error once
// (the first worker that serves a new error logs it; the others, and its respawns, do not),
// or that the app loads again after one.
func (a *Arbiter) noteLoad(w *worker) {
	failed := w.ready.OK && w.ready.Error != "" // ok with an error: it serves the error page
	a.mu.Lock()
	last := a.loadError
	if failed {
		a.loadError = w.ready.Error
	} else {
		a.loadError = ""
	}
	a.mu.Unlock()
	switch {
	case failed && w.ready.Error != last:
		le := &LoadError{App: w.spec.appName(), Python: w.python, Version: w.ready.Python, Dir: w.spec.Dir, Traceback: w.ready.Error}
		a.log.Error("Worker failed to boot: " + le.Error() + "\nServing this traceback to every request (500) until a change is saved (--reload)")
	case !failed && last != "":
		a.log.Info("Application loaded again (pid:" + itoa(w.pid) + ")")
	}
}
