package e2e

// gunicorn's server hooks in a config file (docs/hooks.md): each hook appends a JSON line to
// a file, and the tests check the order, the moments and the arguments against the real
// workers' pids and requests.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hookRecorder is the head of a config file whose hooks call record(hook, **fields), which
// appends {"hook": ..., "in_pid": the process it ran in, fields...} to the file path.
func hookRecorder(path string) string {
	return fmt.Sprintf(`import json, os
HOOK_LOG = %q
def record(hook, **fields):
    fields["hook"] = hook
    fields["in_pid"] = os.getpid()
    with open(HOOK_LOG, "a") as f:
        f.write(json.dumps(fields) + "\n")
`, path)
}

// hookRecord is one line of a hookRecorder's file.
type hookRecord map[string]any

func (r hookRecord) str(k string) string { s, _ := r[k].(string); return s }
func (r hookRecord) num(k string) int    { f, _ := r[k].(float64); return int(f) }

// readHooks returns the records of path so far.
func readHooks(t *testing.T, path string) []hookRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []hookRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r hookRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("hook record %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// waitHooks waits until path holds records for which match is true n times, and returns all.
func waitHooks(t *testing.T, path string, n int, match func(hookRecord) bool) []hookRecord {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs := readHooks(t, path)
		count := 0
		for _, r := range rs {
			if match(r) {
				count++
			}
		}
		if count >= n {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d matching hook records after 20 s; want %d; records: %v", count, n, rs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hookIs(name string, pid int) func(hookRecord) bool {
	return func(r hookRecord) bool { return r.str("hook") == name && (pid == 0 || r.num("pid") == pid) }
}

// hookOrder returns the hook names recorded for worker pid, in order.
func hookOrder(rs []hookRecord, pid int) []string {
	var names []string
	for _, r := range rs {
		if r.num("pid") == pid {
			names = append(names, r.str("hook"))
		}
	}
	return names
}

const workerHooksSrc = `
workers = 2
timeout = 2
def post_fork(server, worker):
    record("post_fork", pid=worker.pid, ppid=worker.ppid, age=worker.age, server_pid=server.pid,
           num_workers=server.num_workers, cfg_workers=worker.cfg.workers, cfg_timeout=worker.cfg.timeout,
           alive=worker.alive)
def post_worker_init(worker):
    record("post_worker_init", pid=worker.pid, app=callable(worker.wsgi))
def pre_request(worker, req):
    req.seen = "by pre_request"
    worker.log.warning("pre_request saw %s %s", req.method, req.path)
    record("pre_request", pid=worker.pid, method=req.method, path=req.path, query=req.query, uri=req.uri,
           version=list(req.version), headers=[list(h) for h in req.headers])
def post_request(worker, req, environ, resp):
    record("post_request", pid=worker.pid, path=req.path, seen=getattr(req, "seen", None),
           path_info=environ.get("PATH_INFO"), status=resp and resp.status, code=resp and resp.status_code,
           headers=resp and [list(h) for h in resp.headers])
def worker_int(worker):
    record("worker_int", pid=worker.pid, alive=worker.alive)
def worker_abort(worker):
    record("worker_abort", pid=worker.pid, alive=worker.alive)
def worker_exit(server, worker):
    record("worker_exit", pid=worker.pid, server_pid=server.pid)
`

// Every worker-side hook runs in the worker, at gunicorn's moment, with gunicorn's
// arguments: post_fork and post_worker_init at boot, pre_request and post_request around a
// request (the same req object), worker_abort on a --timeout, worker_int on the master's
// fast stop (QUIT), worker_exit last.
func TestWorkerHooks(t *testing.T) {
	log := filepath.Join(t.TempDir(), "hooks.log")
	s, _ := configStart(t, hookRecorder(log)+workerHooksSrc)
	pids := s.waitWorkers(2)
	master := s.cmd.Process.Pid
	for _, pid := range pids[:2] {
		rs := waitHooks(t, log, 1, hookIs("post_worker_init", pid))
		for _, r := range rs {
			if r.num("pid") != pid || r.str("hook") != "post_fork" {
				continue
			}
			if r.num("in_pid") != pid || r.num("ppid") != master || r.num("server_pid") != master ||
				r.num("num_workers") != 2 || r.num("cfg_workers") != 2 || r.num("cfg_timeout") != 2 || r["alive"] != true {
				t.Errorf("post_fork of worker %d (master %d): %v", pid, master, r)
			}
			if age := r.num("age"); age != 1 && age != 2 {
				t.Errorf("post_fork of worker %d: age %d; want 1 or 2", pid, age)
			}
		}
	}

	r := s.do("GET /pid?x=1 HTTP/1.1\r\nHost: test\r\nX-Test: yes\r\n\r\n")
	if r.status != 200 {
		t.Fatalf("GET /pid?x=1 = %d; want 200", r.status)
	}
	var served int
	fmt.Sscan(string(r.body), &served)
	rs := waitHooks(t, log, 1, hookIs("post_request", served))
	for _, rec := range rs {
		switch rec.str("hook") {
		case "pre_request":
			headers := fmt.Sprint(rec["headers"])
			if rec.num("in_pid") != served || rec.str("method") != "GET" || rec.str("path") != "/pid" || rec.str("query") != "x=1" ||
				rec.str("uri") != "/pid?x=1" || fmt.Sprint(rec["version"]) != "[1 1]" ||
				!strings.Contains(headers, "[X-TEST yes]") || !strings.Contains(headers, "[HOST test]") {
				t.Errorf("pre_request (served by %d): %v", served, rec)
			}
		case "post_request":
			if rec.num("in_pid") != served || rec.str("path") != "/pid" || rec.str("seen") != "by pre_request" ||
				rec.str("path_info") != "/pid" || rec.str("status") != "200 OK" || rec.num("code") != 200 ||
				!strings.Contains(fmt.Sprint(rec["headers"]), "[Content-Type text/plain]") {
				t.Errorf("post_request (served by %d): %v", served, rec)
			}
		}
	}
	if !s.log.waitFor(fmt.Sprintf("[%d] [WARNING] pre_request saw GET /pid", served), 5*time.Second) {
		t.Errorf("worker.log.warning's line is not in the error log at WARNING with the worker's pid %d", served)
	}

	// --timeout: the worker gets SIGABRT after its stack dump, runs worker_abort and exits.
	if r := s.get("/sleep?s=30"); r.status != 504 {
		t.Fatalf("GET /sleep?s=30 with timeout = 2: %d; want 504", r.status)
	}
	rs = waitHooks(t, log, 1, hookIs("worker_abort", 0))
	var aborted int
	for _, rec := range rs {
		if rec.str("hook") == "worker_abort" {
			aborted = rec.num("pid")
			if rec.num("in_pid") != aborted || !slices.Contains(pids, aborted) || rec["alive"] != false {
				t.Errorf("worker_abort: %v; want it in one of the workers %v, alive False", rec, pids)
			}
		}
	}
	waitHooks(t, log, 1, hookIs("worker_exit", aborted))
	pids = s.waitWorkers(3)

	// A fast stop: worker_int, then worker_exit, in each worker.
	waitHooks(t, log, 1, hookIs("post_worker_init", pids[2]))
	syscall.Kill(master, syscall.SIGQUIT)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status after QUIT = %d; want 0", code)
	}
	rs = readHooks(t, log)
	for _, pid := range pids {
		order := hookOrder(rs, pid)
		var want []string
		switch pid {
		case served:
			want = []string{"post_fork", "post_worker_init", "pre_request", "post_request"}
		default:
			want = []string{"post_fork", "post_worker_init"}
		}
		if pid == aborted {
			// The worker exits 1 at once after worker_abort: the hung request's
			// post_request does not run.
			want = append(want, "pre_request", "worker_abort", "worker_exit")
		} else {
			want = append(want, "worker_int", "worker_exit")
		}
		if !slices.Equal(order, want) {
			t.Errorf("hooks of worker %d: %q; want %q (served /pid: %d, aborted: %d)", pid, order, want, served, aborted)
		}
	}
}

// A hook that raises is logged with its traceback, as one error entry, and the server goes
// on: post_request's exception leaves the response and the worker alone; pre_request's is
// the request's (500, "Error handling request"), as in gunicorn; worker_exit still runs at
// the stop.
func TestWorkerHookRaises(t *testing.T) {
	log := filepath.Join(t.TempDir(), "hooks.log")
	s, _ := configStart(t, hookRecorder(log)+`
def pre_request(worker, req):
    if req.path == "/pid" and req.query == "pre":
        raise RuntimeError("pre_request failed on purpose")
def post_request(worker, req, environ, resp):
    if req.query == "post":
        raise KeyError("post_request failed on purpose")
def worker_exit(server, worker):
    record("worker_exit", pid=worker.pid)
`)
	pid := s.waitWorkers(1)[0]
	if r := s.get("/pid?post"); r.status != 200 || string(r.body) != fmt.Sprint(pid) {
		t.Errorf("GET /pid?post = %d %q; want 200 from worker %d", r.status, r.body, pid)
	}
	if !s.log.waitFor("KeyError: 'post_request failed on purpose'", 5*time.Second) {
		t.Fatal("post_request's exception is not in the error log")
	}
	for _, want := range []string{
		fmt.Sprintf("[%d] [ERROR] Exception in server hook post_request:", pid),
		fmt.Sprintf("[%d] [ERROR] Traceback (most recent call last):", pid),
		fmt.Sprintf("[%d] [ERROR] KeyError: 'post_request failed on purpose'", pid),
	} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("error log lacks %q", want)
		}
	}
	if r := s.get("/pid?pre"); r.status != 500 {
		t.Errorf("GET /pid?pre with pre_request raising = %d; want 500", r.status)
	}
	if !s.log.waitFor("RuntimeError: pre_request failed on purpose", 5*time.Second) ||
		!strings.Contains(s.log.String(), "Error handling request /pid") {
		t.Error("pre_request's exception is not logged as the request's error")
	}
	if r := s.get("/pid"); r.status != 200 || string(r.body) != fmt.Sprint(pid) {
		t.Errorf("GET /pid after the hooks raised = %d %q; want 200 from the same worker %d", r.status, r.body, pid)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status after TERM = %d; want 0", code)
	}
	if order := hookOrder(readHooks(t, log), pid); !slices.Equal(order, []string{"worker_exit"}) {
		t.Errorf("hooks recorded at TERM: %q; want worker_exit", order)
	}
}

