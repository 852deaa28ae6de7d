package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/rawio"
	"github.com/gonicorn/gonicorn/internal/tlsconf/tlstest"
)

func TestLooksLikeHTTP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"GET /", true}, {"POST ", true}, {"HEAD ", true}, {"OPTIO", true}, {"PRI *", false},
		{"\x16\x03\x01\x02\x00", false}, // a TLS handshake record (RFC 8446 §5.1)
		{"\x80\x2e\x01\x00\x02", false}, // an SSL 2 compatible hello
		{"get /", false}, {"", false},
	} {
		if got := looksLikeHTTP([]byte(c.in)); got != c.want {
			t.Errorf("looksLikeHTTP(%q) = %v; want %v", c.in, got, c.want)
		}
	}
}

// A write under TLS fails only when the client takes nothing for the write timeout, as on a
// plain connection: crypto/tls makes a write timeout permanent, so tlsTransport renews the
// deadline while the reader makes progress. Over net.Pipe (writes through net.Conn) and over
// loopback TCP with small socket buffers (raw writes, package rawio).
func TestTLSTransportWriteStall(t *testing.T) {
	for _, tr := range []struct {
		name string
		pair func(t *testing.T) (w, r net.Conn)
		size int // bytes written: at the slow reader's pace, well past the 100 ms deadline
		step int // bytes the slow reader takes every 20 ms
	}{
		{"net.Pipe", func(*testing.T) (net.Conn, net.Conn) { return net.Pipe() }, 16 << 10, 1 << 10},
		{"TCP", func(t *testing.T) (net.Conn, net.Conn) { return tcpPair(t) }, 512 << 10, 16 << 10},
	} {
		for _, c := range []struct {
			name    string
			reader  func(r net.Conn, step int)
			wantErr bool
		}{
			{"slow but steady", func(r net.Conn, step int) {
				buf := make([]byte, step)
				for {
					time.Sleep(20 * time.Millisecond)
					if _, err := r.Read(buf); err != nil {
						return
					}
				}
			}, false},
			{"stalled", func(r net.Conn, step int) { io.ReadAll(io.LimitReader(r, int64(step))) }, true},
		} {
			a, b := tr.pair(t)
			go c.reader(b, tr.step)
			tt := &tlsTransport{replayConn: replayConn{Conn: a}}
			if tr.name == "TCP" {
				_, tt = wrapTLS(a, nil)
				if tt.raw == nil {
					t.Fatal("the TCP transport has no raw conn")
				}
			}
			tt.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := tt.Write(make([]byte, tr.size))
			if c.wantErr != (err != nil) || err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%s, %s reader: Write = %d, %v; want error %v", tr.name, c.name, n, err, c.wantErr)
			}
			a.Close()
			b.Close()
		}
	}
}

// crypto/tls writes a response as several records, one transport Write each, so a client's
// progress counts across Writes: a Write that waits from its start (the socket is full) is
// not cut at the write deadline when a Write before it got bytes through since the deadline
// was set; the deadline is renewed, and the Write completes once the client reads.
func TestTLSTransportStallAcrossWrites(t *testing.T) {
	const stall = 300 * time.Millisecond
	wc, rc := tcpPair(t)
	_, tr := wrapTLS(wc, nil)
	tr.SetWriteDeadline(time.Now().Add(stall))
	if _, err := tr.Write([]byte("a record")); err != nil {
		t.Fatal(err)
	}
	// The socket is filled behind the transport's back, so the next Write waits from its
	// start. Acknowledgements in flight free some room after the first EAGAIN: it is full
	// when a try after a pause takes nothing.
	raw, _ := wc.SyscallConn()
	filler := rawio.NewConn(raw)
	for pauses := 0; pauses < 2; {
		n, err := filler.TryWrite(make([]byte, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			pauses++
			time.Sleep(60 * time.Millisecond)
		} else {
			pauses = 0
		}
	}
	renewed, stop := make(chan struct{}), make(chan struct{})
	read := make(chan error, 1)
	go func() {
		// The client reads once the deadline was renewed (took was swapped back to false).
		for tr.took.Load() {
			select {
			case <-stop:
				read <- nil
				return
			case <-time.After(time.Millisecond):
			}
		}
		close(renewed)
		rc.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, rc)
		read <- err
	}()
	if n, err := tr.Write(make([]byte, 1024)); err != nil {
		t.Errorf("a Write that waited past the deadline after progress in the Write before = %d, %v; want 1024, nil", n, err)
	} else {
		select {
		case <-renewed:
		default:
			t.Error("the Write did not wait: the socket was not full, the test proves nothing")
		}
	}
	close(stop)
	wc.Close()
	if err := <-read; err != nil {
		t.Errorf("client read: %v", err)
	}
}

