// Package tlsconf turns gunicorn's TLS settings (--certfile, --keyfile, --ca-certs,
// --cert-reqs, --ssl-version, --ciphers) into a crypto/tls server configuration, holds the
// certificate, key and client CA pool in use, swaps them on Reload (SIGHUP) without touching
// open connections, and describes a finished handshake as the CGI/mod_ssl environ variables
// (HTTPS, SSL_PROTOCOL, SSL_CLIENT_*). It knows nothing of HTTP or of the server: package
// server does the handshake, cmd/gonicorn decides which listeners speak TLS. See docs/tls.md.
package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
)

// Settings are the TLS settings as the user gave them (flags or config file), unparsed.
type Settings struct {
	CertFile string // --certfile: PEM certificate chain, leaf first; "" = no TLS
	KeyFile  string // --keyfile: PEM private key; "" = the key is in CertFile
	CACerts  string // --ca-certs: PEM CA certificates that client certificates must chain to
	CertReqs string // --cert-reqs: 0 none, 1 optional, 2 required (or CERT_NONE...)
	Version  string // --ssl-version: the lowest protocol version offered
	Ciphers  string // --ciphers: an OpenSSL cipher list for TLS 1.2; "" = Go's defaults
	HTTP2    bool   // --http-protocols has h2: ALPN offers it
}

// Enabled reports whether the settings ask for TLS at all.
func (s Settings) Enabled() bool { return s.CertFile != "" || s.KeyFile != "" }

// Options are validated Settings. The zero value is not useful; get one from Parse.
type Options struct {
	CertFile, KeyFile, CACerts string
	ClientAuth                 tls.ClientAuthType
	MinVersion                 uint16   // tls.VersionTLS12 or tls.VersionTLS13
	CipherSuites               []uint16 // TLS 1.2 suites; nil = Go's defaults
	HTTP2                      bool     // offer h2 by ALPN
}

// Parse validates s without reading any file. Errors name the flag and the value.
func Parse(s Settings) (Options, error) {
	o := Options{CertFile: s.CertFile, KeyFile: s.KeyFile, CACerts: s.CACerts, HTTP2: s.HTTP2}
	if s.CertFile == "" && s.KeyFile != "" {
		return o, fmt.Errorf("invalid value %q for --keyfile: needs --certfile", s.KeyFile)
	}
	if o.KeyFile == "" {
		o.KeyFile = o.CertFile // gunicorn (Python's load_cert_chain): the key may be in the certificate's file
	}
	var err error
	if o.ClientAuth, err = ParseCertReqs(s.CertReqs); err != nil {
		return o, fmt.Errorf("invalid value %q for --cert-reqs: %v", s.CertReqs, err)
	}
	if o.ClientAuth != tls.NoClientCert && s.CACerts == "" && s.CertFile != "" {
		return o, fmt.Errorf("invalid value %q for --cert-reqs: client certificates need --ca-certs (the CAs they must chain to)", s.CertReqs)
	}
	if o.MinVersion, err = ParseVersion(s.Version); err != nil {
		return o, fmt.Errorf("invalid value %q for --ssl-version: %v", s.Version, err)
	}
	if o.CipherSuites, err = ParseCiphers(s.Ciphers); err != nil {
		return o, fmt.Errorf("invalid value %q for --ciphers: %v", s.Ciphers, err)
	}
	return o, nil
}

// ParseCertReqs maps --cert-reqs to Go's client authentication: Python's ssl.CERT_NONE (0)
// asks for no certificate; CERT_OPTIONAL (1) asks for one and verifies it if given;
// CERT_REQUIRED (2) fails the handshake without a valid one.
func ParseCertReqs(s string) (tls.ClientAuthType, error) {
	switch strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(s), "ssl.")) {
	case "", "0", "CERT_NONE", "NONE":
		return tls.NoClientCert, nil
	case "1", "CERT_OPTIONAL", "OPTIONAL":
		return tls.VerifyClientCertIfGiven, nil
	case "2", "CERT_REQUIRED", "REQUIRED":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("want 0 (no client certificate), 1 (optional) or 2 (required)")
}

// ParseVersion maps --ssl-version to the lowest TLS version offered. TLS 1.2 is the default
// and the floor; TLS 1.3 may be required. gunicorn's names (Python's ssl.PROTOCOL_*
// constants, by name or number) are understood: those that mean "negotiate the highest"
// (TLS, SSLv23, TLS_SERVER) are the default; those naming a version below TLS 1.2 are
// refused, since RFC 8996 deprecates TLS 1.0 and 1.1 and crypto/tls offers no SSL.
func ParseVersion(s string) (uint16, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, "SSL.")
	v = strings.TrimPrefix(v, "PROTOCOL_")
	v = strings.ReplaceAll(v, ".", "_") // TLSv1.2 as TLSv1_2
	switch v {
	case "", "TLS", "SSLV23", "TLS_SERVER", "2", "17", "TLSV1_2", "1_2", "5":
		return tls.VersionTLS12, nil
	case "TLSV1_3", "1_3":
		return tls.VersionTLS13, nil
	case "TLSV1", "TLSV1_0", "1_0", "3", "TLSV1_1", "1_1", "4":
		return 0, fmt.Errorf("TLS 1.0 and 1.1 are not offered (deprecated by RFC 8996); want TLSv1_2 (the default) or TLSv1_3")
	case "SSLV2", "SSLV3", "0", "1":
		return 0, fmt.Errorf("SSL 2 and 3 are not offered; want TLSv1_2 (the default) or TLSv1_3")
	case "TLS_CLIENT", "16":
		return 0, fmt.Errorf("a client-side protocol; want TLSv1_2 (the default) or TLSv1_3")
	}
	return 0, fmt.Errorf("want TLSv1_2 (the default) or TLSv1_3 (gunicorn's TLS, SSLv23 and TLS_SERVER mean TLSv1_2)")
}

// VersionName is the version as mod_ssl's SSL_PROTOCOL names it: "TLSv1.2", "TLSv1.3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}