// post_fork that raises fails the worker's boot, as in gunicorn (WORKER_BOOT_ERROR): the
// master stops with exit status 3 and logs the traceback once.
func TestWorkerHookPostForkRaises(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, configHead(t)+"workers = 2\ndef post_fork(server, worker):\n    raise ValueError('no database')\n")
	s := startNoWait(t, "--python", python(t), "-c", conf)
	if code := s.exitCode(30 * time.Second); code != 3 {
		t.Errorf("exit status = %d; want 3", code)
	}
	if n := s.logCount("ValueError: no database"); n != 1 {
		t.Errorf("the traceback is logged %d times; want once:\n%s", n, s.log)
	}
	if !strings.Contains(s.log.String(), "in post_fork") {
		t.Errorf("the log does not name post_fork:\n%s", s.log)
	}
}

const masterHooksSrc = `
workers = 2
def nworkers_changed(server, new_value, old_value):
    record("nworkers_changed", server_pid=server.pid, new=new_value, old=old_value, num_workers=server.num_workers)
def on_starting(server):
    record("on_starting", server_pid=server.pid, num_workers=server.num_workers, cfg_workers=server.cfg.workers)
def when_ready(server):
    record("when_ready", server_pid=server.pid)
    open(READY_FILE, "w").close()
def pre_fork(server, worker):
    record("pre_fork", server_pid=server.pid, age=worker.age, wpid=worker.pid, ppid=worker.ppid)
def post_fork(server, worker):
    record("post_fork", pid=worker.pid, age=worker.age)
def child_exit(server, worker):
    record("child_exit", server_pid=server.pid, age=worker.age, wpid=worker.pid, alive=worker.alive)
def on_reload(server):
    record("on_reload", server_pid=server.pid)
def on_exit(server):
    record("on_exit", server_pid=server.pid)
`

