package server

import (
	"os"
	"testing"
)

// TestParseLength checks the app's Content-Length syntax: 1*DIGIT (RFC 9110 §8.6), nothing
// else that strconv.ParseInt would take.
func TestParseLength(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int64
		want bool
	}{
		{"0", 0, true},
		{"5", 5, true},
		{"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"", 0, false},
		{"+5", 0, false},                  // a sign: ParseInt takes it, the grammar does not
		{"-5", 0, false},                  // negative
		{" 5", 0, false},                  // whitespace belongs to the field, not the value
		{"5 ", 0, false},                  //
		{"5,5", 0, false},                 // a list (RFC 9110 §8.6 lets a recipient merge equal values; an app must not send one)
		{"0x5", 0, false},                 // not decimal
		{"5.0", 0, false},                 //
		{"9999999999999999999", 0, false}, // beyond int64
	} {
		n, ok := parseLength([]byte(tt.in))
		if ok != tt.want || ok && n != tt.n {
			t.Errorf("parseLength(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.want)
		}
	}
}

// TestFileCount checks the length of an F frame's file: the count when given, else what the
// file holds after the offset, never negative; and an error, not a length, when the file's
// size cannot be read (a chunk size of -1 was once written then).
func TestFileCount(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(make([]byte, 100))
	for _, tt := range []struct{ offset, count, want int64 }{
		{0, -1, 100},
		{40, -1, 60},
		{100, -1, 0},
		{250, -1, 0},
		{0, 7, 7},
		{250, 7, 7}, // the sender finds out the file is short, and cuts the response
	} {
		if got, err := fileCount(f, tt.offset, tt.count); got != tt.want || err != nil {
			t.Errorf("fileCount(offset %d, count %d) = %d, %v; want %d, nil", tt.offset, tt.count, got, err, tt.want)
		}
	}
	closed, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if n, err := fileCount(closed, 0, -1); err == nil {
		t.Errorf("fileCount(a closed file) = %d, nil; want an error", n)
	}
}
