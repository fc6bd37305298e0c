package alert

import "time"

// window holds the values observed over the last span, exactly: a value
// added at t is held while now < t+span.
type window struct {
	span    time.Duration
	entries []entry // oldest first
	sum     float64
}

type entry struct {
	at time.Time
	v  float64
}

// add records v at time at, which must not be before the last add.
func (w *window) add(at time.Time, v float64) {
	w.entries = append(w.entries, entry{at, v})
	w.sum += v
}

// expire drops the values whose time has passed at now.
func (w *window) expire(now time.Time) {
	i := 0
	for i < len(w.entries) && !now.Before(w.entries[i].at.Add(w.span)) {
		w.sum -= w.entries[i].v
		i++
	}
	if i == len(w.entries) {
		w.entries, w.sum = w.entries[:0], 0 // also clears float drift
		return
	}
	w.entries = w.entries[i:]
}

// max returns the largest value held, 0 when empty.
func (w *window) max() float64 {
	m := 0.0
	for _, e := range w.entries {
		m = max(m, e.v)
	}
	return m
}

// next returns when the oldest value expires.
func (w *window) next() (time.Time, bool) {
	if len(w.entries) == 0 {
		return time.Time{}, false
	}
	return w.entries[0].at.Add(w.span), true
}