// hookNames returns the hook names of rs, in order.
func hookNames(rs []hookRecord) []string {
	var names []string
	for _, r := range rs {
		names = append(names, r.str("hook"))
	}
	return names
}

// The master-side hooks run in the master's hook process, at gunicorn's moments: at start
// nworkers_changed (old None), on_starting, a pre_fork before each worker's post_fork,
// when_ready once the server answers (a readiness file); on TTIN/TTOU nworkers_changed,
// pre_fork, child_exit; on HUP nworkers_changed, on_reload, then the new workers; on TERM
// child_exit for each worker and on_exit last.
func TestMasterHooks(t *testing.T) {
	dir := t.TempDir()
	log, ready := filepath.Join(dir, "hooks.log"), filepath.Join(dir, "ready")
	s, _ := configStart(t, hookRecorder(log)+fmt.Sprintf("READY_FILE = %q\n", ready)+masterHooksSrc)
	master := s.cmd.Process.Pid
	rs := waitHooks(t, log, 1, hookIs("when_ready", 0))
	if _, err := os.Stat(ready); err != nil {
		t.Fatalf("when_ready's file: %v", err)
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid once when_ready wrote its file = %d; want 200", r.status)
	}
	helper := rs[0].num("in_pid")
	names := hookNames(rs)
	if !slices.Equal(names[:2], []string{"nworkers_changed", "on_starting"}) || names[len(names)-1] != "when_ready" ||
		len(names) != 7 {
		t.Errorf("hooks at start: %q; want nworkers_changed, on_starting, pre_fork and post_fork twice, when_ready", names)
	}
	if r := rs[0]; r.num("new") != 2 || r["old"] != nil || r.num("server_pid") != master {
		t.Errorf("nworkers_changed at start: %v; want new 2, old None, server.pid %d", r, master)
	}
	if r := rs[1]; r.num("num_workers") != 2 || r.num("cfg_workers") != 2 {
		t.Errorf("on_starting: %v; want num_workers 2 and cfg.workers 2", r)
	}
	pids := s.waitWorkers(2)
	forked := map[int]int{} // age → position of its pre_fork
	for i, r := range rs {
		switch r.str("hook") {
		case "pre_fork":
			forked[r.num("age")] = i
			if r.str("wpid") != "[booting]" || r.num("ppid") != master {
				t.Errorf("pre_fork: %v; want worker.pid [booting] and worker.ppid %d", r, master)
			}
		case "post_fork":
			if at, ok := forked[r.num("age")]; !ok || at > i || !slices.Contains(pids, r.num("pid")) {
				t.Errorf("post_fork %v: not after its pre_fork (%v), or not a worker of %v", r, forked, pids)
			}
		}
		if r.str("hook") != "post_fork" && (r.num("in_pid") != helper || r.num("server_pid") != master || helper == master) {
			t.Errorf("%v: want it run in the hook process %d with server.pid %d", r, helper, master)
		}
	}

	// TTIN: one more; TTOU: the oldest leaves.
	syscall.Kill(master, syscall.SIGTTIN)
	pids = s.waitWorkers(3)
	syscall.Kill(master, syscall.SIGTTOU)
	rs = waitHooks(t, log, 1, hookIs("child_exit", 0))
	n := len(hookNames(rs))
	tail := rs[7:]
	if got := hookNames(tail); !slices.Equal(got, []string{"nworkers_changed", "pre_fork", "post_fork", "nworkers_changed", "child_exit"}) {
		t.Errorf("hooks on TTIN and TTOU: %q", got)
	} else if tail[0].num("new") != 3 || tail[0].num("old") != 2 || tail[3].num("new") != 2 || tail[3].num("old") != 3 ||
		tail[1].num("age") != 3 || !slices.Contains(pids[:2], tail[4].num("wpid")) || tail[4]["alive"] != false {
		t.Errorf("hooks on TTIN and TTOU: %v", tail)
	}

	// HUP: nworkers_changed and on_reload before the new generation's pre_fork.
	syscall.Kill(master, syscall.SIGHUP)
	rs = waitHooks(t, log, 2, func(r hookRecord) bool { return r.str("hook") == "post_fork" && r.num("age") > 3 })
	if got := hookNames(rs[n:]); len(got) < 4 || !slices.Equal(got[:3], []string{"nworkers_changed", "on_reload", "pre_fork"}) {
		t.Errorf("hooks on HUP: %q; want nworkers_changed, on_reload, pre_fork first", got)
	}
	if !s.log.waitFor("Reload complete", 20*time.Second) {
		t.Fatal("no Reload complete")
	}

	syscall.Kill(master, syscall.SIGTERM)
	if code := s.exitCode(20 * time.Second); code != 0 {
		t.Errorf("exit status after TERM = %d; want 0", code)
	}
	rs = readHooks(t, log)
	exits := 0
	for _, r := range rs {
		if r.str("hook") == "child_exit" {
			exits++
		}
	}
	if last := rs[len(rs)-1]; last.str("hook") != "on_exit" || exits != 5 {
		t.Errorf("hooks: %q; want child_exit for each of the 5 workers and on_exit last", hookNames(rs))
	}
	if processGone(helper) != true {
		t.Errorf("the hook process %d outlived the master", helper)
	}
}

