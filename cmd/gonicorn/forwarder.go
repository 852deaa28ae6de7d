package main

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/server"
)

// sendfileAndForwarder sets how file bodies are sent (--no-sendfile) and the forwarder
// headers a trusted proxy may send (--forwarder-headers) from cfg, which package config
// validated already.
func sendfileAndForwarder(sc *server.Config, cfg *config.Config) error {
	sc.NoSendfile = cfg.NoSendfile
	f, err := proxy.ParseForwarder(cfg.ForwarderHeaders)
	if err != nil {
		return fmt.Errorf("--forwarder-headers: %w", err)
	}
	sc.Forwarder = f
	return nil
}
