package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"strconv"
	"strings"
	"time"
)

// Environ returns the CGI variables that describe a TLS connection, in mod_ssl's names (which
// nginx's uwsgi_param/fastcgi_param setups and Django/Flask client-certificate packages read),
// for a finished handshake. They are the same for every request on the connection.
//
//	HTTPS                 "on"
//	SSL_PROTOCOL          TLSv1.2, TLSv1.3
//	SSL_CIPHER            the suite, OpenSSL's name (ECDHE-RSA-AES128-GCM-SHA256, TLS_AES_128_GCM_SHA256)
//	SSL_SESSION_RESUMED   "Initial" or "Resumed"
//	SSL_TLS_SNI           the server name the client asked for, if it sent one
//	SSL_CLIENT_VERIFY     "NONE" (no client certificate) or "SUCCESS" (verified against --ca-certs;
//	                      a certificate that fails verification fails the handshake)
//
// and with a client certificate:
//
//	SSL_CLIENT_S_DN, SSL_CLIENT_I_DN        subject and issuer DN, RFC 4514 (CN=x,O=y)
//	SSL_CLIENT_S_DN_CN, _O, _OU, _C, _ST, _L, _Email   components of the subject (the first of each)
//	SSL_CLIENT_I_DN_CN, _O, _OU, _C                    components of the issuer
//	SSL_CLIENT_M_SERIAL   serial number, upper-case hex
//	SSL_CLIENT_M_VERSION  X.509 version (3)
//	SSL_CLIENT_V_START, SSL_CLIENT_V_END   validity, as OpenSSL prints it (Jan  2 15:04:05 2026 GMT)
//	SSL_CLIENT_V_REMAIN   whole days until it expires
//	SSL_CLIENT_SAN_DNS_n, SSL_CLIENT_SAN_Email_n   subject alternative names, from 0
//	SSL_CLIENT_CERT       the certificate, PEM
//	SSL_CLIENT_CERT_CHAIN_n  the intermediate certificates the client sent, PEM, from 0
func Environ(st *tls.ConnectionState, now time.Time) [][2]string {
	env := [][2]string{
		{"HTTPS", "on"},
		{"SSL_PROTOCOL", VersionName(st.Version)},
		{"SSL_CIPHER", SuiteName(st.CipherSuite)},
		{"SSL_SESSION_RESUMED", "Initial"},
	}
	if st.DidResume {
		env[3][1] = "Resumed"
	}
	if st.ServerName != "" {
		env = append(env, [2]string{"SSL_TLS_SNI", st.ServerName})
	}
	if len(st.PeerCertificates) == 0 {
		return append(env, [2]string{"SSL_CLIENT_VERIFY", "NONE"})
	}
	c := st.PeerCertificates[0]
	env = append(env,
		[2]string{"SSL_CLIENT_VERIFY", "SUCCESS"},
		[2]string{"SSL_CLIENT_S_DN", c.Subject.String()},
		[2]string{"SSL_CLIENT_I_DN", c.Issuer.String()})
	env = appendDN(env, "SSL_CLIENT_S_DN_", c.Subject, true)
	env = appendDN(env, "SSL_CLIENT_I_DN_", c.Issuer, false)
	env = append(env,
		[2]string{"SSL_CLIENT_M_SERIAL", strings.ToUpper(c.SerialNumber.Text(16))},
		[2]string{"SSL_CLIENT_M_VERSION", strconv.Itoa(c.Version)},
		[2]string{"SSL_CLIENT_V_START", opensslTime(c.NotBefore)},
		[2]string{"SSL_CLIENT_V_END", opensslTime(c.NotAfter)},
		[2]string{"SSL_CLIENT_V_REMAIN", strconv.Itoa(max(int(c.NotAfter.Sub(now).Hours()/24), 0))})
	for i, d := range c.DNSNames {
		env = append(env, [2]string{"SSL_CLIENT_SAN_DNS_" + strconv.Itoa(i), d})
	}
	for i, e := range c.EmailAddresses {
		env = append(env, [2]string{"SSL_CLIENT_SAN_Email_" + strconv.Itoa(i), e})
	}
	env = append(env, [2]string{"SSL_CLIENT_CERT", pemOf(c)})
	for i, ic := range st.PeerCertificates[1:] {
		env = append(env, [2]string{"SSL_CLIENT_CERT_CHAIN_" + strconv.Itoa(i), pemOf(ic)})
	}
	return env
}

// oidEmail is PKCS #9's emailAddress attribute, which mod_ssl calls _Email.
var oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// appendDN adds the first value of each usual attribute of n, as prefix+CN and so on.
func appendDN(env [][2]string, prefix string, n pkix.Name, subject bool) [][2]string {
	add := func(suffix string, vals []string) {
		if len(vals) > 0 {
			env = append(env, [2]string{prefix + suffix, vals[0]})
		}
	}
	if n.CommonName != "" {
		add("CN", []string{n.CommonName})
	}
	add("O", n.Organization)
	add("OU", n.OrganizationalUnit)
	add("C", n.Country)
	if subject {
		add("ST", n.Province)
		add("L", n.Locality)
		for _, a := range n.Names {
			if a.Type.Equal(oidEmail) {
				if s, ok := a.Value.(string); ok {
					add("Email", []string{s})
					break
				}
			}
		}
	}
	return env
}

// opensslTime formats t as OpenSSL's ASN1_TIME_print, which mod_ssl's SSL_CLIENT_V_* use.
func opensslTime(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}