// A master-side hook that raises while the server runs is logged with its traceback, as
// one error entry, and the server goes on (gunicorn's arbiter would stop); on_starting that
// raises stops the start with exit status 1, as in gunicorn.
func TestMasterHookRaises(t *testing.T) {
	s, _ := configStart(t, "workers = 2\ndef pre_fork(server, worker):\n    if worker.age == 2:\n        raise OSError('no room for worker 2')\n")
	s.waitWorkers(2)
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid after pre_fork raised = %d; want 200", r.status)
	}
	for _, want := range []string{"[ERROR] Exception in server hook pre_fork", "OSError: no room for worker 2"} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, configHead(t)+"def on_starting(server):\n    raise RuntimeError('not today')\n")
	s = startNoWait(t, "--python", python(t), "-c", conf)
	if code := s.exitCode(30 * time.Second); code != 1 {
		t.Errorf("exit status with on_starting raising = %d; want 1", code)
	}
	if n := s.logCount("RuntimeError: not today"); n != 1 || strings.Contains(s.log.String(), "Booting worker") {
		t.Errorf("want the traceback once and no worker started:\n%s", s.log)
	}

	// when_ready that raises: exit status 1 too, once the workers it saw ready are stopped
	// (the harness checks that none is left).
	writeConfig(t, conf, configHead(t)+"def when_ready(server):\n    raise RuntimeError('not ready')\n")
	s = startNoWait(t, "--python", python(t), "-c", conf)
	if code := s.exitCode(30 * time.Second); code != 1 {
		t.Errorf("exit status with when_ready raising = %d; want 1", code)
	}
	if n := s.logCount("RuntimeError: not ready"); n != 1 || !strings.Contains(s.log.String(), "Booting worker") {
		t.Errorf("want the worker booted and the traceback once:\n%s", s.log)
	}
}

