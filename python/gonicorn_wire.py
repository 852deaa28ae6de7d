"""gonicorn worker, the wire: frames over one socket to the master.

Its job: the frame format of docs/protocol.md and nothing about WSGI. Link
reads frames (with the fds that ride on them, SCM_RIGHTS) and sends lists of
buffers in as few sendmsg calls as possible; data_frames and error_frame
build D and X frames within the master's size limit; handshake answers the
master's V frame with Y after checking that this Python's marshal decodes the
known test vector as the master encoded it.

Used by gonicorn_response (the response of one request) and gonicorn_worker
(the serving loop). Standard library only.
"""

import array
import marshal
import os
import socket
import struct
import sys

# Frame header: uint32 LE payload length, 1 byte kind.
HDR = struct.Struct('<IB')
HDR_SIZE = HDR.size
U32 = struct.Struct('<I')
FILE_ARGS = struct.Struct('<Qq')  # F payload: offset, count (-1 = to EOF)

# Frame kinds, as ints (indexing bytes gives ints).
V, R, B, C = b'V'[0], b'R'[0], b'B'[0], b'C'[0]
Y, S, D, F, E, X = b'Y'[0], b'S'[0], b'D'[0], b'F'[0], b'E'[0], b'X'[0]
L, H = b'L'[0], b'H'[0]
U64 = struct.Struct('<Q')

E_FRAME = HDR.pack(0, E)
C_FRAME = HDR.pack(0, C)

DATA_CHUNK = 1 << 20        # largest D payload we send
MAX_PAYLOAD = (1 << 20) + 64  # largest frame the master accepts from us
RECV_SIZE = 1 << 16         # bytes per ordinary recv
ANC_SIZE = socket.CMSG_SPACE(8 * array.array('i').itemsize)
RECV_FLAGS = getattr(socket, 'MSG_CMSG_CLOEXEC', 0)
IOV_MAX = 512               # buffers per sendmsg (Linux allows 1024)

# The known test vector (docs/protocol.md, "The vector frame"). The master
# sends the same dict, marshal-encoded with z/a strings; if this Python
# decodes it differently, latin-1 environ strings would be corrupted.
VECTOR = {
    'gonicorn': 'wire 1',
    'latin1': '\x00\t\r\n\x7f\x80\xa0\xe9\xff',
    'long': '\xe9\xff caf\xe9 ' * 40,
    '\xe9t\xe9': '',
    '': 'empty key',
}


class ProtocolError(Exception):
    """The master sent something this worker does not understand."""


class LinkBroken(BaseException):
    """The socket to the master failed; this thread must end.

    A BaseException so that an application's `except Exception` around
    write() cannot swallow it."""


# ---------------------------------------------------------------- the link

