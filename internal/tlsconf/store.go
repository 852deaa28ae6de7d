package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// NextProtos are the ALPN protocols offered (RFC 7301), in order of preference: with h2,
// HTTP/2 before HTTP/1.1 (RFC 9113 §3.2), as browsers and curl expect.
func NextProtos(h2 bool) []string {
	if h2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// Store holds the certificate, key and client CA pool in use, read from the files of its
// Options, and gives the server a *tls.Config that always uses the latest ones read:
// Reload (on SIGHUP) reads the files again and swaps them in atomically, so handshakes from
// then on use the new certificate while open connections keep theirs. A Store is safe for
// concurrent use.
type Store struct {
	opts Options
	base *tls.Config                // what tls.Server gets; its GetConfigForClient returns cur
	cur  atomic.Pointer[tls.Config] // the configuration of new handshakes; never nil after Load
}

// Load reads the certificate, key and CA files of opts and returns a Store serving them.
// Errors name the file and what is wrong with it.
func Load(opts Options) (*Store, error) {
	s := &Store{opts: opts}
	cfg, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur.Store(cfg)
	s.base = &tls.Config{
		// Session resumption: crypto/tls issues session tickets (TLS 1.2 and 1.3) with
		// keys it generates at start and rotates itself (a new key every 24 hours, each
		// accepted for 7 days). The per-handshake configurations below share these keys,
		// because they do not set their own, so a reload keeps resumption working.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.cur.Load(), nil },
		MinVersion:         opts.MinVersion,
		NextProtos:         NextProtos(opts.HTTP2),
	}
	return s, nil
}

// TLSConfig returns the configuration to give tls.Server for every connection.
func (s *Store) TLSConfig() *tls.Config { return s.base }

// Reload reads the files again and, if they are valid, makes them the ones new handshakes
// use; on an error the ones in use stay, and the error says which file is wrong.
func (s *Store) Reload() error {
	cfg, err := s.read()
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

// Leaf returns the certificate new handshakes present (for logs and tests).
func (s *Store) Leaf() *x509.Certificate {
	return s.cur.Load().Certificates[0].Leaf
}

// read builds the per-handshake configuration from the files.
func (s *Store) read() (*tls.Config, error) {
	o := s.opts
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--certfile %s / --keyfile %s: %w", o.CertFile, o.KeyFile, explainPEM(err))
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   o.MinVersion,
		CipherSuites: o.CipherSuites,
		ClientAuth:   o.ClientAuth,
		NextProtos:   NextProtos(o.HTTP2),
	}
	if o.CACerts != "" {
		pool, err := readCAs(o.CACerts)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

// readCAs reads a PEM file of CA certificates.
func readCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-certs %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-certs %s: no PEM certificate in the file", path)
	}
	return pool, nil
}

// explainPEM adds a hint to crypto/tls's terse errors about PEM files.
func explainPEM(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%w (want PEM: the certificate chain, leaf first, and its private key)", err)
}