// pre_exec runs in the old master's hook process on USR2, before the new master starts (whose
// own on_starting follows).
func TestMasterHookPreExec(t *testing.T) {
	dir := t.TempDir()
	log, conf := filepath.Join(dir, "hooks.log"), filepath.Join(dir, "gunicorn.conf.py")
	writeConfig(t, conf, hookRecorder(log)+`
def on_starting(server):
    record("on_starting", server_pid=server.pid)
def pre_exec(server):
    record("pre_exec", server_pid=server.pid)
`)
	u := startUpgrade(t, "-c", conf)
	old := u.cmd.Process.Pid
	next := u.usr2(t, 1)
	rs := waitHooks(t, log, 2, hookIs("on_starting", 0))
	got := fmt.Sprint(hookNames(rs), rs[0].num("server_pid"), rs[1].num("server_pid"), rs[2].num("server_pid"))
	if want := fmt.Sprint([]string{"on_starting", "pre_exec", "on_starting"}, old, old, next); got != want {
		t.Errorf("hooks and server.pid: %s; want %s", got, want)
	}
}

// With threads, the hooks run the same: pre_request and post_request in the request's
// thread, worker_abort in the worker's signal thread whichever thread hung (a Python signal
// handler would wait for the main thread, which may be the hung one), then worker_exit.
func TestWorkerHooksThreads(t *testing.T) {
	log := filepath.Join(t.TempDir(), "hooks.log")
	s, _ := configStart(t, hookRecorder(log)+`
import threading
threads = 3
timeout = 1
def pre_request(worker, req):
    record("pre_request", pid=worker.pid, thread=threading.current_thread().name)
def post_request(worker, req, environ, resp):
    record("post_request", pid=worker.pid, thread=threading.current_thread().name, status=resp and resp.status)
def worker_abort(worker):
    record("worker_abort", pid=worker.pid, thread=threading.current_thread().name)
def worker_exit(server, worker):
    record("worker_exit", pid=worker.pid)
`)
	pid := s.waitWorkers(1)[0]
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = s.get("/sleep?s=30").status
		}()
	}
	wg.Wait()
	// The first to time out gets 504; the others 504 as well, or 502 if the worker was
	// killed before their own timeout (docs/architecture.md, "Timeouts and recycling").
	if !slices.Contains(codes, 504) || slices.ContainsFunc(codes, func(c int) bool { return c != 504 && c != 502 }) {
		t.Errorf("three requests past --timeout on three threads: %v; want 504 (or 502)", codes)
	}
	rs := waitHooks(t, log, 1, hookIs("worker_exit", pid))
	if got := hookOrder(rs, pid); !slices.Equal(got[:3], []string{"pre_request", "pre_request", "pre_request"}) ||
		!slices.Contains(got, "worker_abort") || got[len(got)-1] != "worker_exit" {
		t.Errorf("hooks of worker %d: %q; want three pre_request, worker_abort, worker_exit last", pid, got)
	}
	threads := map[string]bool{}
	for _, r := range rs {
		switch r.str("hook") {
		case "pre_request":
			threads[r.str("thread")] = true
		case "worker_abort":
			if r.str("thread") != "gonicorn-signals" {
				t.Errorf("worker_abort ran in %s; want the worker's signal thread", r.str("thread"))
			}
		}
	}
	if len(threads) != 3 {
		t.Errorf("pre_request ran in threads %v; want the three request threads", threads)
	}
}

