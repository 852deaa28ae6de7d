// Package reload watches the files of a development server (--reload): the source files of
// the modules the workers imported, which they report as they import them, and the
// --reload-extra-file paths, directories and globs. It tells its owner which files changed,
// once per burst of changes (an editor's save is several events), so that the owner starts
// new workers on the new code.
//
// Two engines find the changes: inotify (through fsnotify), which watches the directory of
// every file, and poll, which stats every file each Interval. A file whose directory inotify
// cannot watch (the kernel's watch limit, a file system without inotify) is polled. A
// change is a new modification time, size or inode (an editor that saves by renaming a new
// file over the old one), or the file appearing or disappearing; an event that changes none
// of these (a read, a chmod) is not one. The set of watched files only grows.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Config says what to watch and how.
type Config struct {
	Engine string   // "inotify", "poll" or "auto" (inotify, else poll); "" = auto
	Extra  []string // absolute paths, directories (every file under them) and globs (** = any directories)
	// Interval is how often polled files are stat'ed and the globs of Extra looked at again
	// for new files; 0 = 1 s (gunicorn's and Django's poll interval).
	Interval time.Duration
	// Quiet is how long a burst of changes must be still before it is reported; 0 = 100 ms.
	// A burst that goes on is reported after 10 × Quiet anyway.
	Quiet time.Duration
}

// Watcher watches files and reports their changes on Changes. Start it, feed it with Watch,
// and stop it by cancelling Start's context; Wait returns once it stopped.
type Watcher struct {
	cfg     Config
	log     *slog.Logger
	add     chan []string // Watch's paths, to run
	changes chan []string // bursts of changed paths, from run
	done    chan struct{} // closed when run returned
	engine  string        // "inotify" or "poll", set by Start
	watched atomic.Int64  // files watched, for the banner and the debug log

	// Owned by run.
	fs    *fsnotify.Watcher   // nil: the poll engine
	files map[string]stamp    // every watched file and how it was last seen
	dirs  map[string]bool     // directories given to inotify: true if it watches them
	dirty map[string]struct{} // files an event or a poll says may have changed
	globs []string            // Extra, with a directory D written D/**
}

// stamp is what tells one version of a file from the next.
type stamp struct {
	exists bool
	mod    time.Time
	size   int64
	ino    uint64
}

func statStamp(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	s := stamp{exists: true, mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// New returns a watcher; it opens nothing and starts nothing.
func New(cfg Config, log *slog.Logger) *Watcher {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = 100 * time.Millisecond
	}
	if cfg.Engine == "" {
		cfg.Engine = "auto"
	}
	return &Watcher{cfg: cfg, log: log, add: make(chan []string), changes: make(chan []string),
		done: make(chan struct{}), files: map[string]stamp{}, dirs: map[string]bool{},
		dirty: map[string]struct{}{}}
}

// Start opens the engine and starts watching the extra files, in a goroutine of its own that
// ends with ctx. With Engine "inotify" an inotify that cannot be had is an error; with
// "auto" it falls back to polling, with a warning.
func (w *Watcher) Start(ctx context.Context) error {
	w.engine = "poll"
	if w.cfg.Engine != "poll" {
		fsw, err := fsnotify.NewWatcher()
		switch {
		case err == nil:
			w.fs, w.engine = fsw, "inotify"
		case w.cfg.Engine == "inotify":
			return fmt.Errorf("--reload-engine inotify: %w", err)
		default:
			w.log.Warn("--reload: inotify is not available (" + err.Error() + "); polling the files every " + w.cfg.Interval.String())
		}
	}
	for _, p := range w.cfg.Extra {
		w.globs = append(w.globs, globOf(p))
	}
	w.expand(false)
	go w.run(ctx)
	return nil
}

// Engine is the engine Start chose: "inotify" or "poll".
func (w *Watcher) Engine() string { return w.engine }

// Watched is how many files are watched.
func (w *Watcher) Watched() int { return int(w.watched.Load()) }

// Changes delivers the files that changed, one slice per burst.
func (w *Watcher) Changes() <-chan []string { return w.changes }

// Wait returns once the watcher stopped (Start's context ended) and closed its engine.
func (w *Watcher) Wait() { <-w.done }

// Watch adds files to watch (the source files of a worker's modules); paths already watched
// are skipped. A change that happened before a file was watched is not seen. Safe from any
// goroutine; it returns at once once the watcher stopped.
func (w *Watcher) Watch(paths []string) {
	select {
	case w.add <- paths:
	case <-w.done:
	}
}

// run is the watcher's one goroutine: it owns the watched set.
func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fs != nil {
		defer w.fs.Close()
		events, errs = w.fs.Events, w.fs.Errors
	}
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var burst time.Time // when the pending burst began; zero = none
	var pending []string
	for {
		var out chan<- []string // nil (never ready) while nothing is pending
		if len(pending) > 0 {
			out = w.changes
		}
		marked := false
		select {
		case <-ctx.Done():
			return
		case paths := <-w.add:
			n := len(w.files)
			for _, p := range paths {
				w.watch(p, false)
			}
			if added := len(w.files) - n; added > 0 {
				w.log.Debug(fmt.Sprintf("--reload: watching %d more files (%d in all)", added, len(w.files)))
			}
		case ev := <-events:
			marked = w.event(ev)
		case err := <-errs:
			w.log.Warn("--reload: inotify: " + err.Error())
		case <-tick.C:
			marked = w.expand(true)
			marked = w.poll() || marked
		case <-settle.C:
			burst = time.Time{}
			pending = append(pending, w.settle()...)
		case out <- pending:
			pending = nil
		}
		if marked {
			// Wait for the burst to be quiet, but not forever.
			if burst.IsZero() {
				burst = time.Now()
			}
			if time.Since(burst) < 10*w.cfg.Quiet {
				settle.Reset(w.cfg.Quiet)
			}
		}
	}
}

