package ui

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// socketBuffer is the size of each socket's read and write buffer. Hub
// messages are a few hundred bytes; a larger one (a welcome listing a big
// folder) is written in more than one system call. net/http hands a
// hijacked connection 4 KiB buffers each way, which coder/websocket keeps for
// the life of the socket: the dominant cost of an idle client.
const socketBuffer = 1024

// smallBuffers gives coder/websocket's Accept a hijacked connection with
// socketBuffer-sized buffers instead of net/http's.
type smallBuffers struct {
	http.ResponseWriter
}

// Unwrap lets http.ResponseController reach the original writer.
func (s smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack hijacks the connection and moves any bytes net/http already read
// into the new, smaller read buffer.
func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	n := brw.Reader.Buffered()
	if n > socketBuffer {
		return conn, brw, nil
	}
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), socketBuffer)
	if n > 0 {
		// Accept re-reads what is buffered: put the early bytes there.
		if _, err := br.Peek(n); err != nil {
			return conn, brw, nil
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, socketBuffer)), nil
}