// tlsPair returns the two ends of a TLS connection over loopback TCP with small socket
// buffers (tcpPair): the server's, over a tlsTransport as a server makes it (wrapTLS), and
// the client's. The handshake is done.
func tlsPair(t *testing.T, ca *tlstest.CA) (srv *tls.Conn, tr *tlsTransport, cli *tls.Conn) {
	t.Helper()
	wc, rc := tcpPair(t)
	srv, tr = wrapTLS(wc, &tls.Config{Certificates: []tls.Certificate{ca.Server("localhost").TLS}})
	if tr.raw == nil {
		t.Fatal("the transport has no raw conn")
	}
	cli = tls.Client(rc, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	done := make(chan error, 1)
	go func() { done <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	return srv, tr, cli
}

// A block written while nothing is pending goes out inline over TLS as on a plain
// connection: what the socket does not take is owed ciphertext, not a queued copy of the
// block, and the drain sends it before the blocks queued behind it, whatever their path
// (queued in memory, spilled to the file, WriteTwo, a file sent by ReadFrom).
func TestTLSInlineWriteOrder(t *testing.T) {
	defer checkGoroutines(t)()
	ca := tlstest.NewCA(t, "test CA")
	srv, tr, cli := tlsPair(t, ca)
	dir := t.TempDir()
	w := newClientWriter(srv, 256<<10, testStall, dir)
	if w.tls != tr {
		t.Fatal("the clientWriter of a TLS connection does not know its transport")
	}
	want := pattern(3 << 20)
	start := make(chan struct{})
	got := readAfter(cli, start)
	off := 0
	put := func(n int) []byte { b := want[off : off+n]; off += n; return b }

	// The socket is empty: a 200 KiB block is written inline; the socket takes a few tens
	// of KiB, the rest is owed.
	w.Write(put(200 << 10))
	if mem, file := w.spilled(); mem != 0 || file {
		t.Errorf("after an inline write: %d bytes queued in memory, spill file %v; want none", mem, file)
	}
	if w.owed() == 0 || !w.Pending() {
		t.Fatalf("after a 200 KiB write to a client that reads nothing: owed %d, pending %v; want both",
			w.owed(), w.Pending())
	}
	w.Write(put(100))                // queued in memory, behind the owed bytes
	w.WriteTwo(put(50), put(40<<10)) // likewise
	w.Write(put(300 << 10))          // past memCap with what is owed: to the spill file
	if _, file := w.spilled(); !file {
		t.Error("the owed bytes do not count against memCap: nothing was spilled")
	}
	close(start)
	f := writeTempFile(t, want[off:][:1<<20])
	if n, err := w.ReadFrom(f); n != 1<<20 || err != nil {
		t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, 1<<20)
	}
	off += 1 << 20
	w.Write(put(10)) // inline again: nothing is pending after ReadFrom
	if err := w.Wait(); err != nil {
		t.Fatalf("Wait() = %v; want nil", err)
	}
	if w.owed() != 0 || tr.owed != nil {
		t.Errorf("after Wait: %d bytes owed, buffer %d; want none", w.owed(), cap(tr.owed))
	}
	srv.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("client read %d bytes, then: %v", len(r.b), r.err)
	}
	compare(t, "TLS", r.b, want[:off])
	checkNoFiles(t, dir)
}

