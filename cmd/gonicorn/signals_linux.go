package main

import "syscall"

// stackDumpSignal makes the master ask every worker for a dump of its Python stacks. gunicorn
// uses every common signal but PWR: USR2 is its binary upgrade and WINCH stops workers in
// daemon mode. PWR is what Linux has in place of BSD's SIGINFO (Ctrl-T, "what are you doing?",
// which Puma and Unicorn answer with thread backtraces); on some Linux architectures SIGINFO
// is defined as SIGPWR.
const stackDumpSignal = syscall.SIGPWR
