package accesslog_test

import (
	"fmt"
	"os"
	"time"

	"github.com/gonicorn/gonicorn/internal/accesslog"
)

func Example() {
	f, err := accesslog.Compile(accesslog.DefaultFormat + ` %(L)s %(p)s`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ua := []byte("curl/8.5.0")
	e := &accesslog.Entry{
		RemoteAddr: "192.0.2.7:51234",
		Method:     []byte("GET"),
		Target:     []byte("/hello?name=x"),
		Proto:      []byte("HTTP/1.1"),
		Status:     200,
		BytesSent:  12,
		Start:      time.Date(2000, time.October, 10, 13, 55, 36, 0, time.FixedZone("", -7*3600)),
		Duration:   1500 * time.Microsecond,
		WorkerPID:  12345,
		RequestHeader: func(name string) []byte {
			if name == "User-Agent" {
				return ua
			}
			return nil
		},
	}
	os.Stdout.Write(f.Append(nil, e))

	_, err = accesslog.Compile(`%(h)s %(x)s`)
	fmt.Println(err)
	// Output:
	// 192.0.2.7 - - [10/Oct/2000:13:55:36 -0700] "GET /hello?name=x HTTP/1.1" 200 12 "-" "curl/8.5.0" 0.001500 <12345>
	// access log format: unknown atom "%(x)s" at offset 6
}
