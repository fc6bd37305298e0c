package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/ws"
)

// inbound parses what a client sends, from the bytes read so far, without
// blocking: whoever reads the socket (the poller, or a goroutine where
// there is none) feeds it. It keeps only what does not yet form a whole
// frame, at most one frame's header and readLimit bytes.
type inbound struct {
	buf  []byte // bytes of an incomplete frame; nil when there are none
	msg  []byte // fragments of the message so far
	frag bool   // inside a fragmented message
}

// feed parses data after the bytes kept from before. It calls onMessage
// with every whole data message (the slice is valid during the call only)
// and onPing for every ping, and returns peerClosed at a close frame, a
// wireError at a frame that breaks RFC 6455 or readLimit; it parses no
// further then.
func (in *inbound) feed(data []byte, onMessage func([]byte), onPing func()) error {
	if len(in.buf) > 0 {
		in.buf = append(in.buf, data...)
		data = in.buf
	}
	for len(data) > 0 {
		h, err := ws.ReadHeader(bytes.NewReader(data))
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break // the header is not all there yet
		}
		if err != nil {
			return wireError{closeWireError, err}
		}
		state := ws.StateServerSide
		if in.frag {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return wireError{closeWireError, err}
		}
		if !h.OpCode.IsControl() && int64(len(in.msg))+h.Length > readLimit {
			return wireError{closeMessageSize, fmt.Errorf("a message over %d bytes", readLimit)}
		}
		n := int64(ws.HeaderSize(h))
		if int64(len(data)) < n+h.Length {
			break // the payload is not all there yet
		}
		payload := data[n : n+h.Length]
		data = data[n+h.Length:]
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			onPing()
		case ws.OpPong:
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameDataUnsafe(payload)
			if code.Empty() {
				code = closeNormal
			}
			return peerClosed{code}
		default:
			if !h.Fin {
				in.msg, in.frag = append(in.msg, payload...), true
				continue
			}
			if in.frag {
				payload = append(in.msg, payload...)
				in.msg, in.frag = nil, false
			}
			onMessage(payload)
		}
	}
	// Keep the rest (in a buffer of its own: data may be the reader's).
	if len(data) == 0 {
		in.buf = nil
	} else {
		in.buf = append([]byte(nil), data...)
	}
	return nil
}
