package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/tlsconf"
)

// loadTLS reads the certificate, key and CA files of the TLS settings; nil when TLS is off.
func loadTLS(cfg *config.Config) (*tlsconf.Store, error) {
	if !cfg.TLS().Enabled() {
		return nil, nil
	}
	opts, err := tlsconf.Parse(cfg.TLS())
	if err != nil {
		return nil, err // config validated it already
	}
	return tlsconf.Load(opts)
}

// listenerTLS returns, for each listener, the TLS configuration it serves with, or nil for
// plain HTTP. With --certfile every listener speaks TLS except those of binds written
// http://HOST:PORT: matched by position when gonicorn opened the listeners itself (fresh),
// by address for the sockets of systemd and of the old master of a binary upgrade.
func listenerTLS(store *tlsconf.Store, lns []net.Listener, binds []string, fresh bool) []*tls.Config {
	confs := make([]*tls.Config, len(lns))
	if store == nil {
		return confs
	}
	for i, ln := range lns {
		if fresh && i < len(binds) {
			if b, _ := config.ParseBind(binds[i]); b.Scheme != "http" {
				confs[i] = store.TLSConfig()
			}
			continue
		}
		if !plainBind(ln.Addr(), binds) {
			confs[i] = store.TLSConfig()
		}
	}
	return confs
}

// plainBind reports whether addr is the address of a bind written http://HOST:PORT.
func plainBind(addr net.Addr, binds []string) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	for _, s := range binds {
		b, err := config.ParseBind(s)
		if err != nil || b.Scheme != "http" {
			continue
		}
		want, err := net.ResolveTCPAddr("tcp", b.Address)
		if err == nil && want.Port == ta.Port && (want.IP == nil || want.IP.IsUnspecified() && ta.IP.IsUnspecified() || want.IP.Equal(ta.IP)) {
			return true
		}
	}
	return false
}

// reloadTLS re-reads the certificate, key and CA files on HUP. New handshakes use them;
// open connections keep theirs. A file that fails is logged and the ones in use stay.
func reloadTLS(log *slog.Logger, store *tlsconf.Store) {
	if store == nil {
		return
	}
	if err := store.Reload(); err != nil {
		log.Error("reload: TLS certificate not changed: " + err.Error())
		return
	}
	leaf := store.Leaf()
	log.Info(fmt.Sprintf("reload: TLS certificate read: %s, valid until %s", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339)))
}
