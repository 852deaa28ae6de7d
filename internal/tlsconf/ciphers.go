package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// suite is a TLS 1.2 cipher suite crypto/tls offers, with its OpenSSL name and the OpenSSL
// aliases (ECDHE, aRSA, AESGCM, HIGH...) that select it.
type suite struct {
	id      uint16
	openssl string
	tags    []string
}

// suites are the TLS 1.2 suites of tls.CipherSuites() (Go's secure list), in Go's order.
// TLS 1.3 suites are not configurable in crypto/tls: all three are always offered.
func suites() []suite {
	return []suite{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", []string{"kECDHE", "aECDSA", "AESGCM", "AES128", "SHA256", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", []string{"kECDHE", "aRSA", "AESGCM", "AES128", "SHA256", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", []string{"kECDHE", "aECDSA", "AESGCM", "AES256", "SHA384", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", []string{"kECDHE", "aRSA", "AESGCM", "AES256", "SHA384", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", []string{"kECDHE", "aECDSA", "CHACHA20", "SHA256", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", []string{"kECDHE", "aRSA", "CHACHA20", "SHA256", "AEAD", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", []string{"kECDHE", "aECDSA", "AES", "AES128", "SHA1", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", []string{"kECDHE", "aRSA", "AES", "AES128", "SHA1", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", []string{"kECDHE", "aECDSA", "AES", "AES256", "SHA1", "HIGH", "DEFAULT"}},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", []string{"kECDHE", "aRSA", "AES", "AES256", "SHA1", "HIGH", "DEFAULT"}},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", []string{"kRSA", "aRSA", "AESGCM", "AES128", "SHA256", "AEAD", "HIGH"}},
		{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", []string{"kRSA", "aRSA", "AESGCM", "AES256", "SHA384", "AEAD", "HIGH"}},
		{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", []string{"kRSA", "aRSA", "AES", "AES128", "SHA1", "HIGH"}},
		{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", []string{"kRSA", "aRSA", "AES", "AES256", "SHA1", "HIGH"}},
	}
}

// aliases maps OpenSSL's alias names to the tag they select in suites (AESGCM suites are
// AES suites too). The empty tag selects nothing: an alias of suites crypto/tls never
// offers (anonymous, NULL, export, DHE, CAMELLIA...), harmless to name, usually as an
// exclusion ("!aNULL:!MD5").
var aliases = map[string]string{
	"ALL": "*", "COMPLEMENTOFDEFAULT": "kRSA", "HIGH": "HIGH", "DEFAULT": "DEFAULT",
	"ECDHE": "kECDHE", "EECDH": "kECDHE", "kECDHE": "kECDHE", "kEECDH": "kECDHE", "ECDH": "kECDHE",
	"RSA": "kRSA", "kRSA": "kRSA", "aRSA": "aRSA", "ECDSA": "aECDSA", "aECDSA": "aECDSA",
	"AES": "AES", "AESGCM": "AESGCM", "AES128": "AES128", "AES256": "AES256",
	"CHACHA20": "CHACHA20", "SHA1": "SHA1", "SHA": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384",
	"AEAD": "AEAD", "TLSv1.2": "AEAD",
	"aNULL": "", "eNULL": "", "NULL": "", "COMPLEMENTOFALL": "", "ADH": "", "AECDH": "",
	"EXP": "", "EXPORT": "", "EXPORT40": "", "EXPORT56": "", "LOW": "", "MEDIUM": "", "MD5": "",
	"RC4": "", "DES": "", "3DES": "", "IDEA": "", "SEED": "", "CAMELLIA": "", "CAMELLIA128": "",
	"CAMELLIA256": "", "ARIA": "", "ARIA128": "", "ARIA256": "", "PSK": "", "kPSK": "", "aPSK": "",
	"ECDHEPSK": "", "DHEPSK": "", "RSAPSK": "", "kECDHEPSK": "", "kDHEPSK": "", "kRSAPSK": "",
	"SRP": "", "kSRP": "", "aSRP": "", "DSS": "", "aDSS": "", "DH": "", "kDH": "", "DHE": "",
	"EDH": "", "kDHE": "", "kEDH": "", "aDH": "", "kECDH": "", "aECDH": "", "CCM": "", "AESCCM": "",
	"AESCCM8": "", "SUITEB128": "", "SUITEB128ONLY": "", "SUITEB192": "", "GOST": "", "aGOST": "",
	"kGOST": "", "SSLv3": "", "TLSv1": "", "TLSv1.0": "",
}

// tls13Suites are the TLS 1.3 suite names: accepted in a list, as OpenSSL 1.1.1 does, but
// they change nothing, since crypto/tls always offers all three.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// ParseCiphers reads an OpenSSL cipher list (man ciphers(1)) into the TLS 1.2 cipher suites
// it selects among those crypto/tls offers. Elements are separated by ':', ',' or spaces;
// each is a suite name (OpenSSL's or IANA's) or an alias, or several joined with '+' (all of
// them); a leading '!' removes the suites for good, '-' removes them, '+' moves them to the
// end; @STRENGTH and @SECLEVEL=n are ignored. "" means Go's defaults (nil). A name that is
// neither known nor an alias, or a list that selects nothing, is an error naming it.
// crypto/tls chooses the order of the suites itself, so the list's order does not matter.
func ParseCiphers(list string) ([]uint16, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return nil, nil
	}
	all := suites()
	var chosen []int // indexes into all, in order
	killed := make([]bool, len(all))
	for _, elem := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		op := byte(0)
		if strings.ContainsRune("!-+", rune(elem[0])) {
			op, elem = elem[0], elem[1:]
		}
		if strings.HasPrefix(elem, "@") {
			continue // @STRENGTH, @SECLEVEL=n: crypto/tls has its own order and no levels
		}
		match, err := matchElement(all, elem)
		if err != nil {
			return nil, err
		}
		switch op {
		case '!':
			for _, i := range match {
				killed[i] = true
			}
			chosen = slices.DeleteFunc(chosen, func(i int) bool { return killed[i] })
		case '-':
			chosen = slices.DeleteFunc(chosen, func(i int) bool { return slices.Contains(match, i) })
		case '+':
			var moved []int
			chosen = slices.DeleteFunc(chosen, func(i int) bool {
				if slices.Contains(match, i) {
					moved = append(moved, i)
					return true
				}
				return false
			})
			chosen = append(chosen, moved...)
		default:
			for _, i := range match {
				if !killed[i] && !slices.Contains(chosen, i) {
					chosen = append(chosen, i)
				}
			}
		}
	}
	if len(chosen) == 0 {
		names := make([]string, len(all))
		for i, s := range all {
			names[i] = s.openssl
		}
		return nil, fmt.Errorf("selects none of the TLS 1.2 cipher suites crypto/tls offers (%s); TLS 1.3 suites cannot be chosen (all three are always on: use --ssl-version TLSv1_3 for TLS 1.3 only)", strings.Join(names, ":"))
	}
	ids := make([]uint16, len(chosen))
	for k, i := range chosen {
		ids[k] = all[i].id
	}
	return ids, nil
}

// matchElement returns the indexes in all of the suites that elem selects: every term of
// "A+B" must match.
func matchElement(all []suite, elem string) ([]int, error) {
	var match []int
	for k, term := range strings.Split(elem, "+") {
		m, err := matchTerm(all, term)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			match = m
			continue
		}
		match = slices.DeleteFunc(match, func(i int) bool { return !slices.Contains(m, i) })
	}
	return match, nil
}

// matchTerm returns the suites one name or alias selects.
func matchTerm(all []suite, term string) ([]int, error) {
	if term == "" {
		return nil, fmt.Errorf("empty cipher name in the list")
	}
	for i, s := range all {
		if term == s.openssl || term == tls.CipherSuiteName(s.id) {
			return []int{i}, nil
		}
	}
	if slices.Contains(tls13Suites, term) {
		return nil, nil
	}
	for _, s := range tls.InsecureCipherSuites() {
		if term == s.Name || term == insecureOpenSSL[s.Name] {
			return nil, fmt.Errorf("cipher %s is insecure and not offered by crypto/tls", term)
		}
	}
	tag, ok := aliases[term]
	if !ok {
		return nil, fmt.Errorf("unknown cipher or alias %q (crypto/tls offers ECDHE and RSA key exchange with AES-GCM, ChaCha20-Poly1305 and AES-CBC; see docs/tls.md)", term)
	}
	var m []int
	for i, s := range all {
		if tag == "*" || tag != "" && slices.Contains(s.tags, tag) {
			m = append(m, i)
		}
	}
	return m, nil
}

// insecureOpenSSL are the OpenSSL names of crypto/tls's insecure suites, so that naming one
// gets a precise refusal rather than "unknown".
var insecureOpenSSL = map[string]string{
	"TLS_RSA_WITH_RC4_128_SHA":                "RC4-SHA",
	"TLS_RSA_WITH_3DES_EDE_CBC_SHA":           "DES-CBC3-SHA",
	"TLS_RSA_WITH_AES_128_CBC_SHA256":         "AES128-SHA256",
	"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA":        "ECDHE-ECDSA-RC4-SHA",
	"TLS_ECDHE_RSA_WITH_RC4_128_SHA":          "ECDHE-RSA-RC4-SHA",
	"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA":     "ECDHE-RSA-DES-CBC3-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256":   "ECDHE-RSA-AES128-SHA256",
}

// SuiteName is the suite as mod_ssl's SSL_CIPHER names it: OpenSSL's name for TLS 1.2
// suites, the IANA name (which OpenSSL uses too) for TLS 1.3 ones.
func SuiteName(id uint16) string {
	for _, s := range suites() {
		if s.id == id {
			return s.openssl
		}
	}
	return tls.CipherSuiteName(id)
}
