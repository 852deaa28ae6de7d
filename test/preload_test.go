package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The --preload tests (issue 10): the app (test/apps/preload.py) is imported once, by the
// preloader, and the workers forked from it serve; the master supervises them as any worker.

// preloadRun is a gonicorn --preload serving test/apps/preload.py, and the files the app
// writes.
type preloadRun struct {
	*server
	dir     string
	imports string // the pids of the processes that imported the app, one a line
}

// preloadEnv returns the -e flags that point the app at its files in dir.
func preloadEnv(dir string) []string {
	var args []string
	for _, kv := range []string{"PRELOAD_IMPORTS=imports", "PRELOAD_VERSION=version", "PRELOAD_HELD=held", "PRELOAD_RELEASE=release"} {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "-e", k+"="+filepath.Join(dir, v))
	}
	return args
}

// preloadDir returns a directory for the app's files that any user may write (the app may
// run as nobody), removed at cleanup.
func preloadDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gonicorn-preload-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startPreload starts gonicorn --preload with args, the app's version "v1", and waits for
// the first worker.
func startPreload(t *testing.T, args ...string) *preloadRun {
	t.Helper()
	return startPreloadWith(t, python(t), args...)
}

// startPreloadWith is startPreload with the interpreter py.
func startPreloadWith(t *testing.T, py string, args ...string) *preloadRun {
	t.Helper()
	dir := preloadDir(t)
	all := append([]string{"--python", py, "--chdir", appsDir(t), "--preload"}, preloadEnv(dir)...)
	all = append(append(all, args...), "preload")
	s := start(t, all...)
	return &preloadRun{server: s, dir: dir, imports: filepath.Join(dir, "imports")}
}

