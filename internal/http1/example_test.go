package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// A server reads a head by peeking at what its bufio.Reader holds, asking
// ParseHead, and reading more on ErrNeedMore; then it reads the body from
// the same reader. The reader's buffer must be larger than
// Limits.HeaderBlock, so that a limit error comes before the buffer fills.
func Example() {
	conn := strings.NewReader("POST /echo?x=1 HTTP/1.1\r\nHost: example.com\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	br := bufio.NewReaderSize(conn, http1.DefaultHeaderBlock+4096)
	var req http1.Request
	for {
		buf, _ := br.Peek(br.Buffered())
		n, err := http1.ParseHead(buf, nil, &req)
		if err == http1.ErrNeedMore {
			if _, err := br.Peek(len(buf) + 1); err != nil {
				fmt.Println("connection closed mid-head")
				return
			}
			continue
		}
		if err != nil {
			fmt.Println("answer", err.(*http1.Error).Status) // and close
			return
		}
		// Copy what the application needs before reading on: req's slices
		// point into br's buffer.
		fmt.Printf("%s %s path=%s query=%s\n", req.Method, req.Target, req.Path, req.Query)
		br.Discard(n)
		break
	}
	if req.Chunked {
		body, err := io.ReadAll(http1.NewChunkedReader(br, nil))
		fmt.Printf("body=%q err=%v keep-alive=%v\n", body, err, req.KeepAlive)
	}
	// Output:
	// POST /echo?x=1 path=/echo query=x=1
	// body="hello" err=<nil> keep-alive=true
}
