package accesslog

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// JSONFormat is the --access-logformat value that selects JSON lines instead of gunicorn's
// atoms: one object per request, for log pipelines (Loki, Elasticsearch, CloudWatch, jq)
// that would otherwise parse the Apache format with a regular expression. A format of
// exactly "json" would print the word "json" in gunicorn, which no one wants.
const JSONFormat = "json"

// jsonTimeLayout is the "time" field: RFC 3339 with milliseconds, in UTC.
const jsonTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// appendJSON appends e as one JSON object and a newline. The fields, in this order:
//
//	time                 string  when the request's first byte arrived, RFC 3339 in UTC with ms
//	remote_addr          string  the client (REMOTE_ADDR: a trusted proxy's client, else the peer)
//	method, path, query, protocol  string  the request line; path as received (percent-encoded),
//	                     query without its '?'
//	status               number  the response status; null if none was sent
//	body_bytes_sent      number  response body bytes written to the client; null if unknown
//	body_bytes_received  number  request body bytes read (after de-chunking)
//	referer, user_agent  string  the request headers ("" when absent)
//	duration_seconds     number  first byte of the request to the end of the response
//	queue_seconds        number  request read (ready for a worker) to a worker starting on it;
//	                     null when it never reached a worker
//	app_seconds          number  worker start to the worker's end of the response; null likewise
//	pid                  number  the worker's pid; null when no worker was involved
//	request_id           string  the request id (see the server's X-Request-ID); "" when off
//
// It is written by hand, without reflection or maps, because it runs once per request:
// like Append, it allocates only to grow b.
func appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":`...)
	if e.Start.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = e.Start.UTC().AppendFormat(b, jsonTimeLayout)
		b = append(b, '"')
	}
	b = append(b, `,"remote_addr":`...)
	b = appendJSONString(b, hostOnly(e.RemoteAddr))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	b = append(b, `,"query":`...)
	b = appendJSONString(b, e.Query)
	b = append(b, `,"protocol":`...)
	b = appendJSONString(b, e.Proto)
	b = append(b, `,"status":`...)
	b = appendJSONCount(b, int64(e.Status), e.Status > 0)
	b = append(b, `,"body_bytes_sent":`...)
	b = appendJSONCount(b, e.BytesSent, e.BytesSent >= 0)
	b = append(b, `,"body_bytes_received":`...)
	b = appendJSONCount(b, max(e.BodyBytes, 0), true)
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, header(e.RequestHeader, "Referer"))
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, header(e.RequestHeader, "User-Agent"))
	b = append(b, `,"duration_seconds":`...)
	b = appendJSONSeconds(b, max(e.Duration, 0))
	b = append(b, `,"queue_seconds":`...)
	b = appendJSONSeconds(b, e.QueueTime)
	b = append(b, `,"app_seconds":`...)
	b = appendJSONSeconds(b, e.AppTime)
	b = append(b, `,"pid":`...)
	b = appendJSONCount(b, int64(e.WorkerPID), e.WorkerPID > 0)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.RequestID)
	return append(b, "}\n"...)
}

// appendJSONCount appends n, or null when it is not known.
func appendJSONCount(b []byte, n int64, known bool) []byte {
	if !known {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, n, 10)
}

// appendJSONSeconds appends d in seconds with microsecond resolution (0.001500), or null
// for a negative d, which means "did not happen".
func appendJSONSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "null"...)
	}
	us := int64(d / time.Microsecond)
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	return appendPadded(b, us%1e6, 6)
}

// appendJSONString appends s as a JSON string (RFC 8259 §7) that keeps the line one line of
// text a terminal shows as it is:
//
//   - '"' is \", control characters are \n, \r, \t or \u00XX, and DEL and the valid runes
//     that are not printable (C1 controls, U+2028, the bidi overrides of CVE-2021-42574)
//     are \uXXXX: a JSON parser gets them back exactly;
//   - bytes that are not valid UTF-8 cannot be carried by a JSON string; each becomes the
//     four characters \xHH (JSON "\\xHH"), as in the text log. So that this stays
//     unambiguous, a backslash in the value becomes \x5c too;
//   - printable UTF-8 passes through.
//
// encoding/json would write U+FFFD for an invalid byte, losing what the client sent.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		j := plainEnd(s, i)
		b = append(b, s[i:j]...)
		if j == len(s) {
			break
		}
		i = j
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
			i++
		case c == '\\':
			b = append(b, `\\x5c`...)
			i++
		case c == '\n':
			b = append(b, '\\', 'n')
			i++
		case c == '\r':
			b = append(b, '\\', 'r')
			i++
		case c == '\t':
			b = append(b, '\\', 't')
			i++
		case c < utf8.RuneSelf: // the other controls and DEL
			b = appendUnicodeEscape(b, rune(c))
			i++
		default:
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			switch {
			case r == utf8.RuneError && size <= 1:
				b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
				i++
			case unicode.IsPrint(r):
				b = append(b, s[i:i+size]...)
				i += size
			default:
				b = appendUnicodeEscape(b, r)
				i += size
			}
		}
	}
	return append(b, '"')
}

// appendUnicodeEscape appends r, a rune of the Basic Multilingual Plane or else a pair of
// surrogates (RFC 8259 §7), as \uXXXX escapes.
func appendUnicodeEscape(b []byte, r rune) []byte {
	if r > 0xffff {
		r -= 0x10000
		b = appendUnicodeEscape(b, 0xd800+(r>>10))
		return appendUnicodeEscape(b, 0xdc00+(r&0x3ff))
	}
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