// A client that reads slowly but steadily gets every byte of a TLS response whose owed
// ciphertext alone takes it several stall timeouts to read; one that reads nothing fails
// the writer after about the stall timeout, the drain ends, and the TLS connection writes
// nothing more (its records would have a gap).
func TestTLSInlineStall(t *testing.T) {
	const stall = 200 * time.Millisecond
	ca := tlstest.NewCA(t, "test CA")
	t.Run("slow reader", func(t *testing.T) {
		defer checkGoroutines(t)()
		srv, _, cli := tlsPair(t, ca)
		w := newClientWriter(srv, 1<<20, stall, t.TempDir())
		want := pattern(768 << 10)
		got := readSlowly(cli, 16<<10, 20*time.Millisecond) // 16 KiB per 20 ms: 1 s in all
		w.Write(want[:512<<10])                             // inline; most of it owed
		w.Write(want[512<<10:])
		if err := w.Wait(); err != nil {
			t.Fatalf("Wait() = %v; want nil", err)
		}
		srv.Close()
		r := <-got
		if r.err != nil {
			t.Fatalf("client read %d bytes, then: %v", len(r.b), r.err)
		}
		compare(t, "slow reader", r.b, want)
	})
	t.Run("never reads", func(t *testing.T) {
		defer checkGoroutines(t)()
		srv, tr, _ := tlsPair(t, ca)
		w := newClientWriter(srv, 1<<20, stall, t.TempDir())
		w.Write(pattern(512 << 10))
		if w.owed() == 0 {
			t.Fatal("nothing owed after a 512 KiB write to a client that reads nothing")
		}
		waitStalled(t, w, stall)
		if _, err := srv.Write([]byte("x")); err == nil {
			t.Error("the TLS connection wrote after owed bytes were lost; want an error")
		}
		if w.owed() != 0 || tr.owed != nil {
			t.Errorf("after the failure: %d bytes owed, buffer %d; want none", w.owed(), cap(tr.owed))
		}
	})
}

// Another writer of the TLS connection (crypto/tls answering a KeyUpdate or sending an
// alert from the read path; x/net under HTTP/2) writes in the blocking mode, and sends the
// ciphertext owed first: whenever it writes, relative to an inline write that left bytes
// owed, the client reads whole records in the order they were sealed (a record out of
// order would fail to decrypt).
func TestTLSInlineConcurrentWriter(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	a, b := pattern(300<<10), []byte("a record of another writer")
	for i := range 100 {
		srv, _, cli := tlsPair(t, ca)
		w := newClientWriter(srv, 1<<20, testStall, t.TempDir())
		other := make(chan error, 1)
		writeOther := func() { _, err := srv.Write(b); other <- err }
		before := i%2 == 0
		if before {
			go writeOther() // races with the inline write
		}
		w.Write(a)
		if !before {
			go writeOther() // while the drain sends what the inline write owes
		}
		cli.SetReadDeadline(time.Now().Add(20 * time.Second))
		got := make([]byte, len(a)+len(b))
		if _, err := io.ReadFull(cli, got); err != nil {
			t.Fatalf("round %d: client read: %v", i, err)
		}
		if err := w.Wait(); err != nil {
			t.Fatalf("round %d: Wait() = %v; want nil", i, err)
		}
		if err := <-other; err != nil {
			t.Fatalf("round %d: the other writer: %v", i, err)
		}
		ab, ba := append(append([]byte(nil), a...), b...), append(append([]byte(nil), b...), a...)
		if !bytes.Equal(got, ab) && (!before || !bytes.Equal(got, ba)) {
			t.Fatalf("round %d (other writer first: %v): the client read the blocks out of order or mixed", i, before)
		}
		srv.Close()
		cli.Close()
	}
}
