package main

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/server"
)

// frontDefences sets the server's PROXY protocol, connection limit and client timeouts from
// cfg (validated by package config already).
func frontDefences(sc *server.Config, cfg *config.Config) error {
	mode, err := server.ParseProxyProtocol(cfg.ProxyProtocol)
	if err != nil {
		return fmt.Errorf("--proxy-protocol: %w", err)
	}
	allow, err := proxy.ParseTrust(cfg.ProxyAllowFrom)
	if err != nil {
		return fmt.Errorf("--proxy-allow-from: %w", err)
	}
	sc.ProxyProtocol, sc.ProxyAllow = mode, allow
	sc.MaxConnections = cfg.MaxConnections
	sc.HeaderTimeout, sc.BodyTimeout = cfg.HeaderTimeout, cfg.BodyTimeout
	if cfg.HTTP2() {
		sc.HTTP2 = &server.HTTP2{Cleartext: cfg.HTTP2Cleartext,
			MaxConcurrentStreams: uint32(cfg.HTTP2MaxConcurrentStreams), InitialWindowSize: uint32(cfg.HTTP2InitialWindowSize),
			MaxFrameSize: uint32(cfg.HTTP2MaxFrameSize), MaxHeaderListSize: uint32(cfg.HTTP2MaxHeaderListSize)}
	}
	return trustAndSpool(sc, cfg)
}
