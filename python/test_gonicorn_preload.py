"""Tests for the preloader (gonicorn_preload.py): a fork request over a real
socketpair is answered with the pid of a worker that is this process's child
(this process is made a child subreaper, as the master is during a fork),
and the worker gets the fds and settings of the request.

Run: python3 -m unittest test_gonicorn_preload   (go test ./python/ does it)
"""

import array
import ctypes
import marshal
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gonicorn_preload as preload  # noqa: E402
from gonicorn_wire import HDR, Link  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


class ForkTest(unittest.TestCase):

    def setUp(self):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            self.fail('prctl(PR_SET_CHILD_SUBREAPER): errno %d'
                      % ctypes.get_errno())
        self.addCleanup(libc.prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

    def pair(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def request(self, master_end, fds, multiprocess):
        payload = marshal.dumps({'multiprocess': multiprocess})
        master_end.sendmsg([HDR.pack(len(payload), preload.K), payload],
                           [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                             array.array('i', fds))])

    def test_fork_answers_the_pid_of_a_child_worker(self):
        master_end, ctl = self.pair()
        out_r, out_w = os.pipe()
        slot, worker_slot = self.pair()
        self.request(master_end, [out_w, worker_slot.fileno()], '1')
        master_end.shutdown(socket.SHUT_WR)  # then EOF: the preloader exits
        os.close(out_w)
        worker_slot.close()
        master = os.getpid()
        try:
            job = preload.serve_forks(Link(ctl))
        except SystemExit as e:
            self.assertEqual(e.code, 0)
        else:  # the forked worker: report what it got, as the master's child
            try:
                self.assertNotEqual(job.middle, 0)
                preload.become_worker(job, master, None)
                sys.stdout.write('%d %d %s\n' % (
                    os.getppid(), len(job.fds), job.multiprocess))
                sys.stdout.flush()
                with socket.socket(fileno=job.fds[0]) as s:
                    s.sendall(b'slot')
            finally:
                os._exit(0)
        kind, payload = Link(master_end).next_frame()
        self.assertEqual(kind, preload.P)
        answer = marshal.loads(payload)
        self.assertEqual(answer['error'], '')
        pid, status = os.waitpid(answer['pid'], 0)  # ChildProcessError if not ours
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        with os.fdopen(out_r) as f:
            self.assertEqual(f.read(), '%d 1 True\n' % os.getpid())
        self.assertEqual(slot.recv(10), b'slot')

    def test_bad_frame_exits_2(self):
        master_end, ctl = self.pair()
        master_end.sendall(HDR.pack(0, preload.P))
        with self.assertRaises(SystemExit) as e:
            preload.serve_forks(Link(ctl))
        self.assertEqual(e.exception.code, 2)


if __name__ == '__main__':
    unittest.main()
