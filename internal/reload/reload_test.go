package reload

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMatchGlob: ** matches any number of directories, none too; other segments are
// filepath.Match patterns; hidden directories, __pycache__ and node_modules are not entered
// by **.
func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"/p/templates/**/*.html", "/p/templates/a.html", true},
		{"/p/templates/**/*.html", "/p/templates/x/y/a.html", true},
		{"/p/templates/**/*.html", "/p/templates/a.txt", false},
		{"/p/templates/**/*.html", "/p/other/a.html", false},
		{"/p/**", "/p/a/b/c", true},
		{"/p/*.env", "/p/.env", true}, // filepath.Match's * matches a leading dot too
		{"/p/.env", "/p/.env", true},
		{"/p/**/.env", "/p/sub/.env", true},
		{"/p/**/*.py", "/p/.venv/lib/x.py", false},
		{"/p/**/*.py", "/p/pkg/__pycache__/x.py", false},
		{"/p/**/*.py", "/p/node_modules/x.py", false},
		{"/p/**/*.py", "/p/pkg/.hidden.py", true},
		{"/p/a?c/*.txt", "/p/abc/x.txt", true},
	} {
		if got := matchGlob(tc.glob, tc.path); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v; want %v", tc.glob, tc.path, got, tc.want)
		}
	}
}

func newTest(t *testing.T, cfg Config) (*Watcher, context.CancelFunc) {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	cfg.Quiet = 20 * time.Millisecond
	w := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		w.Wait()
	})
	return w, cancel
}

// next returns the next burst of changes, or fails after a generous deadline.
func next(t *testing.T, w *Watcher) []string {
	t.Helper()
	select {
	case c := <-w.Changes():
		slices.Sort(c)
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported within 10 s")
		return nil
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchedFileChanges, for each engine: a write to a watched file is reported, a file in
// the same directory that is not watched is not (the write to it comes first, so a report
// naming it would come first too), and a save by renaming a new file over the old one is a
// change.
func TestWatchedFileChanges(t *testing.T) {
	for _, engine := range []string{"inotify", "poll"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			views := filepath.Join(dir, "views.py")
			other := filepath.Join(dir, "db.sqlite3")
			write(t, views, "A = 1\n")
			write(t, other, "x")
			w, _ := newTest(t, Config{Engine: engine})
			if w.Engine() != engine {
				t.Fatalf("Engine() = %q; want %q", w.Engine(), engine)
			}
			w.Watch([]string{views, "<frozen importlib._bootstrap>"})
			waitWatched(t, w, 1)
			write(t, other, "xy")
			write(t, views, "A = 22\n")
			if got := next(t, w); !slices.Equal(got, []string{views}) {
				t.Errorf("changes = %q; want [%s]", got, views)
			}
			tmp := filepath.Join(dir, ".views.py.tmp")
			write(t, tmp, "A = 3\n")
			if err := os.Rename(tmp, views); err != nil {
				t.Fatal(err)
			}
			if got := next(t, w); !slices.Equal(got, []string{views}) {
				t.Errorf("after a rename: changes = %q; want [%s]", got, views)
			}
		})
	}
}

// waitWatched waits until the watcher has taken n files (Watch hands them over
// asynchronously only in that the loop records them after it received them).
func waitWatched(t *testing.T, w *Watcher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w.Watched() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Watched() = %d; want %d", w.Watched(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestExtraGlobs: a --reload-extra-file glob's existing files are watched, a new file that
// matches it is a change, and a directory means every file under it.
func TestExtraGlobs(t *testing.T) {
	for _, engine := range []string{"inotify", "poll"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "templates", "base.html")
			env := filepath.Join(dir, "conf", ".env")
			write(t, base, "<html>")
			write(t, env, "A=1")
			w, _ := newTest(t, Config{Engine: engine, Extra: []string{
				filepath.Join(dir, "templates", "**", "*.html"), filepath.Join(dir, "conf")}})
			if w.Watched() != 2 {
				t.Fatalf("Watched() = %d; want 2 (base.html, .env)", w.Watched())
			}
			write(t, base, "<html><body>")
			if got := next(t, w); !slices.Equal(got, []string{base}) {
				t.Errorf("changes = %q; want [%s]", got, base)
			}
			page := filepath.Join(dir, "templates", "blog", "page.html")
			write(t, filepath.Join(dir, "templates", "blog", "notes.txt"), "no")
			write(t, page, "<p>")
			if got := next(t, w); !slices.Equal(got, []string{page}) {
				t.Errorf("changes = %q; want [%s]", got, page)
			}
			write(t, env, "A=2")
			if got := next(t, w); !slices.Equal(got, []string{env}) {
				t.Errorf("changes = %q; want [%s]", got, env)
			}
		})
	}
}

// TestBurstIsOneChange: several writes in a row are reported together once they stop.
func TestBurstIsOneChange(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.py"), filepath.Join(dir, "b.py")
	write(t, a, "1")
	write(t, b, "1")
	w := New(Config{Engine: "inotify", Quiet: 300 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); w.Wait() }()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w.Watch([]string{a, b})
	waitWatched(t, w, 2)
	write(t, a, "22")
	write(t, b, "22")
	if got := next(t, w); !slices.Equal(got, []string{a, b}) {
		t.Errorf("changes = %q; want both files in one burst", got)
	}
}
