package main

import (
	"fmt"
	"os"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/server"
)

// trustAndSpool sets the forwarded headers believed, the response spool's limit, the write
// timeout and the temp directory from cfg (validated by package config already; run checked
// the temp directory with checkTmpDir).
func trustAndSpool(sc *server.Config, cfg *config.Config) error {
	h, err := proxy.ParseHeaders(cfg.ForwardedAllowHeaders)
	if err != nil {
		return fmt.Errorf("--forwarded-allow-headers: %w", err)
	}
	sc.ForwardedHeaders = h
	sc.MaxResponseSpool = cfg.MaxResponseSpool
	if sc.MaxResponseSpool == 0 {
		sc.MaxResponseSpool = -1 // hold nothing; the server's 0 is its default
	}
	sc.WriteTimeout = cfg.WriteTimeout
	sc.TempDir = cfg.TmpDir
	return nil
}

// checkTmpDir creates and removes a file in dir ("" = the system's temp directory), so that
// a --tmp-dir that is missing or not writable stops gonicorn at start rather than failing the
// first big upload with a 500.
func checkTmpDir(dir string) error {
	f, err := os.CreateTemp(dir, "gonicorn-check-*")
	if err != nil {
		if dir == "" {
			return fmt.Errorf("no temp directory: --tmp-dir is not set and the default %s takes no file: %w", os.TempDir(), err)
		}
		return fmt.Errorf("invalid value %q for --tmp-dir: cannot create a temp file there: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
