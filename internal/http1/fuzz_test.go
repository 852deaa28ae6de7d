package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"unsafe"
)

// within reports whether s lies inside buf's memory (an empty s always does).
func within(buf, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	s0 := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return s0 >= b0 && s0+uintptr(len(s)) <= b0+uintptr(len(buf))
}

func FuzzParseHead(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.Raw)
	}
	f.Add([]byte("GET http://u@[::1]:80/p?q#f HTTP/1.1\r\nHost: [::1]\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
	f.Add([]byte("CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n"))
	// RFC 9112 §6.3 and §3.2: framing and Host rules (TestParseHeadFraming).
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHo_st: h\r\n\r\n"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		lim := &Limits{RequestLine: 200, Fields: 10, FieldSize: 100, HeaderBlock: 1000}
		var req Request
		n, err := ParseHead(buf, lim, &req)
		if n < 0 || n > len(buf) {
			t.Fatalf("ParseHead = %d for %d bytes", n, len(buf))
		}
		if err != nil {
			var he *Error
			if n != 0 || err != ErrNeedMore && !errors.As(err, &he) {
				t.Fatalf("ParseHead = %d, %v (%T)", n, err, err)
			}
			if he != nil && (he.Status < 400 || he.Status > 505 || len(he.Reason) == 0) {
				t.Fatalf("ParseHead error %+v", he)
			}
			return
		}
		if n > lim.HeaderBlock || n < len("GET / HTTP/1.1\r\n\r\n") || string(buf[n-4:n]) != "\r\n\r\n" {
			t.Fatalf("ParseHead = %d; not a plausible head end", n)
		}
		head := buf[:n]
		for _, s := range [][]byte{req.Method, req.Target} {
			if len(s) == 0 || !within(head, s) {
				t.Fatalf("Method/Target %q not inside the head", s)
			}
		}
		for _, s := range [][]byte{req.Path, req.Query, req.Fragment} {
			if !within(req.Target, s) {
				t.Fatalf("Path/Query/Fragment %q not inside Target %q", s, req.Target)
			}
		}
		if len(req.Headers) > lim.Fields {
			t.Fatalf("%d headers over the limit", len(req.Headers))
		}
		for _, h := range req.Headers {
			if !within(head, h.Name) || !within(head, h.Value) {
				t.Fatalf("header %q: %q not inside the head", h.Name, h.Value)
			}
			if !ValidFieldName(h.Name) || bytes.IndexByte(h.Name, '_') >= 0 || !ValidFieldValue(h.Value) {
				t.Fatalf("invalid header %q: %q accepted", h.Name, h.Value)
			}
		}
		if req.Major != 1 || req.Minor > 1 {
			t.Fatalf("version %d.%d accepted", req.Major, req.Minor)
		}
		if req.Chunked && req.ContentLength != -1 {
			t.Fatalf("both chunked and Content-Length %d", req.ContentLength)
		}
		// RFC 9112 §6.3: with any Transfer-Encoding the body is chunked, never framed by
		// Content-Length; RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
		hosts := 0
		for _, h := range req.Headers {
			switch {
			case equalFold(h.Name, "transfer-encoding") && (!req.Chunked || req.Minor == 0):
				t.Fatalf("Transfer-Encoding %q accepted with Chunked %v in HTTP/1.%d", h.Value, req.Chunked, req.Minor)
			case equalFold(h.Name, "host"):
				hosts++
			}
		}
		if hosts > 1 || req.Minor == 1 && hosts == 0 {
			t.Fatalf("HTTP/1.%d request with %d Host fields accepted", req.Minor, hosts)
		}
		// The head alone parses the same: nothing after it matters.
		var req2 Request
		if n2, err2 := ParseHead(head, lim, &req2); n2 != n || err2 != nil {
			t.Fatalf("ParseHead(head) = %d, %v; want %d, nil", n2, err2, n)
		}
		// Any proper prefix of the head is incomplete or already an error,
		// never a different request.
		if n2, _ := ParseHead(head[:n-1], lim, &req2); n2 != 0 {
			t.Fatalf("ParseHead(head[:%d]) = %d", n-1, n2)
		}
	})
}

func FuzzChunked(f *testing.F) {
	for _, c := range loadCorpus(f) {
		var req Request
		n, err := ParseHead(c.Raw, nil, &req)
		if err == errNoHost {
			n, err = parseWithHost(c.Raw, nil, &req) // the chunked bodies of the corpus all count
		}
		if err == nil && req.Chunked {
			f.Add(c.Raw[n:])
		}
	}
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=\"b\\\"c\"\r\nhello\r\n0\r\nX: y\r\n\r\n",
		"ffffffffffffffffff\r\n",
		"7fffffffffffffff\r\nx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := &Limits{Fields: 5, FieldSize: 64, HeaderBlock: 200}
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		cr := NewChunkedReader(br, lim)
		var body []byte
		p := make([]byte, 7)
		var err error
		for zero := 0; ; {
			var n int
			n, err = cr.Read(p)
			if n < 0 || n > len(p) {
				t.Fatalf("Read = %d", n)
			}
			// io.Reader: (0, nil) is allowed but must not go on; a decoder that makes no
			// progress would hang the connection's goroutine.
			if zero++; n > 0 {
				zero = 0
			} else if zero > 100 && err == nil {
				t.Fatalf("Read returned 0, nil %d times in a row after %d body bytes", zero, len(body))
			}
			body = append(body, p[:n]...)
			if len(body) > len(in) {
				t.Fatalf("decoded %d bytes from %d", len(body), len(in))
			}
			if err != nil {
				break
			}
		}
		var he *Error
		if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &he) {
			t.Fatalf("Read error %v (%T)", err, err)
		}
		if err == io.EOF {
			// The consumed input ends in CRLF (of the trailer section).
			rest, _ := io.ReadAll(br)
			used := in[:len(in)-len(rest)]
			if !bytes.HasSuffix(used, []byte("\r\n")) {
				t.Fatalf("EOF after %q", used)
			}
		}
	})
}

func BenchmarkParseHead(b *testing.B) {
	// A typical browser navigation request.
	head := []byte("GET /search?q=gonicorn&lang=en HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Referer: https://www.example.com/\r\n" +
		"Connection: keep-alive\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"\r\n")
	var req Request
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHead(head, nil, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedReader(b *testing.B) {
	body := bytes.Repeat([]byte("1000\r\n"+string(bytes.Repeat([]byte("x"), 0x1000))+"\r\n"), 16)
	body = append(body, "0\r\n\r\n"...)
	rd := bytes.NewReader(body)
	br := bufio.NewReader(rd)
	var cr ChunkedReader
	p := make([]byte, 32<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		br.Reset(rd)
		cr.Reset(br, nil)
		for {
			if _, err := cr.Read(p); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