// watch adds one file (cleaned, a symlink resolved; a relative path is no file and is
// skipped) with its current stamp; appeared says that it has just appeared, which then
// counts as a change. Called by run (and by Start before run).
func (w *Watcher) watch(path string, appeared bool) {
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		return // the worker reports absolute paths; anything else is not a file
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
	}
	if _, ok := w.files[path]; ok {
		return
	}
	if appeared {
		w.files[path] = stamp{}
		w.dirty[path] = struct{}{}
	} else {
		w.files[path] = statStamp(path)
	}
	w.watched.Store(int64(len(w.files)))
	if w.fs == nil {
		return
	}
	dir := filepath.Dir(path)
	if _, ok := w.dirs[dir]; ok {
		return
	}
	err := w.fs.Add(dir)
	w.dirs[dir] = err == nil
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		// A directory that does not exist (yet) is polled, quietly.
	case errors.Is(err, syscall.ENOSPC):
		w.log.Warn("--reload: the kernel's inotify watch limit is reached at " + dir + "; polling its files (raise fs.inotify.max_user_watches)")
	default:
		w.log.Warn("--reload: cannot watch " + dir + " with inotify (" + err.Error() + "); polling its files")
	}
}

// polled reports whether path's changes are found by polling.
func (w *Watcher) polled(path string) bool {
	return w.fs == nil || !w.dirs[filepath.Dir(path)]
}

// event marks the file an inotify event names, if it is watched or matches a glob. It
// reports whether it marked one. Called by run.
func (w *Watcher) event(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if _, ok := w.files[ev.Name]; ok {
		w.dirty[ev.Name] = struct{}{}
		return true
	}
	if ev.Has(fsnotify.Create) && w.matches(ev.Name) {
		w.watch(ev.Name, true)
		return true
	}
	return false
}

// poll marks the polled files whose stamp changed; it reports whether it marked one.
func (w *Watcher) poll() bool {
	marked := false
	for p, s := range w.files {
		if w.polled(p) && statStamp(p) != s {
			w.dirty[p] = struct{}{}
			marked = true
		}
	}
	return marked
}

// settle returns the marked files whose stamp really changed, and records their new stamps.
func (w *Watcher) settle() []string {
	var changed []string
	for p := range w.dirty {
		if s := statStamp(p); s != w.files[p] {
			w.files[p] = s
			changed = append(changed, p)
		}
	}
	clear(w.dirty)
	return changed
}

// expand looks for the files of the extra paths and globs, and watches those not watched
// yet; with appeared, they count as changes (and it reports whether there was one), else
// they are the baseline of Start.
func (w *Watcher) expand(appeared bool) bool {
	marked := false
	for _, g := range w.globs {
		for _, p := range globFiles(g) {
			if _, ok := w.files[p]; !ok {
				w.watch(p, appeared)
				marked = marked || appeared
			}
		}
	}
	return marked
}

// matches reports whether path matches one of the extra globs.
func (w *Watcher) matches(path string) bool {
	for _, g := range w.globs {
		if matchGlob(g, path) {
			return true
		}
	}
	return false
}

// hasMeta reports whether a path segment is a pattern (filepath.Match's syntax).
func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// globOf turns an extra path into the glob of its files: a directory D is D/** (every file
// under it); a file or a pattern is itself.
func globOf(p string) string {
	p = filepath.Clean(p)
	if !hasMeta(p) {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return filepath.Join(p, "**")
		}
	}
	return p
}

// skipDir reports whether a directory below a ** is left out of its walk: hidden ones
// (.git, .venv), Python's bytecode caches and node_modules, which are big and never what a
// pattern means.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__pycache__" || name == "node_modules"
}

// globFiles returns the regular files matching glob, or glob itself when it is a plain path
// (a file that does not exist yet is watched for its creation).
func globFiles(glob string) []string {
	if !hasMeta(glob) {
		return []string{glob}
	}
	segs := strings.Split(glob, string(filepath.Separator))
	i := 0
	for i < len(segs) && !hasMeta(segs[i]) {
		i++
	}
	if !strings.Contains(glob, "**") {
		ms, _ := filepath.Glob(glob)
		return regular(ms)
	}
	root := string(filepath.Separator) + filepath.Join(segs[:i]...)
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skip it
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if matchGlob(glob, p) && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func regular(paths []string) []string {
	var out []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out
}

// matchGlob reports whether path matches glob, segment by segment with filepath.Match,
// where a segment ** matches any number of directories (none too). A directory under **
// that skipDir leaves out does not match.
func matchGlob(glob, path string) bool {
	sep := string(filepath.Separator)
	return matchSegments(strings.Split(glob, sep), strings.Split(path, sep))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
				if i < len(name)-1 && skipDir(name[i]) {
					return false
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := filepath.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
