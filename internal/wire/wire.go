// Package wire is the Go side of the master↔worker protocol: frame headers,
// the marshal encoding of the environ, and decoding of the worker's replies.
//
// A frame is a 5-byte header (uint32 little-endian payload length, 1 kind
// byte) followed by the payload. docs/protocol.md is the contract; the
// Python side is python/gonicorn_wire.py.
package wire

import (
	"errors"
	"fmt"
	"sync"
)

// HeaderSize is the size of a frame header: uint32 LE length + kind byte.
const HeaderSize = 5

// MaxPayload is the largest payload the worker sends (a D frame carries at
// most 1 MiB; S, Y and X fit too). A bigger length is a protocol error.
const MaxPayload = 1<<20 + 64

// ErrProtocol is wrapped by the errors that say the worker broke the
// protocol (as opposed to its stream ending): where the stream stands is
// unknown from then on.
var ErrProtocol = errors.New("worker broke the protocol")

// Kind is a frame's kind byte.
type Kind byte

// Frame kinds. Go → Python: Vector, Request, RequestFile, Cancel.
// Python → Go: Ready, Hints, Length, Start, Data, File, End, Error.
const (
	Vector      Kind = 'V' // marshal dict: the known test vector; first frame on a socket
	Request     Kind = 'R' // uint32 LE environ length, marshal environ, body
	RequestFile Kind = 'B' // marshal environ; the body is in an fd sent with it
	Cancel      Kind = 'C' // empty: the client went away
	Ready       Kind = 'Y' // marshal dict {pid, python, ok, error}
	Hints       Kind = 'H' // marshal ("103 Early Hints", [(name, value), ...]) as S: a 103 before S
	Length      Kind = 'L' // uint64 LE: the whole body's length, before S when the worker knows it
	Start       Kind = 'S' // marshal (status, [(name, value), ...])
	Data        Kind = 'D' // body bytes, never empty
	File        Kind = 'F' // uint64 LE offset, int64 LE count; fd attached
	End         Kind = 'E' // empty: the request is complete
	Error       Kind = 'X' // UTF-8 traceback: the application failed
)

// String returns the kind's letter, or its value in hex if not printable.
func (k Kind) String() string {
	if k >= 0x21 && k < 0x7f {
		return string(rune(k))
	}
	return fmt.Sprintf("0x%02x", byte(k))
}

// AppendHeader appends a frame header for a payload of payloadLen bytes.
// payloadLen must fit in a uint32.
func AppendHeader(b []byte, k Kind, payloadLen int) []byte {
	n := uint32(payloadLen)
	return append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24), byte(k))
}

// AppendRequest appends a whole R frame: header, uint32 LE len(environ),
// environ (from AppendDictStart ... AppendDictEnd), then the body.
// 4+len(environ)+len(body) must fit in a uint32; bigger bodies belong in a
// file and a RequestFile frame.
func AppendRequest(b []byte, environ []byte, body []byte) []byte {
	b = AppendHeader(b, Request, 4+len(environ)+len(body))
	n := uint32(len(environ))
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	b = append(b, environ...)
	return append(b, body...)
}

// vectorPairs is the known test vector, in the order Go encodes it. The
// worker holds the identical dict literal (VECTOR in gonicorn_wire.py):
// non-ASCII latin-1 bytes in a short ('z') and a long ('a') string, control
// bytes, a non-ASCII key, an empty key and an empty value.
var vectorPairs = [][2]string{
	{"gonicorn", "wire 1"},
	{"latin1", "\x00\t\r\n\x7f\x80\xa0\xe9\xff"},
	{"long", repeat("\xe9\xff caf\xe9 ", 40)},
	{"\xe9t\xe9", ""},
	{"", "empty key"},
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

var vectorFrame = sync.OnceValue(func() []byte {
	var env []byte
	env = AppendDictStart(env)
	for _, kv := range vectorPairs {
		env = AppendString(env, kv[0])
		env = AppendString(env, kv[1])
	}
	env = AppendDictEnd(env)
	return append(AppendHeader(nil, Vector, len(env)), env...)
})

// VectorFrame returns the V frame, the first frame Go writes on every
// worker socket. The slice is shared: callers must not modify it.
func VectorFrame() []byte { return vectorFrame() }