class Link:
    """One socket to the master: buffered frame reads, queued fds, sends."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''     # received bytes; buf[pos:] not yet consumed
        self.pos = 0
        self.fds = []      # fds received with SCM_RIGHTS, in order
        self.eof = False

    def _recv(self, size, flags=0):
        """One recvmsg; returns the data (b'' at EOF) and queues fds."""
        try:
            data, anc, mflags, _ = self.sock.recvmsg(size, ANC_SIZE,
                                                     RECV_FLAGS | flags)
        except BlockingIOError:
            raise
        except OSError:
            raise LinkBroken
        self._take_anc(anc, mflags)
        if not data:
            self.eof = True
        return data

    def _recv_into(self, mv):
        try:
            n, anc, mflags, _ = self.sock.recvmsg_into([mv], ANC_SIZE,
                                                       RECV_FLAGS)
        except OSError:
            raise LinkBroken
        self._take_anc(anc, mflags)
        if n == 0:
            self.eof = True
        return n

    def _take_anc(self, anc, mflags):
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds = array.array('i')
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                self.fds.extend(fds)
        if mflags & socket.MSG_CTRUNC:
            raise ProtocolError('file descriptors were truncated (MSG_CTRUNC)')

    def _append(self, data):
        if self.pos == len(self.buf):
            self.buf = data
        else:
            self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def next_frame(self):
        """Returns (kind, payload memoryview) or None at EOF."""
        while True:
            avail = len(self.buf) - self.pos
            if avail >= HDR_SIZE:
                n, kind = HDR.unpack_from(self.buf, self.pos)
                end = self.pos + HDR_SIZE + n
                if end <= len(self.buf):
                    payload = memoryview(self.buf)[self.pos + HDR_SIZE:end]
                    self.pos = end
                    return kind, payload
                if HDR_SIZE + n > RECV_SIZE:
                    return kind, self._read_big(HDR_SIZE + n)
            if self.eof:
                if avail:
                    raise ProtocolError('EOF inside a frame')
                return None
            self._append(self._recv(RECV_SIZE))

    def _read_big(self, total):
        """Reads a frame larger than RECV_SIZE into its own buffer, exactly,
        so no bytes of the next frame are read (no quadratic copying)."""
        have = len(self.buf) - self.pos
        big = bytearray(total)
        big[:have] = memoryview(self.buf)[self.pos:]
        self.buf, self.pos = b'', 0
        mv = memoryview(big)
        while have < total:
            n = self._recv_into(mv[have:])
            if n == 0:
                raise ProtocolError('EOF inside a frame')
            have += n
        return mv[HDR_SIZE:]

    def take_fd(self):
        if not self.fds:
            raise ProtocolError('B frame without a file descriptor')
        return self.fds.pop(0)

    def cancelled(self):
        """Reports whether the master cancelled the current request: a C
        frame is next in the stream, or the socket reached EOF. Never blocks.
        A pipelined request frame, if any, stays buffered."""
        if len(self.buf) - self.pos < HDR_SIZE and not self.eof:
            try:
                self._append(self._recv(RECV_SIZE, socket.MSG_DONTWAIT))
            except BlockingIOError:
                pass  # nothing from the master: carry on
        if len(self.buf) - self.pos >= HDR_SIZE and \
                self.buf[self.pos + 4] == C:
            self.pos += HDR_SIZE + U32.unpack_from(self.buf, self.pos)[0]
            return True
        return self.eof

    def send(self, parts, fd=None):
        """Sends all buffers in parts (bytes-like) with as few sendmsg calls
        as possible; fd, if given, rides on the first byte."""
        anc = []
        if fd is not None:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array('i', [fd]))]
        try:
            while parts:
                batch = parts[:IOV_MAX]
                n = self.sock.sendmsg(batch, anc)
                anc = []
                if n == sum(map(len, batch)):  # the usual case: all of it
                    parts = parts[IOV_MAX:]
                    continue
                # Drop what was sent; keep the rest of a partial send.
                i = 0
                while i < len(batch) and n >= len(batch[i]):
                    n -= len(batch[i])
                    i += 1
                parts = parts[i:]
                if n:
                    parts[0] = memoryview(parts[0])[n:]
        except OSError:
            raise LinkBroken


def data_frames(parts, block):
    """Appends D frames for block (non-empty bytes) to parts, split so no
    payload exceeds DATA_CHUNK; big blocks are sliced, never copied."""
    n = len(block)
    if n <= DATA_CHUNK:
        parts.append(HDR.pack(n, D))
        parts.append(block)
        return
    mv = memoryview(block)
    for i in range(0, n, DATA_CHUNK):
        chunk = mv[i:i + DATA_CHUNK]
        parts.append(HDR.pack(len(chunk), D))
        parts.append(chunk)


def error_frame(text):
    """An X frame (or the error text of Y) must fit MAX_PAYLOAD; keep the
    end of a huge traceback, where the exception is."""
    data = text.encode('utf-8', 'backslashreplace')
    if len(data) > MAX_PAYLOAD - 64:
        tail = data[-(MAX_PAYLOAD - 128):].decode('utf-8', 'ignore')
        data = b'[traceback truncated]\n' + tail.encode('utf-8')
    return [HDR.pack(len(data), X), data]


# ---------------------------------------------------------------- handshake

def handshake(link, ok, error, django=None):
    """Reads V, checks the vector, answers Y (with the `django` dict of
    gonicorn_django.report, if any). Reports whether the link is ready for
    requests."""
    frame = link.next_frame()
    if frame is None:
        return False
    kind, payload = frame
    if kind != V:
        ok, error = False, 'first frame is %r, want V' % chr(kind)
    elif ok:
        try:
            got = marshal.loads(payload)
        except Exception as e:
            got = e
        if got != VECTOR:
            ok = False
            error = ('this Python decodes the wire vector differently; its '
                     'marshal format is not supported\nwant %a\ngot  %a'
                     % (VECTOR, got))
    if error:
        error = error.encode('utf-8', 'backslashreplace')[-(MAX_PAYLOAD // 2):]
        error = error.decode('utf-8', 'replace')
    ready = {'pid': os.getpid(), 'python': python_version(), 'ok': ok,
             'error': error}
    if ok and django is not None:
        ready['django'] = django
    ready = marshal.dumps(ready, 2)
    link.send([HDR.pack(len(ready), Y), ready])
    return ok


def python_version():
    impl = sys.implementation.name
    v = '%s %d.%d.%d' % ((impl,) + tuple(sys.version_info[:3]))
    if hasattr(sys, '_is_gil_enabled') and not sys._is_gil_enabled():
        v += ' free-threading'
    return v