// TestWorkerHooksWithPreload: with --preload the worker-side hooks run in each worker the
// preloader forks, with that worker's pid and age, after the app was imported (by the
// preloader, once), and the requests go through pre_request and post_request.
func TestWorkerHooksWithPreload(t *testing.T) {
	log := filepath.Join(t.TempDir(), "hooks.log")
	s, _ := configStart(t, hookRecorder(log)+`
import sys
workers = 2
preload_app = True
def post_fork(server, worker):
    record("post_fork", pid=worker.pid, age=worker.age, app_imported="configapp" in sys.modules)
def post_worker_init(worker):
    record("post_worker_init", pid=worker.pid)
def post_request(worker, req, environ, resp):
    record("post_request", pid=worker.pid, path=req.path, code=resp.status_code)
`)
	pids := s.waitWorkers(2)
	ages := map[int]bool{}
	for _, pid := range pids[:2] {
		rs := waitHooks(t, log, 1, hookIs("post_worker_init", pid))
		if got := hookOrder(rs, pid); !slices.Equal(got, []string{"post_fork", "post_worker_init"}) {
			t.Errorf("worker %d's hooks: %q; want post_fork, post_worker_init", pid, got)
		}
		for _, r := range rs {
			if r.num("pid") == pid && r.str("hook") == "post_fork" {
				if r.num("in_pid") != pid || r["app_imported"] != true {
					t.Errorf("post_fork of preloaded worker %d: %v; want it run in the worker, after the preloader's import", pid, r)
				}
				ages[r.num("age")] = true
			}
		}
	}
	if !ages[1] || !ages[2] {
		t.Errorf("post_fork ages %v; want 1 and 2, one per worker", ages)
	}
	r := s.get("/pid")
	var served int
	fmt.Sscan(string(r.body), &served)
	if r.status != 200 || !slices.Contains(pids, served) {
		t.Fatalf("GET /pid = %d %q; want 200 from one of the workers %v", r.status, r.body, pids)
	}
	waitHooks(t, log, 1, func(r hookRecord) bool {
		return r.str("hook") == "post_request" && r.num("pid") == served && r.str("path") == "/pid" && r.num("code") == 200
	})
}