// importPIDs returns the pids of the processes that imported the app, in order.
func (p *preloadRun) importPIDs() []int {
	p.t.Helper()
	b, err := os.ReadFile(p.imports)
	if err != nil {
		p.t.Fatalf("reading the app's imports: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	return pids
}

var preloaderLine = regexp.MustCompile(`Booting preloader with pid: (\d+)`)

// preloaderPIDs returns the pids of the preloaders the log reports, in order.
func (p *preloadRun) preloaderPIDs() []int {
	var pids []int
	for _, m := range preloaderLine.FindAllStringSubmatch(p.log.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// answer is what the app says about the worker that answered: "PID PPID VERSION".
type answer struct {
	pid, ppid int
	version   string
}

func parseAnswer(t *testing.T, r *response) answer {
	t.Helper()
	var a answer
	if r.status != 200 {
		t.Fatalf("status %d %q; want 200", r.status, r.body)
	}
	if _, err := fmt.Sscanf(string(r.body), "%d %d %s", &a.pid, &a.ppid, &a.version); err != nil {
		t.Fatalf("answer %q: %v", r.body, err)
	}
	return a
}

// With --preload the app is imported once, by the preloader, not by the workers; every
// worker is a different process, a child of the master, and answers.
func TestPreloadImportsOnce(t *testing.T) {
	p := startPreload(t, "-w", "3")
	workers := p.waitWorkers(3)
	preloaders := p.preloaderPIDs()
	if len(preloaders) != 1 {
		t.Fatalf("preloaders booted: %v; want one", preloaders)
	}
	if imports := p.importPIDs(); !slices.Equal(imports, preloaders) {
		t.Errorf("the app was imported by %v; want once, by the preloader %v", imports, preloaders)
	}
	if slices.Contains(workers, preloaders[0]) {
		t.Errorf("workers %v include the preloader %d", workers, preloaders[0])
	}

	// One request held on each worker (one slot each), so each worker answers one.
	answers := make(chan *response, 3)
	for range 3 {
		go func() {
			r, err := p.fetch("/hold")
			if err != nil {
				r = &response{status: -1, body: []byte(err.Error())}
			}
			answers <- r
		}()
	}
	held := filepath.Join(p.dir, "held")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(held)
		if len(strings.Fields(string(b))) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers holding a request after 10 s: %q; want 3", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var answered []int
	for range 3 {
		a := parseAnswer(t, <-answers)
		answered = append(answered, a.pid)
		if a.ppid != p.cmd.Process.Pid {
			t.Errorf("worker %d's parent is %d; want the master %d", a.pid, a.ppid, p.cmd.Process.Pid)
		}
	}
	slices.Sort(answered)
	slices.Sort(workers)
	if !slices.Equal(answered, workers) {
		t.Errorf("answered by %v; want every worker %v", answered, workers)
	}
}

// An app that does not load with --preload stops the start with exit status 3 and its
// traceback, once: the preloader imported it once, whatever -w says.
func TestPreloadLoadErrorExits3Once(t *testing.T) {
	dir := preloadDir(t)
	args := append([]string{"--python", python(t), "--chdir", appsDir(t), "--preload", "-w", "3", "-e", "PRELOAD_FAIL=1"}, preloadEnv(dir)...)
	s := startNoWait(t, append(args, "preload")...)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("gonicorn still running 20 s after starting an app that cannot be imported")
	}
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit = %v; want exit status 3", s.err)
	}
	if n := s.logCount("Traceback (most recent call last)"); n != 1 {
		t.Errorf("%d tracebacks in the log; want 1", n)
	}
	if !strings.Contains(s.log.String(), "RuntimeError: preload-marker") {
		t.Errorf("the log lacks the app's exception")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "imports"))
	if n := len(strings.Fields(string(b))); n != 1 {
		t.Errorf("the app was imported %d times; want once", n)
	}
	if n := s.logCount("Booting worker"); n != 0 {
		t.Errorf("%d workers booted; want none", n)
	}
}

// A killed worker is replaced by a new fork of the preloader, which serves without importing
// the app again; so is a worker that TTIN adds.
func TestPreloadKilledWorkerIsReforked(t *testing.T) {
	p := startPreload(t, "-w", "1")
	first := parseAnswer(t, p.get("/"))
	if err := syscall.Kill(first.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Worker (pid:%d) was sent SIGKILL", first.pid); !p.log.waitFor(want, 5*time.Second) {
		t.Errorf("error log lacks %q", want)
	}
	if !p.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
	second := parseAnswer(t, p.get("/"))
	if second.pid == first.pid || second.ppid != p.cmd.Process.Pid {
		t.Errorf("after the kill, answered by pid %d (parent %d); want a new worker (not %d), a child of the master %d",
			second.pid, second.ppid, first.pid, p.cmd.Process.Pid)
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGTTIN)
	if !p.waitForLogCount("Booting worker", 3, 10*time.Second) {
		t.Fatal("TTIN booted no worker")
	}
	if imports := p.importPIDs(); !slices.Equal(imports, p.preloaderPIDs()) || len(imports) != 1 {
		t.Errorf("the app was imported by %v; want once, by the preloader %v", imports, p.preloaderPIDs())
	}
}

// --timeout kills a forked worker whose request hangs, after its stack dump, and a new fork
// replaces it.
func TestPreloadTimeout(t *testing.T) {
	p := startPreload(t, "-w", "1", "--timeout", "1")
	before := parseAnswer(t, p.get("/"))
	if r := p.get("/hang"); r.status != 504 {
		t.Errorf("GET /hang = %d; want 504", r.status)
	}
	for _, want := range []string{"WORKER TIMEOUT (pid:" + strconv.Itoa(before.pid) + ")", "Worker (pid:" + strconv.Itoa(before.pid) + ") was sent SIGKILL after WORKER TIMEOUT"} {
		if !p.log.waitFor(want, 5*time.Second) {
			t.Errorf("error log lacks %q", want)
		}
	}
	if !p.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
	if after := parseAnswer(t, p.get("/")); after.pid == before.pid {
		t.Errorf("GET / after the timeout answered by the killed worker %d", before.pid)
	}
	if n := len(p.importPIDs()); n != 1 {
		t.Errorf("the app was imported %d times; want once", n)
	}
}

// preloadProcesses returns the pids of the preloader and the workers.
func (p *preloadRun) preloadProcesses(workers int) []int {
	p.t.Helper()
	return append(p.waitWorkers(workers), p.preloaderPIDs()...)
}

// TERM stops the master, its forked workers and the preloader: none is left.
func TestPreloadTermLeavesNoProcess(t *testing.T) {
	p := startPreload(t, "-w", "2")
	pids := p.preloadProcesses(2)
	parseAnswer(t, p.get("/"))
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	if exited, err := p.waitExit(15 * time.Second); !exited || err != nil {
		t.Errorf("master after TERM: exited %v, %v; want exit status 0", exited, err)
	}
	waitAllGone(t, pids, 2*time.Second)
	if strings.Contains(p.log.String(), "Preloader (pid:") {
		t.Errorf("the log reports the preloader's exit at a stop as unexpected")
	}
}

// When the master is killed (SIGKILL), the forked workers and the preloader die with it
// (PR_SET_PDEATHSIG), although the workers' parent at fork was the preloader.
func TestPreloadKillMasterLeavesNoProcess(t *testing.T) {
	p := startPreload(t, "-w", "2", "--threads", "2")
	pids := p.preloadProcesses(2)
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	if exited, _ := p.waitExit(5 * time.Second); !exited {
		t.Fatal("master still running after SIGKILL")
	}
	waitAllGone(t, pids, 2*time.Second)
}

// HUP with --preload loads new code, unlike gunicorn's: a new preloader imports it and a new
// generation of workers is forked from it, with no failed request; the old preloader exits.
func TestPreloadHUPReimports(t *testing.T) {
	p := startPreload(t, "-w", "2", "-e", "PYTHONDONTWRITEBYTECODE=1")
	p.waitWorkers(2)
	hupped := make(chan struct{})
	var once sync.Once
	go func() {
		time.Sleep(300 * time.Millisecond) // some load on the first generation
		if err := os.WriteFile(filepath.Join(p.dir, "version"), []byte("v2"), 0o644); err != nil {
			t.Error(err)
		}
		syscall.Kill(p.cmd.Process.Pid, syscall.SIGHUP)
		once.Do(func() { close(hupped) })
	}()
	res := runLoad(p.server, 4, "/", 10*time.Millisecond, 100, func() bool {
		select {
		case <-hupped:
			return p.logCount("Worker exiting") >= 2
		default:
			return false
		}
	}, 15*time.Second)
	res.check(t, 100)
	versions := map[string]bool{}
	for body := range res.pids {
		f := strings.Fields(body)
		versions[f[len(f)-1]] = true
	}
	if !versions["v1"] || !versions["v2"] {
		t.Errorf("versions answered during the load: %v; want v1 and v2", versions)
	}
	if a := parseAnswer(t, p.get("/")); a.version != "v2" {
		t.Errorf("GET / after the reload answered version %q; want v2", a.version)
	}
	preloaders := p.preloaderPIDs()
	if imports := p.importPIDs(); len(preloaders) != 2 || !slices.Equal(imports, preloaders) {
		t.Errorf("imports by %v; want one by each of two preloaders, %v", imports, preloaders)
	} else {
		waitAllGone(t, preloaders[:1], 5*time.Second)
	}
}

// -u nobody (as root): the preloader imports the app as nobody, and the workers forked from
// it run as nobody; the master stays root and still supervises them.
func TestPreloadUser(t *testing.T) {
	uid, gid := nobody(t)
	p := startPreloadWith(t, debianPython(t, "json"), "-u", "nobody", "-w", "2")
	a := parseAnswer(t, p.get("/"))
	for _, pid := range append(p.preloaderPIDs(), a.pid) {
		if u, g := procCreds(t, pid); u != strconv.Itoa(uid) || g != strconv.Itoa(gid) {
			t.Errorf("process %d runs as uid %s gid %s; want nobody (%d, %d)", pid, u, g, uid, gid)
		}
	}
	if a.ppid != p.cmd.Process.Pid {
		t.Errorf("worker %d's parent is %d; want the master %d", a.pid, a.ppid, p.cmd.Process.Pid)
	}
	if u, _ := procCreds(t, p.cmd.Process.Pid); u != "0" {
		t.Errorf("master runs as uid %s; want root", u)
	}
	syscall.Kill(a.pid, syscall.SIGKILL)
	if !p.waitForLogCount("Booting worker", 3, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
}

// A preloader that dies (here: SIGKILL) takes no worker with it: they are the master's
// children and serve on. The next worker needs a new preloader, which imports the app again.
func TestPreloadPreloaderDeath(t *testing.T) {
	p := startPreload(t, "-w", "1")
	first := parseAnswer(t, p.get("/"))
	preloader := p.preloaderPIDs()[0]
	if err := syscall.Kill(preloader, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Preloader (pid:%d) signal: killed; the next worker starts a new one", preloader)
	if !p.log.waitFor(want, 5*time.Second) {
		t.Errorf("error log lacks %q", want)
	}
	if a := parseAnswer(t, p.get("/")); a.pid != first.pid {
		t.Errorf("after the preloader died, answered by %d; want the worker %d, still serving", a.pid, first.pid)
	}
	syscall.Kill(first.pid, syscall.SIGKILL)
	if !p.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
	second := parseAnswer(t, p.get("/"))
	preloaders := p.preloaderPIDs()
	if imports := p.importPIDs(); len(preloaders) != 2 || !slices.Equal(imports, preloaders) {
		t.Errorf("imports by %v; want one by each of two preloaders, %v", imports, preloaders)
	}
	if second.pid == first.pid || second.ppid != p.cmd.Process.Pid {
		t.Errorf("replacement %d (parent %d); want a new worker, a child of the master %d", second.pid, second.ppid, p.cmd.Process.Pid)
	}
}

// A HUP whose new code does not import leaves the running workers serving and logs the
// traceback once; the old preloader stays, and a worker killed afterwards is forked from it
// (the old code, no new import).
func TestPreloadHUPWithBrokenCode(t *testing.T) {
	p := startPreload(t, "-w", "2")
	p.waitWorkers(2)
	if err := os.WriteFile(filepath.Join(p.dir, "version"), []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGHUP)
	if !p.log.waitFor("Reload failed; the running workers keep serving the previous code", 15*time.Second) {
		t.Fatal("no reload failure logged")
	}
	if n := p.logCount("RuntimeError: preload-marker"); n != 1 {
		t.Errorf("%d tracebacks of the new code in the log; want 1", n)
	}
	first := parseAnswer(t, p.get("/"))
	if first.version != "v1" {
		t.Errorf("after the failed reload, version %q answered; want v1", first.version)
	}
	syscall.Kill(first.pid, syscall.SIGKILL)
	if !p.waitForLogCount("Booting worker", 3, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
	for range 4 {
		if a := parseAnswer(t, p.get("/")); a.version != "v1" {
			t.Errorf("after the respawn, version %q answered by %d; want v1", a.version, a.pid)
		}
	}
	if imports := p.importPIDs(); len(imports) != 2 {
		t.Errorf("imports by %v; want two (the first preloader, the failed one)", imports)
	}
	pre := p.preloaderPIDs()
	if len(pre) != 2 || processGone(pre[0]) || !processGone(pre[1]) {
		t.Errorf("preloaders %v: want the first running, the failed one gone", pre)
	}

	// The code fixed, a second HUP imports it.
	if err := os.WriteFile(filepath.Join(p.dir, "version"), []byte("v3"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGHUP)
	if !p.log.waitFor("Reload complete", 15*time.Second) {
		t.Fatal("the reload of the fixed code did not complete")
	}
	if a := parseAnswer(t, p.get("/")); a.version != "v3" {
		t.Errorf("after the fixed code's reload, version %q answered; want v3", a.version)
	}
}

// A HUP may turn preload_app on and off in the config file: the new generation is forked
// from a preloader, then started as interpreters again, and the preloader exits.
func TestPreloadToggledByReload(t *testing.T) {
	s, conf := configStart(t, "workers = 1\n")
	s.waitWorkers(1)
	reload := func(src string, n int) {
		t.Helper()
		writeConfig(t, conf, configHead(t)+src)
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
		if !s.waitForLogCount("Reload complete", n, 30*time.Second) {
			t.Fatalf("no reload %d completed", n)
		}
	}
	reload("workers = 1\npreload_app = True\n", 1)
	pre := preloaderLine.FindStringSubmatch(s.log.String())
	if pre == nil {
		t.Fatal("preload_app = True and HUP started no preloader")
	}
	forked := s.waitWorkers(2)[1]
	if r := s.get("/pid"); r.status != 200 || string(r.body) != strconv.Itoa(forked) {
		t.Errorf("GET /pid = %d %q; want 200 from the forked worker %d", r.status, r.body, forked)
	}
	reload("workers = 1\n", 2)
	pid, _ := strconv.Atoi(pre[1])
	waitAllGone(t, []int{pid}, 5*time.Second)
	if r := s.get("/pid"); r.status != 200 || string(r.body) != strconv.Itoa(s.waitWorkers(3)[2]) {
		t.Errorf("GET /pid = %d %q; want 200 from the third worker", r.status, r.body)
	}
}

// With --preload the workers forked from the preloader have the workers' title, and the
// preloader its own: gonicorn: preloader [NAME].
func TestPreloadProcessTitles(t *testing.T) {
	p := startPreload(t, "-w", "2", "-n", "shop")
	checkTitles(t, p.server, 2, "shop")
	title := "gonicorn: preloader [shop]"
	pid := p.preloaderPIDs()[0]
	if got := procFile(t, pid, "cmdline"); got != title+"\x00" {
		t.Errorf("the preloader's /proc/%d/cmdline = %q; want %q", pid, got, title+"\x00")
	}
	if got := procFile(t, pid, "comm"); got != title[:15]+"\n" {
		t.Errorf("the preloader's /proc/%d/comm = %q; want %q", pid, got, title[:15]+"\n")
	}
}

// pssKiB returns a process's proportional set size (Pss in /proc/PID/smaps_rollup), in KiB:
// a page shared by N processes counts 1/N in each, so a sum over processes is what they use
// together.
func pssKiB(t *testing.T, pid int) int {
	t.Helper()
	for _, l := range strings.Split(procFile(t, pid, "smaps_rollup"), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no Pss in /proc/%d/smaps_rollup", pid)
	return 0
}

// djangoPSS serves the example Django project with 4 workers and args, takes a few requests,
// and returns the PSS of the workers and of any preloader, summed, in KiB.
func djangoPSS(t *testing.T, py, db string, args ...string) int {
	t.Helper()
	s := startDjango(t, py, db, append([]string{"-w", "4"}, args...)...)
	pids := s.waitWorkers(4)
	for _, path := range []string{"/json", "/template", "/json", "/template"} {
		if r := s.get(path); r.status != 200 {
			t.Fatalf("GET %s = %d", path, r.status)
		}
	}
	pids = append(pids, (&preloadRun{server: s}).preloaderPIDs()...)
	total := 0
	for _, pid := range pids {
		total += pssKiB(t, pid)
	}
	s.stop()
	return total
}

// Issue 14's memory target: with --preload, 4 Django workers (and the preloader) use at most
// 60 % of the memory (PSS) of 4 without (docs/performance.md has the figures: about 35 %
// after boot, 56 % once every worker served many requests).
func TestPreloadDjangoMemory(t *testing.T) {
	py := debianPython(t, "django")
	db := setupDjangoDB(t, py)
	without := djangoPSS(t, py, db)
	with := djangoPSS(t, py, db, "--preload")
	t.Logf("PSS of 4 Django workers: %d KiB without --preload, %d KiB with it (preloader included): %.0f %%",
		without, with, 100*float64(with)/float64(without))
	if float64(with) > 0.6*float64(without) {
		t.Errorf("PSS with --preload %d KiB > 60 %% of %d KiB without", with, without)
	}
}

// zombieChildren returns the pids of the zombie children of pid.
func zombieChildren(pid int) []int {
	var zombies []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			zombies = append(zombies, child)
		}
	}
	return zombies
}

// --max-requests under load with --preload: each recycled worker is replaced by a fork, many
// times, with no failed request, no import after the first, and no zombie left behind.
func TestPreloadRecyclesManyTimes(t *testing.T) {
	p := startPreload(t, "-w", "2", "--max-requests", "4")
	p.waitWorkers(2)
	res := runLoad(p.server, 4, "/", 0, 300, func() bool { return true }, 60*time.Second)
	res.check(t, 300)
	if n := p.logCount("Booting worker"); n < 40 {
		t.Errorf("%d workers booted for 300 requests at --max-requests 4; want 40 or more", n)
	}
	if n := len(p.importPIDs()); n != 1 {
		t.Errorf("the app was imported %d times; want once", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for z := zombieChildren(p.cmd.Process.Pid); len(z) > 0; z = zombieChildren(p.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Errorf("zombie children of the master 5 s after the load: %v", z)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
