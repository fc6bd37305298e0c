package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/events"
)

// heartbeat is how often an idle event stream sends a comment, so that
// proxies keep it open and a dead client is noticed.
const heartbeat = 15 * time.Second

// eventName returns the type field of an encoded event ("message" when
// it has none).
func eventName(data []byte) string {
	var t struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &t) == nil && t.Type != "" {
		return t.Type
	}
	return "message"
}

// getEvents streams bus events as Server-Sent Events: "event: TYPE" and
// "data: JSON" per event. When the client's queue overflowed, a "resync"
// event tells it to reload the status. The stream ends when the client
// goes, or when the Server closes.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	if s.opts.Bus == nil {
		return hotreload.Errorf(hotreload.CodeNotFound, "this server has no event stream")
	}
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("lifting the write deadline of an event stream: %w", err)
	}
	sub := events.Subscribe[any](s.opts.Bus)
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": hotreload events\n\n")
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	var dropped uint64
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				return nil
			}
			if d := sub.Dropped(); d != dropped {
				fmt.Fprintf(w, "event: resync\ndata: {\"dropped\":%d}\n\n", d-dropped)
				dropped = d
			}
			data, err := s.encode(ev)
			if err != nil {
				s.log.Error("encoding an event for the event stream", "err", err)
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", eventName(data), data)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// trace keeps the last events of the bus for the dev event trace.
type trace struct {
	sub  *events.Subscription[any]
	done chan struct{}

	mu   sync.Mutex
	ring []traced
	next int
	size int
}

type traced struct {
	Received time.Time `json:"received"`
	Type     string    `json:"type"`
	Event    any       `json:"event"`
}

func newTrace(bus *events.Bus, size int) *trace {
	t := &trace{done: make(chan struct{}), size: size}
	if bus == nil {
		close(t.done)
		return t
	}
	t.sub = events.Subscribe[any](bus, events.Buffer(size))
	go t.run()
	return t
}

func (t *trace) run() {
	defer close(t.done)
	for ev := range t.sub.C() {
		t.mu.Lock()
		name := "message"
		if data, err := json.Marshal(ev); err == nil {
			name = eventName(data)
		}
		e := traced{Received: time.Now().UTC(), Type: name, Event: ev}
		if len(t.ring) < t.size {
			t.ring = append(t.ring, e)
		} else {
			t.ring[t.next] = e
		}
		t.next = (t.next + 1) % t.size
		t.mu.Unlock()
	}
}

// events returns the kept events, oldest first.
func (t *trace) events() []traced {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ring) < t.size {
		return append([]traced{}, t.ring...)
	}
	return append(append([]traced{}, t.ring[t.next:]...), t.ring[:t.next]...)
}

func (t *trace) close() {
	if t.sub != nil {
		t.sub.Close()
	}
	<-t.done
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	s.writeJSON(w, http.StatusOK, map[string]any{"events": s.trace.events()})
	return nil
}
